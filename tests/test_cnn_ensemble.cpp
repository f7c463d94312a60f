// Ensembles of spectrogram CNNs: snapshot ensembles from one run ("ensemble": {"checkpoints": C})
// keep the C best epochs by checkpoint.monitor when there is a validation set, else the last C;
// seeds multiply with checkpoints (K x C members, seed by seed); the model's probabilities are the
// mean of its members' (checked here against each member's own forward pass, and through
// `genrekit predict`); the same config gives the same model bytes; config errors name the key.
// Every run is tiny: 4 generated styles x 4 clips of 2 s, one 4-channel conv layer.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <unistd.h>

#include "genrekit/atomic_file.hpp"
#include "genrekit/metrics.hpp"
#include "genrekit/train.hpp"
#include "genrekit/error.hpp"
#include "genrekit/nn/loss.hpp"
#include "genrekit/synth.hpp"
#include "support.hpp"

using namespace genrekit;
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

class CnnEnsemble : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        dir_ = fs::temp_directory_path() / ("genrekit_cnn_ensemble_" + std::to_string(::getpid()));
        fs::create_directories(dir_);
        SynthParams sp;
        sp.clips_per_class = 4;
        sp.seconds = 2.0;
        write_synth_dataset((dir_ / "audio").string(), sp);
    }
    static void TearDownTestSuite() { fs::remove_all(dir_); }

    // valid: fraction of tracks for validation (0: none). The learning rate is high on purpose so
    // that the validation metric moves around between epochs instead of improving monotonically.
    static json config(double valid, int epochs, const json& ensemble) {
        json j = json::parse(R"({
          "front_end": {"kind": "spectrogram", "n_mels": 16, "n_fft": 512, "hop": 256, "segment": 1.0, "segment_hop": 0.5},
          "model": {"layers": [
            {"type": "conv2d", "channels": 4, "kernel": 3, "padding": 1}, {"type": "batchnorm"}, {"type": "relu"},
            {"type": "maxpool2d", "size": 2}, {"type": "global_avg_pool"}, {"type": "dense"}]},
          "optimizer": {"type": "adam", "lr": 0.05}, "batch_size": 8, "seed": 5, "threads": 2
        })");
        j["data"] = {{"audio", json::array({(dir_ / "audio").string()})}, {"cache_dir", (dir_ / "cache").string()}};
        j["split"] = {{"kind", "random"}, {"valid", valid}, {"test", 0.25}, {"seed", 1}};
        j["epochs"] = epochs;
        if (!ensemble.is_null()) j["ensemble"] = ensemble;
        return j;
    }
    static TrainResult run(const json& j) { return train(parse_train_config(j, "test")); }

    static fs::path dir_;
};
fs::path CnnEnsemble::dir_;

std::vector<float> params_of(Model& m, int k) { return m.network(k).snapshot(); }  // with the BatchNorm statistics

// Exact equality of two parameter vectors (the same seeded computation: tolerance 0); reports the
// worst difference.
void expect_same_params(const std::vector<float>& got, const std::vector<float>& want, const std::string& what) {
    ASSERT_EQ(got.size(), want.size()) << what;
    double worst = 0;
    std::size_t at = 0;
    for (std::size_t i = 0; i < got.size(); ++i) {
        const double d = std::abs(static_cast<double>(got[i]) - static_cast<double>(want[i]));
        if (d > worst || std::isnan(d)) worst = d, at = i;
    }
    EXPECT_EQ(worst, 0.0) << what << ": worst |difference| " << worst << " at parameter " << at << " of " << got.size() << " (tolerance 0)";
}

std::vector<int> kept_epochs(const TrainResult& r, int seed_index) {
    return r.metrics.at("ensemble").at("kept_epochs").at(static_cast<std::size_t>(seed_index)).get<std::vector<int>>();
}

using gktest::expect_error;

}  // namespace

TEST_F(CnnEnsemble, WithoutValidationTheLastEpochsAreKeptNewestFirst) {
    TrainResult r = run(config(0, 4, {{"checkpoints", 3}}));
    Model& m = r.model;
    ASSERT_EQ(m.members(), 3);
    EXPECT_EQ(kept_epochs(r, 0), (std::vector<int>{4, 3, 2}));
    EXPECT_EQ(r.metrics["ensemble"]["kept_by"], "last");
    // A single model trained for 4 (2) epochs is snapshot 0 (2): the same seeded computation.
    TrainResult four = run(config(0, 4, nullptr)), two = run(config(0, 2, nullptr));
    EXPECT_EQ(four.model.members(), 1);
    expect_same_params(params_of(m, 0), params_of(four.model, 0), "member 0 vs a 4-epoch run");
    expect_same_params(params_of(m, 2), params_of(two.model, 0), "member 2 vs a 2-epoch run");
    // The snapshots differ from each other (else averaging them would be trivially right).
    EXPECT_NE(params_of(m, 0), params_of(m, 1));
}

