// Spectrogram models through the command line, as a user runs them: `train` on a config with
// front_end.kind "spectrogram", `predict --json` with per-segment labels, `eval` on an audio
// folder (with the track-level confusion matrix as CSV and SVG), and bad input (a clip shorter than one segment, silence, a single-class folder)
// each named in one clear line with the documented exit code.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "genrekit/audio.hpp"
#include "genrekit/synth.hpp"
#include "support.hpp"

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

using gktest::CliResult;
CliResult run(const std::string& args) { return gktest::run_genrekit(args); }

class CnnCli : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        dir_ = gktest::make_synth_fixture("cnn_cli");
        const json cfg = json::parse(R"({
          "data": {"audio": ["audio"], "cache_dir": "cache"},
          "front_end": {"kind": "spectrogram", "n_mels": 32, "n_fft": 512, "hop": 256, "segment": 1.0, "segment_hop": 0.5},
          "split": {"kind": "random", "valid": 0.2, "test": 0.2, "seed": 1},
          "model": {"layers": [
            {"type": "conv2d", "channels": 8, "kernel": 3, "padding": 1}, {"type": "batchnorm"}, {"type": "relu"},
            {"type": "maxpool2d", "size": 2}, {"type": "global_avg_pool"}, {"type": "dense"}]},
          "optimizer": {"type": "adam", "lr": 0.003}, "batch_size": 16, "epochs": 5, "seed": 2, "threads": 2
        })");
        std::ofstream((dir_ / "cnn.json").string()) << cfg.dump(1);
    }
    static void TearDownTestSuite() { fs::remove_all(dir_); }
    static fs::path dir_;
};
fs::path CnnCli::dir_;

}  // namespace

TEST_F(CnnCli, TrainPredictEvalOnAudio) {
    const std::string model = (dir_ / "m.safetensors").string();
    CliResult r = run("train --quiet --config " + (dir_ / "cnn.json").string() + " --out " + model);
    ASSERT_EQ(r.code, 0) << r.out << r.err;
    EXPECT_NE(r.out.find("split: train 12, valid 4, test 4 tracks"), std::string::npos) << r.out;
    EXPECT_TRUE(fs::exists(model + ".log.csv"));

    const std::string song = (dir_ / "audio" / "rock" / "rock.00001.wav").string();
    r = run("predict --json --model " + model + " " + song);
    ASSERT_EQ(r.code, 0) << r.err;
    const json j = json::parse(r.out);
    EXPECT_EQ(j["file"], song);
    ASSERT_EQ(j["segments"].size(), 5u);  // 1 s segments every 0.5 s in 3 s
    for (const auto& s : j["segments"]) {
        EXPECT_TRUE(s["label"].is_string());
        EXPECT_GT(s["probability"].get<double>(), 0.0);
        EXPECT_DOUBLE_EQ(s["end"].get<double>() - s["start"].get<double>(), 1.0);
    }
    EXPECT_TRUE(j.contains("majority_vote"));
    ASSERT_TRUE(j["bpm"].is_number()) << "spectrogram models report the tempo too";
    EXPECT_GT(j["bpm"].get<double>(), 0.0);

    r = run("eval --model " + model + " --data " + (dir_ / "audio").string() + " --json " + (dir_ / "ev.json").string());
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.out.find("majority vote accuracy"), std::string::npos) << r.out;
    std::ifstream ev((dir_ / "ev.json").string());
    const json e = json::parse(ev);
    EXPECT_EQ(e["predictions"].size(), 20u);
}

