// A fixed-seed training run whose loss sequence is pinned, and determinism checks.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>

#include <set>

#include "genrekit/error.hpp"
#include "genrekit/safetensors.hpp"
#include "genrekit/train.hpp"
#include "nn_test_data.hpp"

using namespace genrekit;

namespace {
TrainConfig small_config() {
    TrainConfig c;
    c.layers = nlohmann::json::parse(R"([{"type":"dense","units":16,"init":"he_uniform"},{"type":"tanh"},
                                         {"type":"dropout","rate":0.2},{"type":"dense"}])");
    c.optimizer.type = "adam";
    c.optimizer.lr = 0.01;
    c.batch_size = 8;
    c.epochs = 6;
    c.seed = 7;
    c.split.seed = 3;
    c.split.valid = 0.25;
    return c;
}
}  // namespace

TEST(NnTrain, PinnedLossSequence) {
    const auto table = parse_feature_csv(gktest::blobs_csv(), "blobs.csv");
    const auto r = train(small_config(), table);
    // Printed by a run of this test (default x86-64 build, g++ 12, Eigen 3.4) and pasted here; the training loss is the mean over
    // each epoch's mini-batches. A change in initialisation, shuffling, dropout, the layers, the loss or
    // Adam changes these numbers. Tolerance 1e-5 absolute (allows -march=native rounding differences).
    const double want_loss[] = {0.978606114, 0.742064002, 0.487508721, 0.489617816, 0.437176381, 0.436070802};
    const double want_val[] = {0.642085314, 0.412862122, 0.299475610, 0.233389139, 0.190910876, 0.164230317};
    ASSERT_EQ(r.history.size(), 6u);
    double worst = 0;
    for (std::size_t i = 0; i < 6; ++i) {
        std::printf("epoch %zu loss %.9f val_loss %.9f\n", i + 1, r.history[i].loss, r.history[i].val_loss);
        worst = std::max({worst, std::abs(r.history[i].loss - want_loss[i]), std::abs(r.history[i].val_loss - want_val[i])});
    }
    std::printf("worst difference from pinned values: %.3g\n", worst);
    for (std::size_t i = 0; i < 6; ++i) {
        EXPECT_NEAR(r.history[i].loss, want_loss[i], 1e-5) << "epoch " << i + 1;
        EXPECT_NEAR(r.history[i].val_loss, want_val[i], 1e-5) << "epoch " << i + 1;
    }
    EXPECT_LT(r.history.back().loss, r.history.front().loss);
}

TEST(NnTrain, SameConfigSameModelBitForBit) {
    const auto table = parse_feature_csv(gktest::blobs_csv(), "blobs.csv");
    const auto a = train(small_config(), table);
    const auto b = train(small_config(), table);
    const auto& na = a.model.network();
    const auto& nb = b.model.network();
    ASSERT_EQ(na.num_params(), nb.num_params());
    EXPECT_EQ(0, std::memcmp(na.params(), nb.params(), na.num_params() * sizeof(float)));
    auto c = small_config();
    c.seed = 8;
    const auto d = train(c, table);
    EXPECT_NE(0, std::memcmp(na.params(), d.model.network().params(), na.num_params() * sizeof(float)));
}

// BatchNorm's running statistics are not trained: weight decay (any optimizer) must leave them
// alone. With the batchnorm first, its input is the raw features, so its statistics depend only on
// the data and the batch order: the same with and without decay, bit for bit, and moved from their
// initial values (0 and 1). Read from the saved file, by the tensor names of the format.
TEST(NnTrain, WeightDecayLeavesBatchNormStatisticsAlone) {
    const auto table = parse_feature_csv(gktest::blobs_csv(), "blobs.csv");
    auto c = small_config();
    c.layers = nlohmann::json::parse(R"([{"type":"batchnorm"},{"type":"dense","units":16},{"type":"tanh"},{"type":"dense"}])");
    c.batch_size = 10;  // 45 training rows: no last batch of one sample
    auto stats = [&](const std::string& opt, double wd) {
        c.optimizer.type = opt;
        c.optimizer.weight_decay = wd;
        const std::string path = ::testing::TempDir() + "/bn_decay.safetensors";
        train(c, table).model.save(path);
        const SafeTensors st = load_safetensors(path);
        std::vector<float> v;
        for (const char* name : {"layers.0.running_mean", "layers.0.running_var"}) {
            const SafeTensor* t = st.find(name);
            if (!t) ADD_FAILURE() << "no tensor " << name;
            else v.insert(v.end(), t->data.begin(), t->data.end());
        }
        return v;
    };
    const std::vector<float> ref = stats("adam", 0.0);
    ASSERT_EQ(ref.size(), 8u);
    for (std::size_t i = 0; i < 4; ++i) EXPECT_NE(ref[i], 0.0f) << "running_mean[" << i << "] never updated";
    for (std::size_t i = 4; i < 8; ++i) EXPECT_NE(ref[i], 1.0f) << "running_var[" << i - 4 << "] never updated";
    for (const char* opt : {"adam", "adamw", "sgd", "rmsprop"}) {
        const std::vector<float> got = stats(opt, 0.5);
        ASSERT_EQ(got.size(), ref.size());
        double worst = 0;
        for (std::size_t i = 0; i < ref.size(); ++i) worst = std::max(worst, std::abs(static_cast<double>(got[i]) - ref[i]));
        std::printf("%s weight_decay 0.5: worst running-statistic difference %.3g\n", opt, worst);
        EXPECT_EQ(0, std::memcmp(got.data(), ref.data(), ref.size() * sizeof(float))) << opt << " weight decay moved the running statistics";
    }
}