TEST_F(CnnEnsemble, WithValidationTheBestEpochsByTheMonitorAreKept) {
    for (const std::string monitor : {"val_loss", "val_acc"}) {
        SCOPED_TRACE(monitor);
        json j = config(0.25, 6, {{"checkpoints", 3}});
        j["checkpoint"] = {{"monitor", monitor}};  // keep_best stays false: checkpoints > 1 ranks by the monitor anyway
        TrainResult r = run(j);
        ASSERT_EQ(r.model.members(), 3);
        ASSERT_EQ(r.history.size(), 6u);
        // Expected: the epochs sorted best first by the monitor, ties to the earlier epoch.
        std::vector<int> order{1, 2, 3, 4, 5, 6};
        std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
            const auto& ea = r.history[static_cast<std::size_t>(a - 1)];
            const auto& eb = r.history[static_cast<std::size_t>(b - 1)];
            return monitor == "val_acc" ? ea.val_acc > eb.val_acc : ea.val_loss < eb.val_loss;
        });
        order.resize(3);
        std::string hist;
        for (const auto& e : r.history) hist += " " + std::to_string(e.epoch) + ":" + std::to_string(monitor == "val_acc" ? e.val_acc : e.val_loss);
        EXPECT_EQ(kept_epochs(r, 0), order) << "history" << hist;
        std::cout << "[" << monitor << "] history" << hist << "; kept " << json(kept_epochs(r, 0)).dump() << "\n";
        EXPECT_EQ(r.metrics["best_epoch"], order[0]);
        // Snapshot 0 is what checkpoint.keep_best keeps; snapshot 2 is the state after its epoch.
        json best = config(0.25, 6, nullptr);
        best["checkpoint"] = {{"keep_best", true}, {"monitor", monitor}};
        TrainResult rb = run(best);
        expect_same_params(params_of(r.model, 0), params_of(rb.model, 0), "member 0 vs keep_best");
        TrainResult r3 = run(config(0.25, order[2], nullptr));
        expect_same_params(params_of(r.model, 2), params_of(r3.model, 0),
                           "member 2 vs a run of " + std::to_string(order[2]) + " epochs");
    }
}

TEST_F(CnnEnsemble, SeedsTimesCheckpointsAreStoredSeedBySeed) {
    TrainResult r = run(config(0, 2, {{"members", 2}, {"checkpoints", 2}}));
    ASSERT_EQ(r.model.members(), 4);
    EXPECT_EQ(r.metrics["ensemble"]["networks"], 4);
    EXPECT_EQ(kept_epochs(r, 0), (std::vector<int>{2, 1}));
    EXPECT_EQ(kept_epochs(r, 1), (std::vector<int>{2, 1}));
    // Member 2 is seed 5 + 1 after 2 epochs.
    json j = config(0, 2, nullptr);
    j["seed"] = 6;
    TrainResult s6 = run(j);
    expect_same_params(params_of(r.model, 2), params_of(s6.model, 0), "member 2 vs seed 6");
}

