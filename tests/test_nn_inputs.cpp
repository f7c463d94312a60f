// Bad input gives one clear genrekit::Error: CSV schema and cells, configs, training sets,
// labels at evaluation. Also the CSV number formatting helpers and the split rules.
#include <gtest/gtest.h>

#include <charconv>
#include <filesystem>

#include "genrekit/plot.hpp"
#include "genrekit/atomic_file.hpp"
#include "genrekit/error.hpp"
#include "genrekit/metrics.hpp"
#include "genrekit/train.hpp"
#include "nn_test_data.hpp"
#include "support.hpp"

using namespace genrekit;

namespace {
#define EXPECT_ERROR_HAS(stmt, text)                                             \
    do {                                                                         \
        const std::string m_ = gktest::expect_error([&] { stmt; });                         \
        EXPECT_NE(m_.find(text), std::string::npos) << "message: " << m_;        \
    } while (0)
}  // namespace

TEST(Csv, FormatNumberRoundTrips) {
    for (double x : {0.1, 1.0 / 3.0, -1e-300, 123456789.123456789, 2.2250738585072014e-308, 1.7976931348623157e308}) {
        const std::string s = format_number(x);
        double back = 0;
        std::from_chars(s.data(), s.data() + s.size(), back);
        EXPECT_EQ(back, x) << s;
    }
    EXPECT_EQ(format_number(0.5f), "0.5");
    EXPECT_EQ(csv_escape("a,b"), "\"a,b\"");
    EXPECT_EQ(csv_escape("say \"hi\""), "\"say \"\"hi\"\"\"");
    EXPECT_EQ(split_csv_line("\"a,b\",c,\"d\"\"e\""), (std::vector<std::string>{"a,b", "c", "d\"e"}));
}

TEST(Csv, DefaultColumnsSkipFileLengthLabel) {
    const auto t = parse_feature_csv(gktest::blobs_csv(), "b.csv");
    EXPECT_EQ(t.feature_columns, (std::vector<std::string>{"f0", "f1", "f2", "f3"}));
    EXPECT_EQ(t.rows(), 60u);
    EXPECT_EQ(t.files[0], "c0.00000.wav");
    EXPECT_EQ(t.lines[0], 2);
}

TEST(Csv, BadCellsAndSchema) {
    const std::string h = "filename,length,a,b,label\n";
    EXPECT_ERROR_HAS(parse_feature_csv(h + "x.wav,1,1,nan,rock\n", "f.csv"), "f.csv:2: column 'b'");
    EXPECT_ERROR_HAS(parse_feature_csv(h + "x.wav,1,1,NaN,rock\n", "f.csv"), "not finite");
    EXPECT_ERROR_HAS(parse_feature_csv(h + "x.wav,1,1,2,rock\ny.wav,1,,2,pop\n", "f.csv"), "f.csv:3: column 'a': empty cell");
    EXPECT_ERROR_HAS(parse_feature_csv(h + "x.wav,1,1,abc,rock\n", "f.csv"), "'abc' is not a number");
    EXPECT_ERROR_HAS(parse_feature_csv(h + "x.wav,1,1,rock\n", "f.csv"), "f.csv:2: 4 fields but the header has 5");
    EXPECT_ERROR_HAS(parse_feature_csv("filename,a,b\nx.wav,1,2\n", "f.csv"), "no label column 'label'");
    EXPECT_ERROR_HAS(parse_feature_csv(h, "f.csv"), "no data rows");
    EXPECT_ERROR_HAS(parse_feature_csv("", "f.csv"), "empty file");
    CsvReadOptions o;
    o.feature_columns = {"a", "mfcc99_mean"};
    EXPECT_ERROR_HAS(parse_feature_csv(h + "x.wav,1,1,2,rock\n", "f.csv", o), "feature column 'mfcc99_mean' is not in the header");
}