TEST(NnTrain, LearnsSeparableBlobs) {
    const auto table = parse_feature_csv(gktest::blobs_csv(3, 40), "blobs.csv");
    auto c = small_config();
    c.epochs = 40;
    const auto r = train(c, table);
    EXPECT_GT(r.metrics["valid"]["accuracy"].get<double>(), 0.8) << r.metrics.dump();
}

// An error thrown in the middle of training (here: the loss overflows) reaches the caller as one
// clear Error, for one network and for an ensemble. The trainer before the one-trainer rewrite
// unwound through a guard that held a network already moved away and freed (issue 13: a use
// after free, then SIGABRT); the sanitizer build runs this too.
TEST(NnTrain, DivergedTrainingIsOneClearError) {
    const auto table = parse_feature_csv(gktest::blobs_csv(3, 40), "blobs.csv");
    for (const int members : {1, 2}) {
        auto c = small_config();
        c.optimizer.lr = 1e38;  // the next layer's sums overflow float
        c.ensemble.members = members;
        try {
            train(c, table);
            FAIL() << "training with lr 1e38 did not diverge";
        } catch (const Error& e) {
            EXPECT_NE(std::string(e.what()).find("training diverged at epoch"), std::string::npos) << e.what();
        }
    }
}

TEST(NnTrain, KeepBestAndEarlyStopping) {
    const auto table = parse_feature_csv(gktest::blobs_csv(), "blobs.csv");
    auto c = small_config();
    c.epochs = 200;
    c.early_stopping.enabled = true;
    c.early_stopping.patience = 5;
    c.checkpoint.keep_best = true;
    c.reduce_lr_on_plateau.enabled = true;
    c.reduce_lr_on_plateau.patience = 2;
    c.reduce_lr_on_plateau.factor = 0.5;
    const auto r = train(c, table);
    EXPECT_LT(r.history.size(), 200u);
    // The kept model is the best epoch's: its validation loss equals that epoch's logged value.
    const double logged = r.history[static_cast<std::size_t>(r.best_epoch - 1)].val_loss;
    EXPECT_NEAR(r.metrics["valid"]["loss"].get<double>(), logged, 1e-5);
    for (const auto& e : r.history) EXPECT_GE(logged, 0.0 * e.val_loss - 1e-9);
    double min_val = 1e9;
    for (const auto& e : r.history) min_val = std::min(min_val, e.val_loss);
    EXPECT_DOUBLE_EQ(logged, min_val);
    EXPECT_LT(r.history.back().lr, c.optimizer.lr);  // the plateau scheduler reduced it at least once
}

TEST(NnTrain, SegmentsOfATrackStayTogether) {
    const auto table = parse_feature_csv(gktest::blobs_csv(3, 10, 11, 4), "segments.csv");
    auto c = small_config();
    c.epochs = 2;
    for (const char* kind : {"random", "kfold"}) {
        c.split.kind = kind;
        const auto r = train(c, table);
        EXPECT_EQ(r.model.front_end()["mode"], "3s");
        EXPECT_NO_THROW(assert_tracks_disjoint(r.split, track_ids(table.files, true)));
        EXPECT_EQ(r.split.train.size() % 4, 0u);
        EXPECT_TRUE(r.metrics["train"].contains("track_accuracy"));
    }
}

