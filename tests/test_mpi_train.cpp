// Data-parallel training under mpirun (GENREKIT_MPI): one rank is bit-for-bit the plain run,
// 2 and 4 ranks (oversubscribed on localhost) train the same model within a stated tolerance,
// and the bad cases end every rank with one clear message: a rank killed mid-run, an error on
// one rank alone, and a launch the build cannot honour. Skipped, saying why, without MPI.
#include <gtest/gtest.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unistd.h>

#include "genrekit/distributed.hpp"
#include "genrekit/synth.hpp"
#include "nn_test_data.hpp"
#include "support.hpp"

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

fs::path tmp(const std::string& name) { return gktest::scratch_dir("mpi", name); }

// Why the MPI runs cannot happen here ("" when they can).
std::string no_mpi_reason() {
    if (!genrekit::dist::built_with_mpi()) return "built without MPI (GENREKIT_MPI=OFF; install libopenmpi-dev and reconfigure)";
    if (std::system("command -v mpirun >/dev/null 2>&1") != 0) return "mpirun is not on PATH (install openmpi-bin)";
    return "";
}

#define REQUIRE_MPI()                                                  \
    if (const std::string why = no_mpi_reason(); !why.empty()) GTEST_SKIP() << why

// mpirun with P ranks on localhost, as root too; a sanitizer build must not fail on MPI's own leaks.
std::string mpirun(int P) {
    return "mpirun --allow-run-as-root --oversubscribe -np " + std::to_string(P) + " -x ASAN_OPTIONS=detect_leaks=0 " + GENREKIT_BINARY;
}

std::string slurp(const fs::path& p) {
    std::ifstream f(p, std::ios::binary);
    std::stringstream s;
    s << f.rdbuf();
    return s.str();
}

std::vector<double> loss_curve(const fs::path& log) {
    std::istringstream in(slurp(log));
    std::string line;
    std::vector<double> loss;
    std::getline(in, line);  // header: epoch,loss,...
    while (std::getline(in, line)) loss.push_back(std::stod(line.substr(line.find(',') + 1)));
    return loss;
}

json metrics_of(const std::string& out) {
    const auto at = out.find("metrics: ");
    return at == std::string::npos ? json() : json::parse(out.substr(at + 9, out.find('\n', at) - at - 9));
}

// A feature CSV of 4 overlapping classes, 3 segment rows per track (so tracks are dealt whole).
fs::path feature_config(const fs::path& dir, int epochs) {
    std::ofstream(dir / "blobs.csv") << gktest::blobs_csv(4, 40, 11, 3);
    json j = json::parse(R"({
      "model": {"layers": [{"type": "dense", "units": 32}, {"type": "relu"}, {"type": "dropout", "rate": 0.2}, {"type": "dense"}]},
      "optimizer": {"type": "adam", "lr": 0.003}, "batch_size": 16, "seed": 5, "threads": 1,
      "split": {"kind": "random", "valid": 0.2, "test": 0.2, "seed": 3},
      "checkpoint": {"keep_best": true, "monitor": "val_loss"}})");
    j["epochs"] = epochs;
    j["data"] = {{"csv", (dir / "blobs.csv").string()}};
    std::ofstream(dir / "mlp.json") << j.dump();
    return dir / "mlp.json";
}

// Generated audio of 4 styles and a small BatchNorm CNN with augmentation and mixup.
fs::path cnn_config(const fs::path& dir) {
    genrekit::SynthParams sp;
    sp.clips_per_class = 6;
    sp.seconds = 3.0;
    if (!fs::exists(dir / "audio")) genrekit::write_synth_dataset((dir / "audio").string(), sp);
    json j = json::parse(R"({
      "front_end": {"kind": "spectrogram", "n_mels": 32, "n_fft": 512, "hop": 256, "segment": 1.0, "segment_hop": 0.5},
      "split": {"kind": "random", "valid": 0.25, "test": 0.25, "seed": 3},
      "model": {"layers": [
        {"type": "conv2d", "channels": 8, "kernel": 3, "padding": 1}, {"type": "batchnorm"}, {"type": "relu"},
        {"type": "maxpool2d", "size": 2}, {"type": "global_avg_pool"}, {"type": "dense"}]},
      "optimizer": {"type": "adam", "lr": 0.01},
      "augment": {"time_shift": 4, "time_masks": 1, "time_mask_frames": 8, "mixup_alpha": 0.2},
      "batch_size": 16, "epochs": 6, "seed": 1, "threads": 1})");
    j["data"] = {{"audio", json::array({(dir / "audio").string()})}, {"cache_dir", (dir / "cache").string()}};
    std::ofstream(dir / "cnn.json") << j.dump();
    return dir / "cnn.json";
}

}  // namespace