TEST(Config, UnknownKeysAndWrongTypes) {
    using nlohmann::json;
    EXPECT_ERROR_HAS(parse_train_config(json::parse(R"({"optimizer":{"lrr":0.1}})"), "c.json"), "unknown key 'optimizer.lrr'");
    EXPECT_ERROR_HAS(parse_train_config(json::parse(R"({"epoch":3})"), "c.json"), "unknown key 'epoch'");
    EXPECT_ERROR_HAS(parse_train_config(json::parse(R"({"epochs":"3"})"), "c.json"), "key 'epochs' must be an integer");
    EXPECT_ERROR_HAS(parse_train_config(json::parse(R"({"optimizer":{"lr":"fast"}})"), "c.json"), "key 'optimizer.lr' must be a number");
    EXPECT_ERROR_HAS(parse_train_config(json::parse(R"({"normalization":"l2"})"), "c.json"), "normalization");
    EXPECT_ERROR_HAS(parse_train_config(json::object(), "c.json", {"optimizer.lrr=1"}), "unknown key 'optimizer.lrr'");
    EXPECT_ERROR_HAS(parse_train_config(json::object(), "c.json", {"nonsense"}), "expected key=value");
    // Layer typos are caught by the layer registry shared with the model reader.
    const auto c = parse_train_config(json::parse(R"({"model":{"layers":[{"type":"dense","unit":3}]}})"), "c.json");
    EXPECT_ERROR_HAS(nn::Network<float>(c.layers, {4}, "c.json model.layers"), "c.json model.layers[0]: unknown key 'unit'");
    EXPECT_ERROR_HAS(nn::Network<float>(json::parse(R"([{"type":"conv9"}])"), {4}), "unknown layer type 'conv9'");
}

TEST(Config, OverridesAndDefaults) {
    const auto c = parse_train_config(nlohmann::json::parse(R"({"optimizer":{"type":"sgd"}})"), "c.json",
                                      {"optimizer.lr=0.5", "model.layers.0.units=7", "split.kind=kfold", "normalization=minmax"});
    EXPECT_EQ(c.optimizer.type, "sgd");
    EXPECT_DOUBLE_EQ(c.optimizer.lr, 0.5);
    EXPECT_EQ(c.layers[0]["units"], 7);
    EXPECT_EQ(c.split.kind, "kfold");
    EXPECT_EQ(c.normalization, "minmax");
    EXPECT_EQ(c.batch_size, 32);
    // The resolved config round-trips.
    const auto again = parse_train_config(nlohmann::json::parse(to_json(c).dump()), "resolved");
    EXPECT_EQ(to_json(again).dump(), to_json(c).dump());
}

TEST(Config, ShippedConfigsParse) {
    for (const char* f : {"seed_twolayer_mlp.json", "mlp_gtzan30.json"}) {
        auto c = load_train_config(gktest::source_dir() + "/configs/" + f);
        if (!c.layers.back().contains("units")) c.layers.back()["units"] = 10;  // as train_model does
        EXPECT_NO_THROW(nn::Network<float>(c.layers, {57})) << f;
    }
    const auto seed = load_train_config(gktest::source_dir() + "/configs/seed_twolayer_mlp.json");
    EXPECT_EQ(seed.layers[0]["units"], 5000);
    EXPECT_EQ(seed.layers[1]["type"], "sigmoid");
    EXPECT_EQ(seed.epochs, 300);
    EXPECT_EQ(seed.batch_size, 32);
    EXPECT_EQ(seed.normalization, "max");
}

