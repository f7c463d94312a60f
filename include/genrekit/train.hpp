// Training a Model from a TrainConfig (the `train` tool is a thin wrapper around this), for
// feature models (rows of a feature CSV) and spectrogram models (audio folders) alike.
//
//   auto cfg = genrekit::load_train_config("configs/mlp_gtzan30.json");
//   genrekit::TrainResult r = genrekit::train(cfg, [](const genrekit::EpochLog& e) { ... });
//   r.model.save("model.safetensors");
//   genrekit::write_epoch_log_csv("model.safetensors.log.csv", r.history);
//
// Determinism: the seed drives four independent streams (initialisation, shuffling, the
// training pass's dropout, augmentation/mixup) of genrekit's own RNG, so the same config on the
// same data gives the same parameters bit for bit (for a given build: SSE2 and -march=native
// builds may round differently).
#pragma once

#include <nlohmann/json.hpp>

#include <functional>
#include <string>
#include <vector>

#include "genrekit/csv.hpp"
#include "genrekit/dataset.hpp"
#include "genrekit/model.hpp"
#include "genrekit/train_config.hpp"

namespace genrekit {

struct EpochLog {
    int member = 0;                 // seed of an ensemble (0-based; 0 for a single model)
    int epoch = 0;                  // 1-based
    double loss = 0, acc = 0;       // training (mean over the epoch's mini-batches, training mode)
    double val_loss = NAN, val_acc = NAN;  // NaN without a validation set
    double lr = 0;
    double seconds = 0;
};

struct TrainResult {
    Model model;
    std::vector<EpochLog> history;  // of the first seed's run (an ensemble's other seeds log through on_epoch only)
    Split split;                    // of the items: feature rows, or tracks of a spectrogram model
    std::string unit;               // what an item is: "rows" | "tracks"
    int best_epoch = 0;             // epoch whose parameters the (first) network holds
    nlohmann::json metrics;         // {"train": {...}, "valid": {...}, "test": {...}, "best_epoch", "epochs_run"[, "ensemble"]}
};

using EpochCallback = std::function<void(const EpochLog&)>;
using MessageCallback = std::function<void(const std::string&)>;

// Loads the config's data (on_message gets a "data: ..." line) and trains.
TrainResult train(const TrainConfig& cfg, const EpochCallback& on_epoch = {}, const MessageCallback& on_message = {});
// A feature model on a table already read.
TrainResult train(const TrainConfig& cfg, const FeatureTable& table, const EpochCallback& on_epoch = {}, const MessageCallback& on_message = {});

// Reads cfg.data.csv with the config's column options.
FeatureTable load_training_table(const TrainConfig& cfg);

// "split: train N, valid N, test N rows|tracks[, N rows in no list (unused)]"
std::string format_split_line(const TrainResult& r);

// Stratified K-fold cross-validation on all the data (the config's split is replaced): fold i
// trains on the other folds and is evaluated on fold i. Tracks are dealt to folds whole
// (split.kind "kfold" with split.seed), so folds are disjoint by track. When the config
// monitors a validation set (early stopping, keep_best, plateau), split.valid of the training
// folds is carved off for it (0.1 when the config has none).
struct CrossValidation {
    int k = 0;
    std::string measure;                 // "accuracy" (rows), "track accuracy" (segments, tracks)
    std::vector<double> accuracy;        // per fold, on its held-out items
    std::vector<std::size_t> test_items; // per fold
    double mean = 0, sd = 0;             // sd: population standard deviation (numpy's std(), ddof 0)
    double sd_sample = 0;                // ddof 1
    std::string grouping;                // how the folds were made (describe_grouping)
};
struct FoldSpread {
    double mean = 0, sd = 0, sd_sample = 0;
};
FoldSpread fold_spread(const std::vector<double>& accuracy);
TrainConfig cv_fold_config(const TrainConfig& cfg, int k, int fold);
using FoldCallback = std::function<void(int fold, const TrainResult&)>;
// on_epoch hears every epoch of every fold (progress).
CrossValidation cross_validate(const TrainConfig& cfg, int k, const FoldCallback& on_fold = {}, const MessageCallback& on_message = {},
                               const EpochCallback& on_epoch = {});
CrossValidation cross_validate(const TrainConfig& cfg, const FeatureTable& table, int k, const FoldCallback& on_fold = {});
// "K-fold CV <measure>: mean +- sd (mean +- sd over folds; sample sd s)"
std::string format_cv_line(const CrossValidation& cv);

// "epoch,loss,acc,val_loss,val_acc,lr,seconds" (written atomically).
void write_epoch_log_csv(const std::string& path, const std::vector<EpochLog>& history);
// One row of the epoch table under format_epoch_header() ("member" column when `members` > 1).
std::string format_epoch_header(int members = 1);
std::string format_epoch_line(const EpochLog& e, int members = 1);

}  // namespace genrekit