// One rank under mpirun is the plain run, to the bit: the model file and the epoch losses.
TEST(MpiTrain, OneRankIsBitForBitThePlainRun) {
    REQUIRE_MPI();
    const auto dir = tmp("one");
    for (const fs::path& cfg : {feature_config(dir, 15), cnn_config(dir)}) {
        const std::string name = cfg.stem().string();
        const auto plain = gktest::run_genrekit("train --quiet --config " + cfg.string() + " --out " + (dir / (name + "_plain.st")).string());
        ASSERT_EQ(plain.code, 0) << plain.err;
        const auto one = gktest::run_command(mpirun(1) + " train --quiet --config " + cfg.string() + " --out " + (dir / (name + "_mpi1.st")).string());
        ASSERT_EQ(one.code, 0) << one.err;
        EXPECT_EQ(slurp(dir / (name + "_plain.st")), slurp(dir / (name + "_mpi1.st"))) << name << ": the model files differ";
        EXPECT_EQ(loss_curve(dir / (name + "_plain.st.log.csv")), loss_curve(dir / (name + "_mpi1.st.log.csv")));
        EXPECT_EQ(metrics_of(plain.out), metrics_of(one.out));
    }
}

// P = 2 and 4 draw other batches (each rank shuffles its own share) and other dropout masks, so
// their curves differ from the plain run as another seed's would. Tolerance, from the spread of
// plain runs over seeds on this data: every epoch's training loss within 0.25 (loss + 0.05) of
// the plain run's, the final test accuracy within 0.10 and the test loss within 0.25 (loss + 0.05).
TEST(MpiTrain, TwoAndFourRanksMatchThePlainRunWithinTolerance) {
    REQUIRE_MPI();
    const auto dir = tmp("many");
    const fs::path cfg = feature_config(dir, 40);
    const auto plain = gktest::run_genrekit("train --quiet --config " + cfg.string() + " --out " + (dir / "plain.st").string());
    ASSERT_EQ(plain.code, 0) << plain.err;
    const auto base = loss_curve(dir / "plain.st.log.csv");
    const json bm = metrics_of(plain.out);
    for (int P : {2, 4}) {
        const fs::path out = dir / ("p" + std::to_string(P) + ".st");
        const auto r = gktest::run_command(mpirun(P) + " train --quiet --config " + cfg.string() + " --out " + out.string());
        ASSERT_EQ(r.code, 0) << r.err;
        const auto curve = loss_curve(out.string() + ".log.csv");
        ASSERT_EQ(curve.size(), base.size());
        double worst = 0;
        std::size_t at = 0;
        for (std::size_t e = 0; e < base.size(); ++e)
            if (const double rel = std::abs(curve[e] - base[e]) / (base[e] + 0.05); rel > worst) {
                worst = rel;
                at = e + 1;
            }
        const json m = metrics_of(r.out);
        const double dacc = std::abs(m["test"]["accuracy"].get<double>() - bm["test"]["accuracy"].get<double>());
        const double tl = bm["test"]["loss"].get<double>(), dloss = std::abs(m["test"]["loss"].get<double>() - tl) / (tl + 0.05);
        std::cout << "[P=" << P << "] worst epoch loss |diff| / (plain + 0.05) " << worst << " at epoch " << at << " (tolerance 0.25); test accuracy "
                  << m["test"]["accuracy"] << " vs " << bm["test"]["accuracy"] << " (tolerance 0.10); test loss " << m["test"]["loss"] << " vs " << tl
                  << " (relative " << dloss << ", tolerance 0.25)\n";
        EXPECT_LE(worst, 0.25);
        EXPECT_LE(dacc, 0.10);
        EXPECT_LE(dloss, 0.25);
        // Every rank scored its share; the metrics count every item once.
        EXPECT_EQ(m["test"]["rows"], bm["test"]["rows"]);
        EXPECT_EQ(m["train"]["tracks"], bm["train"]["tracks"]);
        EXPECT_EQ(r.out.find("metrics: "), r.out.rfind("metrics: ")) << "only rank 0 speaks";
    }
}

