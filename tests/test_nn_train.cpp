// A fixed-seed training run whose loss sequence is pinned, and determinism checks.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdio>
#include <cstring>

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
    const auto r = train_model(small_config(), table);
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
    const auto a = train_model(small_config(), table);
    const auto b = train_model(small_config(), table);
    const auto& na = a.model.network();
    const auto& nb = b.model.network();
    ASSERT_EQ(na.num_params(), nb.num_params());
    EXPECT_EQ(0, std::memcmp(na.params(), nb.params(), na.num_params() * sizeof(float)));
    auto c = small_config();
    c.seed = 8;
    const auto d = train_model(c, table);
    EXPECT_NE(0, std::memcmp(na.params(), d.model.network().params(), na.num_params() * sizeof(float)));
}

TEST(NnTrain, LearnsSeparableBlobs) {
    const auto table = parse_feature_csv(gktest::blobs_csv(3, 40), "blobs.csv");
    auto c = small_config();
    c.epochs = 40;
    const auto r = train_model(c, table);
    EXPECT_GT(r.metrics["valid"]["accuracy"].get<double>(), 0.8) << r.metrics.dump();
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
    const auto r = train_model(c, table);
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
        const auto r = train_model(c, table);
        EXPECT_EQ(r.model.front_end()["mode"], "3s");
        EXPECT_NO_THROW(assert_tracks_disjoint(r.split, track_ids(table.files, true)));
        EXPECT_EQ(r.split.train.size() % 4, 0u);
        EXPECT_TRUE(r.metrics["train"].contains("track_accuracy"));
    }
}
