// `predict` on audio: the same labels a CSV-trained model gives on the Kaggle rows
// (the point of the product), bad files reported while the rest are predicted, and
// segment models averaging their segments.
#include <gtest/gtest.h>

#include <filesystem>
#include <map>

#include "genrekit/atomic_file.hpp"
#include "genrekit/error.hpp"
#include "genrekit/predict.hpp"
#include "genrekit/synth.hpp"
#include "genrekit/train.hpp"
#include "support.hpp"

namespace fs = std::filesystem;

namespace {

// A small MLP trained on a CSV (every row for training: the test is about featurization
// agreement, not accuracy).
genrekit::Model train_on(const std::string& csv, const std::string& extra_json = "{}") {
    nlohmann::json j = nlohmann::json::parse(R"({
        "normalization": "zscore", "split": {"kind": "random", "valid": 0.0, "seed": 3},
        "model": {"layers": [{"type": "dense", "units": 64}, {"type": "relu"}, {"type": "dense"}]},
        "optimizer": {"type": "adam", "lr": 0.003}, "batch_size": 32, "epochs": 40, "seed": 3})");
    j.merge_patch(nlohmann::json::parse(extra_json));
    j["data"]["csv"] = csv;
    const auto cfg = genrekit::parse_train_config(j, "test config");
    return genrekit::train(cfg, genrekit::load_training_table(cfg)).model;
}

std::string stem(const std::string& path) {
    const std::string name = fs::path(path).filename().string();
    return name.substr(0, name.rfind('.'));
}

TEST(Predict, AllDevTracksAgreeWithTheModelOnTheirKaggleCsvRows) {
    GK_REQUIRE_SHARED(shared);
    const std::string csv = shared + "/data/gtzan-dev/features_30_sec.csv";
    const genrekit::Model model = train_on(csv);
    // The model's labels for the dev tracks' rows of the Kaggle CSV.
    genrekit::CsvReadOptions o;
    o.feature_columns = model.feature_columns();
    const auto table = genrekit::read_feature_csv(csv, o);
    std::map<std::string, int> csv_label;
    for (std::size_t r = 0; r < table.rows(); ++r) {
        const genrekit::RowMatrixXd row = table.features.row(static_cast<Eigen::Index>(r));
        const auto p = model.predict_proba(row);
        csv_label[stem(table.files[r])] = static_cast<int>(std::max_element(p.data(), p.data() + p.size()) - p.data());
    }
    const auto report = genrekit::predict_files(model, {shared + "/data/gtzan-dev/genres_original"}, {});
    ASSERT_TRUE(report.failures.empty()) << report.failures.front();
    ASSERT_EQ(report.files.size(), 100u);
    int agree = 0;
    std::string disagreements;
    for (const auto& f : report.files) {
        const auto it = csv_label.find(stem(f.file));
        ASSERT_NE(it, csv_label.end()) << f.file;
        if (it->second == f.label) ++agree;
        else disagreements += " " + stem(f.file);
        EXPECT_GT(f.bpm, 0) << f.file;
    }
    std::cout << "[predict on audio vs the model on the Kaggle rows, need >= 98 %] " << agree << " of 100 agree;"
              << (disagreements.empty() ? " no disagreements" : " differ:" + disagreements) << "\n";
    EXPECT_GE(agree, 98);
}

class PredictOnSynth : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() / ("genrekit_predict_" + std::to_string(::getpid()));
        genrekit::SynthParams p;
        p.clips_per_class = 6;
        p.seconds = 8;
        genrekit::write_synth_dataset((dir_ / "audio").string(), p);
        genrekit::BatchOptions whole;
        genrekit::BatchOptions seg;
        seg.segments.mode = genrekit::SegmentMode::Kaggle3s;
        for (auto [opt, name] : {std::pair{&whole, "whole.csv"}, std::pair{&seg, "seg.csv"}}) {
            genrekit::AtomicFile out((dir_ / name).string());
            out.stream() << genrekit::feature_csv_header();
            genrekit::featurize_batch(genrekit::collect_inputs({(dir_ / "audio").string()}, std::nullopt), *opt,
                                      [&](const genrekit::FeatureRow& r) { out.stream() << genrekit::feature_csv_row(r); });
            out.commit();
        }
    }
    void TearDown() override { fs::remove_all(dir_); }
    fs::path dir_;
};