TEST(Train, EmptyOrOneClassTrainingSet) {
    TrainConfig c;
    c.epochs = 1;
    const std::string one_class = "filename,a,label\nx.00000.wav,1,rock\ny.00001.wav,2,rock\nz.00002.wav,3,rock\nw.00003.wav,4,rock\n";
    EXPECT_ERROR_HAS(train(c, parse_feature_csv(one_class, "one.csv")), "only one class");
    // A list split whose lists match nothing leaves the training set empty.
    const std::string list = (std::filesystem::temp_directory_path() / "genrekit_nn_empty_list.txt").string();
    write_file_atomic(list, "blues/blues.00099.wav\n");
    c.split.kind = "lists";
    c.split.train_lists = {list};
    EXPECT_ERROR_HAS(train(c, parse_feature_csv(gktest::blobs_csv(), "b.csv")), "training set is empty");
}

TEST(Eval, UnknownLabelIsAnError) {
    TrainConfig c;
    c.epochs = 1;
    const auto r = train(c, parse_feature_csv(gktest::blobs_csv(), "b.csv"));
    const auto t = parse_feature_csv("filename,length,f0,f1,f2,f3,label\nq.00000.wav,1,1,2,3,4,zydeco\n", "e.csv");
    EXPECT_ERROR_HAS(evaluate_model(r.model, t), "e.csv:2: label 'zydeco' was never seen by the model");
}

TEST(Eval, MetricsByHand) {
    // truth 0 0 1 1 2, predicted 0 1 1 1 0
    const auto r = classification_report({0, 0, 1, 1, 2}, {0, 1, 1, 1, 0}, {"a", "b", "c"});
    EXPECT_DOUBLE_EQ(r.accuracy, 0.6);
    EXPECT_DOUBLE_EQ(r.per_class[0].precision, 0.5);   // predicted a twice, right once
    EXPECT_DOUBLE_EQ(r.per_class[0].recall, 0.5);
    EXPECT_DOUBLE_EQ(r.per_class[1].precision, 2.0 / 3.0);
    EXPECT_DOUBLE_EQ(r.per_class[1].recall, 1.0);
    EXPECT_DOUBLE_EQ(r.per_class[2].f1, 0.0);          // never predicted: zero_division = 0
    EXPECT_DOUBLE_EQ(r.macro_f1, (0.5 + 0.8 + 0.0) / 3.0);
    EXPECT_EQ(r.confusion[0][1], 1);
    EXPECT_NE(confusion_matrix_svg(r, "t").find("<svg"), std::string::npos);
    EXPECT_EQ(confusion_matrix_csv(r).substr(0, 29), "truth\\predicted,a,b,c\na,1,1,0");
}

TEST(Split, SegmentNamesAndLists) {
    std::string track;
    EXPECT_TRUE(is_segment_name("blues.00000.3.wav", &track));
    EXPECT_EQ(track, "blues.00000");
    EXPECT_FALSE(is_segment_name("blues.00000.wav"));   // zero-padded track number, not a segment
    EXPECT_FALSE(is_segment_name("blues/blues.00012.wav"));
    EXPECT_EQ(file_stem("blues/blues.00012.wav"), "blues.00012");
    EXPECT_EQ(detect_front_end_mode({"a.00001.0.wav", "a.00001.1.wav"}), "3s");
    EXPECT_EQ(detect_front_end_mode({"a.00001.wav"}), "30s");
}

TEST(Split, FaultFilteredListsMatchTheKaggleCsv) {
    GK_REQUIRE_SHARED(shared);
    const std::string S = shared + "/data/splits/kereliuk2015_fault_filtered/";
    auto c = load_train_config(gktest::source_dir() + "/configs/mlp_gtzan30.json");
    c.data.csv = shared + "/data/gtzan-dev/features_30_sec.csv";
    c.split.train_lists = {S + "train_filtered.txt", S + "valid_filtered.txt"};
    c.split.test_lists = {S + "test_filtered.txt"};
    const auto t = load_training_table(c);
    std::vector<int> classes(t.rows(), 0);
    const Split s = make_split(t.files, classes, c.split, false);
    EXPECT_EQ(s.train.size(), 443u + 197u);
    EXPECT_EQ(s.test.size(), 290u);
    EXPECT_EQ(s.unassigned, 70u);
}