// A rank killed mid-run: mpirun ends the others within seconds, and no model file appears.
TEST(MpiTrain, ARankThatDiesEndsEveryRankAndWritesNoModel) {
    REQUIRE_MPI();
    const auto dir = tmp("kill");
    const fs::path cfg = feature_config(dir, 100000), model = dir / "m.st", log = dir / "out.txt";
    const std::string script = mpirun(2) + " train --config " + cfg.string() + " --out " + model.string() + " >" + log.string() +
                               " 2>&1 & mp=$!\n"
                               "for i in $(seq 300); do grep -q 'epoch    3 ' " + log.string() + " && break; sleep 0.1; done\n"
                               "for c in $(pgrep -P $mp); do tr '\\0' '\\n' </proc/$c/environ | grep -qx OMPI_COMM_WORLD_RANK=1 && kill -9 $c; done\n"
                               "t0=$(date +%s%N); for i in $(seq 300); do kill -0 $mp 2>/dev/null || break; sleep 0.1; done\n"
                               "if kill -0 $mp 2>/dev/null; then kill $mp; echo hung; fi\n"
                               "wait $mp; echo \"rc=$? ms=$(( ($(date +%s%N) - t0) / 1000000 ))\"\n";
    std::ofstream(dir / "kill.sh") << script;
    const auto r = gktest::run_command("bash " + (dir / "kill.sh").string());
    std::cout << "[kill] " << r.out;
    EXPECT_EQ(r.out.find("hung"), std::string::npos) << slurp(log);
    EXPECT_EQ(r.out.find("rc=0 "), std::string::npos);
    const auto ms = r.out.find("ms=");
    ASSERT_NE(ms, std::string::npos);
    EXPECT_LT(std::stol(r.out.substr(ms + 3)), 10000) << "the surviving rank took too long to end";
    EXPECT_FALSE(fs::exists(model));
}

// An error on one rank alone (a bad file in its share): one line naming the file, a non-zero
// exit, no model, and no rank left waiting in a collective.
TEST(MpiTrain, AnErrorOnOneRankIsOneClearMessage) {
    REQUIRE_MPI();
    const auto dir = tmp("bad");
    const fs::path cfg = cnn_config(dir), model = dir / "m.st";
    std::ofstream(dir / "audio" / "ambient" / "ambient.00000b.wav") << "not audio";  // the 2nd item: rank 1's
    const auto t0 = std::chrono::steady_clock::now();
    const auto r = gktest::run_command("timeout 60 " + mpirun(2) + " train --config " + cfg.string() + " --out " + model.string());
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    std::cout << "[bad file] exit " << r.code << " after " << s << " s; stderr:\n" << r.err;
    EXPECT_NE(r.code, 0);
    EXPECT_NE(r.code, 124) << "timed out: a rank hung";
    const std::string line = "ambient.00000b.wav";
    ASSERT_NE(r.err.find(line), std::string::npos);
    EXPECT_EQ(r.err.find(line), r.err.rfind(line)) << "the message appears once";
    EXPECT_NE(r.err.find("(rank 1)"), std::string::npos);
    EXPECT_FALSE(fs::exists(model));
    fs::remove(dir / "audio" / "ambient" / "ambient.00000b.wav");
}

// Started by a launcher with several processes, a command that cannot share the work refuses
// with one line instead of running P copies; the same for every command in a build without MPI.
TEST(MpiTrain, SeveralProcessesWithoutMpiOrForAnotherCommandRefuse) {
    const auto r = gktest::run_command("PMI_SIZE=3 PMI_RANK=0 " + std::string(GENREKIT_BINARY) + " info");
    EXPECT_EQ(r.code, 2);
    EXPECT_NE(r.err.find("started by mpirun with 3 processes"), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1);
    const auto quiet = gktest::run_command("PMI_SIZE=3 PMI_RANK=2 " + std::string(GENREKIT_BINARY) + " info");
    EXPECT_EQ(quiet.code, 2);
    EXPECT_EQ(quiet.err, "") << "only rank 0 says it";
    if (!genrekit::dist::built_with_mpi()) {
        const auto dir = tmp("refuse");
        const auto t = gktest::run_command("OMPI_COMM_WORLD_SIZE=2 OMPI_COMM_WORLD_RANK=0 " + std::string(GENREKIT_BINARY) + " train --config " +
                                           feature_config(dir, 2).string() + " --out " + (dir / "m.st").string());
        EXPECT_EQ(t.code, 2);
        EXPECT_NE(t.err.find("this build has no MPI"), std::string::npos) << t.err;
        EXPECT_FALSE(fs::exists(dir / "m.st"));
    } else if (no_mpi_reason().empty()) {
        const auto m = gktest::run_command(mpirun(2) + " info");
        EXPECT_EQ(m.code, 2);
        EXPECT_NE(m.err.find("only `genrekit train` runs on several processes"), std::string::npos) << m.err;
    }
}
