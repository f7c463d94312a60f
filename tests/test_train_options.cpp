// The training options every model kind has: seed and snapshot ensembles, mixup, label
// smoothing and per-layer L2 on a feature model (the spectrogram side is in test_cnn_*.cpp),
// and augmentation that only spectrograms have.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <unistd.h>

#include "genrekit/error.hpp"
#include "genrekit/nn/loss.hpp"
#include "genrekit/train.hpp"
#include "nn_test_data.hpp"
#include "support.hpp"

using namespace genrekit;
using json = nlohmann::json;

namespace {

TrainConfig config(const json& extra = json::object()) {
    json j = json::parse(R"({"model": {"layers": [{"type": "dense", "units": 16}, {"type": "relu"}, {"type": "dense"}]},
                             "optimizer": {"type": "adam", "lr": 0.01}, "batch_size": 8, "epochs": 5, "seed": 7,
                             "split": {"kind": "random", "valid": 0.25, "seed": 3}})");
    j.merge_patch(extra);
    return parse_train_config(j, "test");
}

const FeatureTable& table() {
    static const FeatureTable t = parse_feature_csv(gktest::blobs_csv(), "blobs.csv");
    return t;
}

std::vector<float> params(const Model& m, int k = 0) { return {m.network(k).params(), m.network(k).params() + m.network(k).num_params()}; }

}  // namespace

TEST(TrainOptions, FeatureModelEnsemblesAverageTheirMembers) {
    const TrainResult r = train(config({{"ensemble", {{"members", 2}, {"checkpoints", 2}}}}), table());
    ASSERT_EQ(r.model.members(), 4);
    EXPECT_EQ(r.metrics["ensemble"]["kept_epochs"].size(), 2u);
    EXPECT_EQ(r.metrics["ensemble"]["kept_by"], "val_loss");
    // Seeds differ, and each seed's two snapshots differ.
    EXPECT_NE(params(r.model, 0), params(r.model, 2));
    EXPECT_NE(params(r.model, 0), params(r.model, 1));
    // The model's probabilities are the mean of its members' softmax.
    const auto& t = table();
    const Eigen::Index n = 5, F = 4, K = 3;
    nn::Mat<float> x(F, n);
    for (Eigen::Index i = 0; i < n; ++i) r.model.normalizer().apply(t.features.row(i).data(), x.col(i).data());
    Eigen::MatrixXd mean = Eigen::MatrixXd::Zero(K, n);
    nn::Mat<float> p(K, n);
    for (int k = 0; k < 4; ++k) {
        auto logits = const_cast<Model&>(r.model).network(k).forward(nn::CMatView<float>(x.data(), F, n), {});
        nn::softmax<float>(logits, nn::MatView<float>(p.data(), K, n));
        mean += p.cast<double>() / 4.0;
    }
    const RowMatrixXd got = r.model.predict_proba(t.features.topRows(n));
    const double worst = (got.transpose() - mean).cwiseAbs().maxCoeff();
    std::cout << "[ensemble] worst |model - mean of members| " << worst << " (tolerance 1e-6)\n";
    EXPECT_LE(worst, 1e-6);
    // Saved and loaded: still four members with the same probabilities.
    const std::string path = ::testing::TempDir() + "/feature_ensemble.safetensors";
    r.model.save(path);
    const Model m = Model::load(path);
    EXPECT_EQ(m.members(), 4);
    EXPECT_EQ((m.predict_proba(t.features) - r.model.predict_proba(t.features)).cwiseAbs().maxCoeff(), 0.0);
}

TEST(TrainOptions, MixupLabelSmoothingAndL2ChangeAFeatureModelReproducibly) {
    const std::vector<float> plain = params(train(config(), table()).model);
    const std::vector<std::pair<std::string, json>> options = {
        {"mixup", {{"augment", {{"mixup_alpha", 0.4}}}}},
        {"label smoothing", {{"label_smoothing", 0.1}}},
        {"l2", {{"model", {{"layers", json::parse(R"([{"type": "dense", "units": 16, "l2": 0.01}, {"type": "relu"}, {"type": "dense"}])")}}}}}};
    for (const auto& [name, extra] : options) {
        const TrainConfig c = config(extra);
        const TrainResult a = train(c, table()), b = train(c, table());
        EXPECT_NE(params(a.model), plain) << name << " had no effect";
        EXPECT_EQ(params(a.model), params(b.model)) << name << " is not reproducible";
        EXPECT_TRUE(std::isfinite(a.history.back().loss)) << name;
    }
    // The stored config says which options were used.
    const TrainConfig l2 = config(options[2].second);
    EXPECT_EQ(l2.l2, (std::vector<double>{0.01, 0, 0}));
    EXPECT_EQ(train(l2, table()).model.info()["config"]["model"]["layers"][0]["l2"], 0.01);
}

TEST(TrainOptions, AugmentationIsForSpectrogramsOnly) {
    const std::string m = gktest::expect_error([] { config({{"augment", {{"time_shift", 4}}}}); });
    EXPECT_NE(m.find("work on spectrograms"), std::string::npos) << m;
    EXPECT_NE(m.find("only augment.mixup_alpha"), std::string::npos) << m;
    // Label smoothing is no longer refused for spectrogram configs.
    const TrainConfig s = parse_train_config(json::parse(R"({"front_end": {"kind": "spectrogram"}, "label_smoothing": 0.1})"), "test");
    ASSERT_TRUE(s.spectrogram.has_value());
    EXPECT_EQ(s.label_smoothing, 0.1);
}

TEST(TrainOptions, EveryShippedConfigParses) {
    int n = 0;
    for (const auto& e : std::filesystem::directory_iterator(gktest::source_dir() + "/configs")) {
        if (e.path().extension() != ".json") continue;
        const TrainConfig c = load_train_config(e.path().string());
        const bool spectro = e.path().filename().string().find("cnn") != std::string::npos;
        EXPECT_EQ(c.spectrogram.has_value(), spectro) << e.path();
        ++n;
    }
    EXPECT_GE(n, 7);
}
