// Honest tuning: splits that keep a group (an artist) on one side, `genrekit tune`'s grid search
// and its bad cases, the train/tune progress output, and the default model of `predict`.
#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <set>

#include "genrekit/dataset.hpp"
#include "genrekit/error.hpp"
#include "genrekit/train.hpp"
#include "genrekit/tune.hpp"
#include "nn_test_data.hpp"
#include "support.hpp"

using namespace genrekit;
using json = nlohmann::json;

namespace {

// 3 classes x 20 tracks c<class>.<i>; track i is by artist a<i % 5>, so every artist spans every class.
std::string artist_of(const std::string& file) { return "a" + std::to_string(std::stoi(file.substr(3, 5)) % 5); }

// Per process: CTest runs the tests of this file as parallel processes.
std::string temp(const std::string& name) { return ::testing::TempDir() + "/tune_" + std::to_string(::getpid()) + "_" + name; }

void write(const std::string& path, const std::string& text) { std::ofstream(path) << text; }

// blobs.csv and blobs.groups (track,group), written once.
struct Files {
    std::string csv = temp("blobs.csv"), groups = temp("blobs.groups"), config = temp("cfg.json");
    Files() {
        write(csv, gktest::blobs_csv());
        const FeatureTable t = parse_feature_csv(gktest::blobs_csv(), "blobs.csv");
        std::string g = "track,group\n";
        for (const auto& f : t.files) g += file_stem(f) + "," + artist_of(f) + "\n";
        write(groups, g);
        write(config, R"({"data": {"csv": ")" + csv + R"("}, "model": {"layers": [{"type": "dense", "units": 8}, {"type": "relu"}, {"type": "dense"}]},
                          "optimizer": {"type": "adam", "lr": 0.01}, "batch_size": 8, "epochs": 3, "seed": 7, "split": {"kind": "random", "valid": 0}})");
    }
};
const Files& files() {
    static const Files f;
    return f;
}

}  // namespace

TEST(Groups, KFoldKeepsEachGroupOnOneSide) {
    const FeatureTable t = parse_feature_csv(gktest::blobs_csv(), "blobs.csv");
    std::vector<int> classes;
    std::vector<std::string> groups;
    for (std::size_t r = 0; r < t.rows(); ++r) {
        classes.push_back(t.labels[r].back() - '0');
        groups.push_back(artist_of(t.files[r]));
    }
    SplitConfig c;
    c.kind = "kfold";
    c.k = 5;
    c.group_file = files().groups;
    std::map<std::string, int> test_fold;  // group -> the fold that tests it
    for (int f = 0; f < c.k; ++f) {
        c.fold = f;
        SplitConfig by_column = c;  // the same groups from a column, with a validation part carved by track
        by_column.group_file.clear();
        by_column.valid = 0.25;
        for (const Split& s : {make_split(t.files, classes, c, false), make_split(t.files, classes, by_column, false, {}, groups)}) {
            std::set<std::string> train, test;
            for (auto r : s.train) train.insert(groups[r]);
            for (auto r : s.valid) train.insert(groups[r]);
            for (auto r : s.test) test.insert(groups[r]);
            for (const auto& g : test) EXPECT_FALSE(train.count(g)) << "group " << g << " on both sides of fold " << f;
            EXPECT_EQ(s.groups, 5u);
            ASSERT_EQ(test.size(), 1u);  // 5 equal groups in 5 folds: one each
            test_fold[*test.begin()] = f;
        }
    }
    EXPECT_EQ(test_fold.size(), 5u);  // every group is tested once
    EXPECT_EQ(describe_grouping(c, make_split(t.files, classes, c, false)), "by group (5 groups from " + files().groups + ")");
    c.k = 6;
    c.fold = 0;
    EXPECT_NE(gktest::expect_error([&] { make_split(t.files, classes, c, false); }).find("needs at least 6 groups, the grouping has 5"), std::string::npos);
}

TEST(Groups, AGroupFileThatMissesTracksIsAClearError) {
    const FeatureTable t = parse_feature_csv(gktest::blobs_csv(), "blobs.csv");
    const std::string path = temp("short.groups");
    write(path, "track,group\nc0.00000,a0\nc0.00001.wav,a1\n");
    SplitConfig c;
    c.kind = "kfold";
    c.k = 2;
    c.group_file = path;
    const std::string msg = gktest::expect_error([&] { make_split(t.files, std::vector<int>(t.rows(), 0), c, false); });
    EXPECT_EQ(msg, path + ": no group for 58 of the data's tracks (c0.00002, c0.00003, c0.00004, ...); every track needs one");
    const auto r = gktest::run_genrekit("train --config " + files().config + " --cv 2 --groups " + path);
    EXPECT_EQ(r.code, 1);
    EXPECT_NE(r.err.find("no group for 58 of the data's tracks"), std::string::npos) << r.err;
}

TEST(Groups, CvReportsItsGrouping) {
    auto r = gktest::run_genrekit("train --config " + files().config + " --cv 5 --groups " + files().groups);
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.out.find("folds by group (5 groups from " + files().groups + ")"), std::string::npos) << r.out;
    r = gktest::run_genrekit("train --config " + files().config + " --cv 5");
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.out.find("folds by track, stratified by label"), std::string::npos) << r.out;
    EXPECT_EQ(r.err.find('\r'), std::string::npos) << "no progress line when stderr is not a terminal";
}