TEST_F(CnnCli, EvalWritesTheTrackConfusionMatrixAsCsvAndSvg) {
    const std::string model = (dir_ / "m3.safetensors").string();
    ASSERT_EQ(run("train --quiet --config " + (dir_ / "cnn.json").string() + " --set epochs=1 --out " + model).code, 0);
    const fs::path out = dir_ / "cm";  // a fresh folder: after eval it must hold the two files and nothing else
    fs::create_directories(out);
    const CliResult r = run("eval --model " + model + " --data " + (dir_ / "audio").string() + " --csv " + (out / "cm.csv").string() + " --svg " +
                            (out / "cm.svg").string());
    ASSERT_EQ(r.code, 0) << r.err;
    std::vector<std::string> names;
    for (const auto& e : fs::directory_iterator(out)) names.push_back(e.path().filename().string());
    std::sort(names.begin(), names.end());
    EXPECT_EQ(names, (std::vector<std::string>{"cm.csv", "cm.svg"})) << "a temporary file was left behind, or a file is missing";

    // CSV: a header of the labels, one row per true label, and one count per TRACK (20), not per segment (100).
    std::ifstream in((out / "cm.csv").string());
    std::string line;
    ASSERT_TRUE(std::getline(in, line));
    EXPECT_EQ(line, "truth\\predicted,ambient,electronic,folk,rock");
    long total = 0;
    std::vector<std::string> rows;
    while (std::getline(in, line)) {
        std::stringstream ss(line);
        std::string cell;
        std::getline(ss, cell, ',');
        rows.push_back(cell);
        int cols = 0;
        long row_sum = 0;
        while (std::getline(ss, cell, ',')) row_sum += std::stol(cell), ++cols;
        EXPECT_EQ(cols, 4) << line;
        EXPECT_EQ(row_sum, 5) << "5 tracks per label: " << line;
        total += row_sum;
    }
    EXPECT_EQ(rows, (std::vector<std::string>{"ambient", "electronic", "folk", "rock"}));
    EXPECT_EQ(total, 20);

    std::stringstream svg;
    svg << std::ifstream((out / "cm.svg").string()).rdbuf();
    EXPECT_EQ(svg.str().rfind("<svg", 0), 0u) << svg.str().substr(0, 80);
    EXPECT_NE(svg.str().find("</svg>"), std::string::npos);
    for (const char* l : {"ambient", "electronic", "folk", "rock"}) EXPECT_NE(svg.str().find(std::string(">") + l + "<"), std::string::npos) << l;
    EXPECT_NE(svg.str().find("m3.safetensors on audio (tracks)"), std::string::npos);
}

TEST_F(CnnCli, BadInputIsOneClearLineEach) {
    const std::string model = (dir_ / "m2.safetensors").string();
    ASSERT_EQ(run("train --quiet --config " + (dir_ / "cnn.json").string() + " --set epochs=1 --out " + model).code, 0);
    genrekit::save_audio((dir_ / "short.wav").string(), std::vector<float>(11025, 0.1f), 22050);
    genrekit::save_audio((dir_ / "silent.wav").string(), std::vector<float>(44100, 0.0f), 22050);
    const std::string good = (dir_ / "audio" / "folk" / "folk.00000.wav").string();
    CliResult r = run("predict --model " + model + " " + (dir_ / "short.wav").string() + " " + (dir_ / "silent.wav").string() + " " + good);
    EXPECT_EQ(r.code, 3) << r.err;  // some files failed, the others were predicted
    EXPECT_NE(r.out.find("folk.00000.wav"), std::string::npos);
    EXPECT_NE(r.err.find("short.wav: audio is 0.5 s long, shorter than one 1 s segment"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("silent.wav: silent"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("2 file(s) could not be predicted"), std::string::npos) << r.err;

    r = run("train --quiet --config " + (dir_ / "cnn.json").string() + " --data " + (dir_ / "audio" / "rock").string() + " --out " +
            (dir_ / "x.safetensors").string());
    EXPECT_EQ(r.code, 1);
    EXPECT_NE(r.err.find("only one class ('rock')"), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(dir_ / "x.safetensors"));
}

TEST_F(CnnCli, CrossValidationByTrack) {
    const CliResult r = run("train --quiet --cv 2 --config " + (dir_ / "cnn.json").string() + " --set epochs=2");
    ASSERT_EQ(r.code, 0) << r.out << r.err;
    EXPECT_NE(r.out.find("fold 1: train 10, valid 0, test 10 tracks"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("fold 2: train 10, valid 0, test 10 tracks"), std::string::npos) << r.out;
    EXPECT_NE(r.out.find("2-fold CV track accuracy: "), std::string::npos) << r.out;
}