TEST_F(CnnEnsemble, ProbabilitiesAreTheMeanOfTheMembersAndTheBytesAreReproducible) {
    const json j = config(0.25, 4, {{"checkpoints", 3}});
    const std::string a = (dir_ / "a.safetensors").string(), b = (dir_ / "b.safetensors").string();
    run(j).model.save(a);
    run(j).model.save(b);
    EXPECT_TRUE(read_file(a, true) == read_file(b, true)) << "the same config and data give different model bytes";

    Model m = Model::load(a);
    ASSERT_EQ(m.members(), 3);
    const std::string song = (dir_ / "audio" / "folk" / "folk.00001.wav").string();
    const TrackSpectrograms t = compute_spectrograms(song, m.params());
    const std::int64_t F = m.params().bands() * m.params().frames(), K = static_cast<std::int64_t>(m.labels().size());
    // Each member on its own: standardize the non-silent segments, forward, softmax, mean over segments.
    std::vector<float> x;
    std::int64_t n = 0;
    for (std::size_t s = 0; s < t.size(); ++s) {
        if (t.silent[s]) continue;
        x.insert(x.end(), t.data(s), t.data(s) + F);
        m.standardizer().apply(x.data() + n * F, m.params().frames());
        ++n;
    }
    ASSERT_GT(n, 0);
    std::vector<double> mean(static_cast<std::size_t>(K), 0.0);
    std::vector<std::vector<double>> member(3, std::vector<double>(static_cast<std::size_t>(K), 0.0));
    for (int k = 0; k < 3; ++k) {
        auto logits = m.network(k).forward(nn::CMatView<float>(x.data(), F, n), {});
        nn::Mat<float> p(K, n);
        nn::softmax<float>(logits, nn::MatView<float>(p.data(), K, n));
        for (std::int64_t c = 0; c < K; ++c) {
            for (std::int64_t i = 0; i < n; ++i) member[static_cast<std::size_t>(k)][static_cast<std::size_t>(c)] += p(c, i) / static_cast<double>(n);
        }
        for (std::int64_t c = 0; c < K; ++c) mean[static_cast<std::size_t>(c)] += member[static_cast<std::size_t>(k)][static_cast<std::size_t>(c)] / 3.0;
    }
    double spread = 0;  // the members must disagree somewhat for the comparison to mean anything
    for (std::int64_t c = 0; c < K; ++c)
        spread = std::max(spread, std::abs(member[0][static_cast<std::size_t>(c)] - member[2][static_cast<std::size_t>(c)]));
    EXPECT_GT(spread, 1e-4) << "members 0 and 2 give the same probabilities";

    // float32 network outputs summed in a different order: tolerance 1e-6 absolute.
    const double tol = 1e-6;
    auto check = [&](const std::vector<double>& got, const std::string& what) {
        ASSERT_EQ(got.size(), mean.size()) << what;
        double worst = 0;
        for (std::size_t c = 0; c < got.size(); ++c) worst = std::max(worst, std::abs(got[c] - mean[c]));
        std::cout << "[mean of members] " << what << ": worst |difference| " << worst << " (tolerance " << tol << ")\n";
        EXPECT_LE(worst, tol) << what << ": worst |difference| " << worst;
    };
    check(m.predict(t).proba, "Model::predict");
    const gktest::CliResult r = gktest::run_genrekit("predict --json --model " + a + " " + song);
    ASSERT_EQ(r.code, 0) << r.err;
    const json p = json::parse(r.out);
    std::vector<double> cli;
    for (const auto& l : m.labels()) cli.push_back(p["probabilities"][l].get<double>());
    check(cli, "genrekit predict --json");
}

TEST_F(CnnEnsemble, ConfigErrorsNameTheKey) {
    auto error_of = [&](const json& ensemble, int epochs = 4) { return expect_error([&] { parse_train_config(config(0, epochs, ensemble), "cfg.json"); }); };
    EXPECT_NE(error_of({{"snapshots", 3}}).find("cfg.json: unknown key 'ensemble.snapshots' (known: members, checkpoints)"), std::string::npos);
    EXPECT_NE(error_of({{"checkpoints", "3"}}).find("cfg.json: ensemble.checkpoints must be an integer in [1, 32]"), std::string::npos);
    EXPECT_NE(error_of({{"checkpoints", 0}}).find("ensemble.checkpoints must be an integer in [1, 32]"), std::string::npos);
    EXPECT_NE(error_of({{"checkpoints", 2.5}}).find("ensemble.checkpoints must be an integer in [1, 32]"), std::string::npos);
    EXPECT_NE(error_of({{"members", 0}}).find("ensemble.members must be an integer in [1, 32]"), std::string::npos);
    EXPECT_NE(error_of({{"members", 8}, {"checkpoints", 5}}).find("ensemble.members x ensemble.checkpoints is 40 networks; at most 32"), std::string::npos);
    EXPECT_NE(error_of({{"checkpoints", 5}}, 4).find("ensemble.checkpoints (5) exceeds epochs (4)"), std::string::npos);
    EXPECT_NE(error_of(json(3)).find("cfg.json: ensemble must be an object"), std::string::npos);
    // --set reaches the key, with the same checks.
    EXPECT_EQ(parse_train_config(config(0, 4, nullptr), "cfg.json", {"ensemble.checkpoints=4"}).ensemble.checkpoints, 4);
    EXPECT_NE(expect_error([&] { parse_train_config(config(0, 4, nullptr), "cfg.json", {"ensemble.checkpoints=9"}); }).find("exceeds epochs (4)"),
              std::string::npos);
    // The seed FMA config is the student project's ensemble of 5 checkpoints.
    const TrainConfig fma = load_train_config(gktest::source_dir() + "/configs/seed_fma_cnn_mfcc.json");
    EXPECT_EQ(fma.ensemble.checkpoints, 5);
    EXPECT_EQ(fma.ensemble.members, 1);
    // ... trained as it was: batch 5, RMSProp, L2 1e-3 on every conv layer.
    EXPECT_EQ(fma.batch_size, 5);
    EXPECT_EQ(fma.optimizer.type, "rmsprop");
    int l2_layers = 0;
    for (double l2 : fma.l2) l2_layers += l2 == 1e-3;
    EXPECT_EQ(l2_layers, 7);
}