TEST(Normalization, LogZscoreUsesTrainingRowsAndTravelsWithTheModel) {
    // Columns: a variance column (log first) and a mean column (plain z-score).
    RowMatrixXd x(4, 2);
    x << 1.0, 5.0,  //
        100.0, 7.0,  //
        10000.0, 9.0,  //
        0.0, 1000.0;  // row 3 is not a training row: it must not move the statistics
    const std::vector<std::size_t> train = {0, 1, 2};
    const Normalizer n = Normalizer::fit("log_zscore", x, train, {"rms_var", "rms_mean"});
    ASSERT_EQ(n.log_offset.size(), 2u);
    const double off = 1e-3 * (1.0 + 100.0 + 10000.0) / 3.0;
    EXPECT_DOUBLE_EQ(n.log_offset[0], off);
    EXPECT_EQ(n.log_offset[1], 0.0);
    const double l[3] = {std::log(1.0 + off), std::log(100.0 + off), std::log(10000.0 + off)};
    const double mean = (l[0] + l[1] + l[2]) / 3;
    const double sd = std::sqrt(((l[0] - mean) * (l[0] - mean) + (l[1] - mean) * (l[1] - mean) + (l[2] - mean) * (l[2] - mean)) / 3);
    EXPECT_NEAR(n.shift[0], mean, 1e-12);
    EXPECT_NEAR(n.scale[0], sd, 1e-12);
    EXPECT_NEAR(n.shift[1], 7.0, 1e-12);
    EXPECT_NEAR(n.scale[1], std::sqrt(8.0 / 3.0), 1e-12);
    float out[2];
    n.apply(x.row(3).data(), out);  // zero variance: finite (log of the offset)
    EXPECT_NEAR(out[0], (std::log(off) - mean) / sd, 1e-5);
    EXPECT_TRUE(std::isfinite(out[0]));
    // Round trip through the model metadata, and refusal of a damaged offset list.
    const Normalizer back = Normalizer::from_json(nlohmann::json::parse(n.to_json().dump()), 2, "m");
    EXPECT_EQ(back.log_offset, n.log_offset);
    auto bad = n.to_json();
    bad["log_offset"] = {1.0};
    EXPECT_THROW(Normalizer::from_json(bad, 2, "m"), Error);
    EXPECT_THROW(Normalizer::fit("log_zscore", x, train), Error);  // needs the column names
    // A model trained with it predicts from RAW features (the same probabilities after save/load).
    auto c = small_config();
    c.normalization = "log_zscore";
    const auto table = parse_feature_csv(gktest::blobs_csv(), "blobs.csv");
    const auto r = genrekit::train(c, table);
    const std::string path = ::testing::TempDir() + "/log_zscore.safetensors";
    r.model.save(path);
    const Model m = Model::load(path);
    EXPECT_EQ(m.normalizer().kind, "log_zscore");
    EXPECT_EQ((m.predict_proba(table.features) - r.model.predict_proba(table.features)).cwiseAbs().maxCoeff(), 0.0);
}

TEST(CrossValidation, FoldsAreDisjointByTrackAndCoverEveryRowOnce) {
    const auto table = parse_feature_csv(gktest::blobs_csv(3, 10, 11, 4), "segments.csv");  // 3-second segments
    std::vector<int> classes;
    for (const auto& l : table.labels) classes.push_back(l == "class0" ? 0 : l == "class1" ? 1 : 2);
    const auto tracks = track_ids(table.files, true);
    auto c = small_config();
    c.early_stopping.enabled = true;  // asks for a validation part inside the training folds
    const int k = 5;
    std::vector<int> seen(table.rows(), 0);
    for (int fold = 0; fold < k; ++fold) {
        const TrainConfig fc = cv_fold_config(c, k, fold);
        const Split s = make_split(table.files, classes, fc.split, true);
        EXPECT_NO_THROW(assert_tracks_disjoint(s, tracks));
        EXPECT_FALSE(s.valid.empty());
        EXPECT_EQ(s.train.size() + s.valid.size() + s.test.size(), table.rows());
        for (auto r : s.test) ++seen[r];
        // Stratified: every class is in every test fold (10 tracks per class, 5 folds).
        std::set<int> test_classes;
        for (auto r : s.test) test_classes.insert(classes[r]);
        EXPECT_EQ(test_classes.size(), 3u);
    }
    for (int v : seen) EXPECT_EQ(v, 1);  // the test folds partition the rows
    c.epochs = 2;
    const CrossValidation cv = cross_validate(c, table, 3);
    ASSERT_EQ(cv.accuracy.size(), 3u);
    double sum = 0;
    for (double a : cv.accuracy) sum += a;
    EXPECT_NEAR(cv.mean, sum / 3, 1e-12);
    EXPECT_GE(cv.sd, 0.0);
}