TEST_F(PredictOnSynth, SegmentModelAveragesItsSegmentsAndKeepsThemInJson) {
    const auto model = train_on((dir_ / "seg.csv").string());
    EXPECT_EQ(model.front_end().value("mode", ""), "3s");
    const std::string clip = (dir_ / "audio" / "rock" / "rock.00001.wav").string();
    const auto report = genrekit::predict_files(model, {clip}, {});
    ASSERT_EQ(report.files.size(), 1u);
    const auto& f = report.files[0];
    ASSERT_EQ(f.segments.size(), 2u);  // 8 s: two 3-second segments
    EXPECT_DOUBLE_EQ(f.segments[1].start, 3.0);
    double total = 0;
    for (double p : f.probabilities) total += p;
    EXPECT_NEAR(total, 1.0, 1e-6);  // float32 softmax
    EXPECT_EQ(model.labels()[static_cast<std::size_t>(f.label)], "rock");
}

TEST_F(PredictOnSynth, BadFilesAreListedAndTheRestPredicted) {
    GK_REQUIRE_SHARED(shared);
    const auto model = train_on((dir_ / "whole.csv").string());
    const std::string bad = shared + "/data/bad";
    const auto report = genrekit::predict_files(model, {bad}, {});
    // silence_30s.wav and short_0.5s.wav are valid audio: predicted with finite numbers.
    ASSERT_EQ(report.files.size(), 2u);
    for (const auto& f : report.files)
        for (double p : f.probabilities) EXPECT_TRUE(std::isfinite(p)) << f.file;
    EXPECT_EQ(report.failures.size(), 9u);
    for (const auto& line : report.failures) {
        EXPECT_EQ(line.rfind(bad, 0), 0u) << "each failure names its file: " << line;
        EXPECT_EQ(line.find('\n'), std::string::npos);
    }
}

// Silent, near-silent and sub-second inputs still get a prediction, but never a silent one.
TEST_F(PredictOnSynth, WeakInputsComeWithAWarning) {
    GK_REQUIRE_SHARED(shared);
    const auto model = train_on((dir_ / "whole.csv").string());
    const fs::path quiet = dir_ / "quiet.wav";
    std::vector<float> y(22050 * 5);
    for (std::size_t i = 0; i < y.size(); ++i) y[i] = 1e-4f * static_cast<float>(std::sin(0.07 * static_cast<double>(i)));
    genrekit::save_audio(quiet.string(), y, 22050);
    const std::string normal = (dir_ / "audio" / "rock" / "rock.00001.wav").string();
    const auto report = genrekit::predict_files(
        model, {shared + "/data/bad/silence_30s.wav", shared + "/data/bad/short_0.5s.wav", quiet.string(), normal}, {});
    ASSERT_EQ(report.files.size(), 4u);
    std::map<std::string, std::string> said;
    for (const auto& f : report.files) {
        std::string all;
        for (const auto& w : f.warnings) all += w + "|";
        said[fs::path(f.file).filename().string()] = all;
        std::cout << "[" << f.file << "] " << all << "\n";
    }
    EXPECT_NE(said["silence_30s.wav"].find("silent input"), std::string::npos);
    EXPECT_NE(said["short_0.5s.wav"].find("only 0.50 s of audio"), std::string::npos);
    EXPECT_NE(said["quiet.wav"].find("near-silent input (peak -7"), std::string::npos);  // -80 dBFS after 16-bit rounding
    EXPECT_EQ(said["rock.00001.wav"], "");
}

TEST_F(PredictOnSynth, ShortClipWithASegmentModelSaysItWasSkipped) {
    GK_REQUIRE_SHARED(shared);
    const auto model = train_on((dir_ / "seg.csv").string());
    const auto report = genrekit::predict_files(model, {shared + "/data/bad/short_0.5s.wav"}, {});
    EXPECT_TRUE(report.files.empty());
    ASSERT_EQ(report.notes.size(), 1u);
    EXPECT_NE(report.notes[0].find("shorter than one segment"), std::string::npos) << report.notes[0];
}

}  // namespace