TEST(Tune, RanksTheGridAndIsDeterministic) {
    const std::string csv1 = temp("t1.csv"), csv2 = temp("t2.csv"), js = temp("t.json");
    const std::string args = "tune --config " + files().config + " --grid model.layers.0.units=4,8 --grid optimizer.lr=0.01,0.001 --cv 3 --groups " +
                             files().groups + " --json " + js + " --csv ";
    const auto a = gktest::run_genrekit(args + csv1), b = gktest::run_genrekit(args + csv2);
    ASSERT_EQ(a.code, 0) << a.err;
    ASSERT_EQ(b.code, 0) << b.err;
    EXPECT_EQ(a.out, b.out);
    std::ifstream f1(csv1), f2(csv2);
    const std::string t1((std::istreambuf_iterator<char>(f1)), {}), t2((std::istreambuf_iterator<char>(f2)), {});
    EXPECT_EQ(t1, t2);
    EXPECT_EQ(t1.substr(0, t1.find('\n')), "rank,model.layers.0.units,optimizer.lr,mean,sd,sd_sample,fold1,fold2,fold3");
    std::ifstream jf(js);
    const json j = json::parse(jf);
    ASSERT_EQ(j["results"].size(), 4u);
    for (std::size_t i = 1; i < 4; ++i) EXPECT_GE(j["results"][i - 1]["mean"].get<double>(), j["results"][i]["mean"].get<double>());
    EXPECT_EQ(j["grouping"], "by group (5 groups from " + files().groups + ")");
    EXPECT_NE(a.out.find("4 configs, 3-fold CV accuracy, folds by group"), std::string::npos) << a.out;
}

TEST(Tune, BadGridsAreClearErrors) {
    auto r = gktest::run_genrekit("tune --config " + files().config + " --grid model.nosuch=1,2 --cv 2");
    EXPECT_EQ(r.code, 1);
    EXPECT_NE(r.err.find("--grid model.nosuch=1: "), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("unknown key 'model.nosuch'"), std::string::npos) << r.err;
    r = gktest::run_genrekit("tune --config " + files().config + " --grid epochs= --cv 2");
    EXPECT_EQ(r.code, 1);
    EXPECT_NE(r.err.find("--grid 'epochs=': no values for 'epochs'"), std::string::npos) << r.err;
    r = gktest::run_genrekit("tune --config " + files().config + " --cv 2");
    EXPECT_EQ(r.code, 2) << "--grid is required";
    const ConfigMaker make = [](const std::vector<std::string>& sets) { return load_train_config(files().config, sets); };
    EXPECT_EQ(gktest::expect_error([&] { grid_configs(make, {}); }), "--grid: the grid is empty; give at least one --grid key=v1,v2");
    EXPECT_NE(gktest::expect_error([&] { grid_configs(make, {parse_grid_axis("epochs=1"), parse_grid_axis("epochs=2")}); }).find("given twice"),
              std::string::npos);
}

TEST(Tune, GridValuesSplitOnTopLevelCommasOnly) {
    const GridAxis a = parse_grid_axis(R"(model.layers=[{"type":"dense","units":4},{"type":"dense"}],[{"type":"dense"}])");
    ASSERT_EQ(a.values.size(), 2u);
    EXPECT_EQ(a.values[1], R"([{"type":"dense"}])");
    EXPECT_EQ(parse_grid_axis("optimizer.type=adam,sgd").values, (std::vector<std::string>{"adam", "sgd"}));
}

TEST(TrainOutput, ImprovedEpochsByDefaultEveryEpochWithVerbose) {
    // A validation set and a high learning rate: val_loss does not improve every epoch.
    const std::string args = "train --config " + files().config + " --set epochs=30 --set split.valid=0.3 --set optimizer.lr=0.05 --out " + temp("m.safetensors");
    const auto quiet = gktest::run_genrekit(args + " --quiet"), normal = gktest::run_genrekit(args), verbose = gktest::run_genrekit(args + " --verbose");
    ASSERT_EQ(normal.code, 0) << normal.err;
    auto rows = [](const std::string& s) {
        std::size_t n = 0;
        for (std::size_t p = s.find('\n'); p != std::string::npos; p = s.find('\n', p + 1)) n += s.compare(p + 1, 3, "   ") == 0;
        return n;
    };
    EXPECT_EQ(rows(verbose.out), 30u) << verbose.out;
    EXPECT_GE(rows(normal.out), 1u);
    EXPECT_LT(rows(normal.out), 30u) << normal.out;
    EXPECT_EQ(rows(quiet.out), 0u) << quiet.out;
    EXPECT_NE(normal.out.find("(epochs that improved val_loss, and the last)"), std::string::npos) << normal.out;
    // Without a validation set the training loss falls nearly every epoch: accuracy gains of 0.02 are shown.
    const auto no_valid = gktest::run_genrekit("train --config " + files().config + " --set epochs=30 --out " + temp("m.safetensors"));
    ASSERT_EQ(no_valid.code, 0) << no_valid.err;
    EXPECT_LT(rows(no_valid.out), 30u) << no_valid.out;
    EXPECT_NE(no_valid.out.find("(epochs that improved acc by 0.02, and the last)"), std::string::npos) << no_valid.out;
    EXPECT_EQ(normal.err.find('\r'), std::string::npos) << "no progress line when stderr is not a terminal";
}

TEST(DefaultModel, PredictWithoutModelUsesTheShippedOne) {
    GK_REQUIRE_SHARED(shared);
    const std::string wav = shared + "/data/gtzan-dev/genres_original/metal/metal.00002.wav";
    const auto r = gktest::run_genrekit("predict " + wav);
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.err.find("using the default model"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("models/gtzan-default.safetensors"), std::string::npos) << r.err;
    EXPECT_EQ(r.out.rfind(wav + ": ", 0), 0u) << r.out;
}
