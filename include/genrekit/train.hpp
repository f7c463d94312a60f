// Training a Model from a feature table and a TrainConfig (the `train` tool is a thin
// wrapper around this).
//
//   auto cfg = genrekit::load_train_config("configs/mlp_gtzan30.json");
//   auto table = genrekit::load_training_table(cfg);
//   genrekit::TrainResult r = genrekit::train_model(cfg, table, [](const genrekit::EpochLog& e) { ... });
//   r.model.save("model.safetensors");
//   genrekit::write_epoch_log_csv("model.safetensors.log.csv", r.history);
//
// Determinism: the seed drives three independent streams (initialisation, shuffling,
// dropout) of genrekit's own RNG, so the same config on the same data gives the same
// parameters bit for bit (for a given build: SSE2 and -march=native builds may round
// differently).
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
    int epoch = 0;                  // 1-based
    double loss = 0, acc = 0;       // training (mean over the epoch's mini-batches, training mode)
    double val_loss = NAN, val_acc = NAN;  // NaN without a validation set
    double lr = 0;
    double seconds = 0;
};

struct TrainResult {
    Model model;
    std::vector<EpochLog> history;
    Split split;
    int best_epoch = 0;             // epoch whose parameters the model holds
    nlohmann::json metrics;         // {"train": {...}, "valid": {...}, "test": {...}, "best_epoch", "epochs_run"}
};

// Reads cfg.data.csv with the config's column options.
FeatureTable load_training_table(const TrainConfig& cfg);

TrainResult train_model(const TrainConfig& cfg, const FeatureTable& table,
                        const std::function<void(const EpochLog&)>& on_epoch = {});

// Stratified K-fold cross-validation on the whole table (the config's split is replaced):
// fold i trains on the other folds and is evaluated on fold i. Tracks are dealt to folds
// whole (split.kind "kfold" with split.seed), so folds are disjoint by track. When the
// config monitors a validation set (early stopping, keep_best, plateau), split.valid of the
// training folds is carved off for it (0.1 when the config has none).
struct CrossValidation {
    int k = 0;
    std::vector<double> accuracy;        // per fold, on its held-out rows (track level for segments)
    std::vector<std::size_t> test_rows;  // per fold
    double mean = 0, sd = 0;             // sd: population standard deviation (numpy's std(), ddof 0)
};
// Mean and standard deviations (population, ddof 0 as numpy's std(); sample, ddof 1) of the
// per-fold accuracies.
struct FoldSpread {
    double mean = 0, sd = 0, sd_sample = 0;
};
FoldSpread fold_spread(const std::vector<double>& accuracy);
TrainConfig cv_fold_config(const TrainConfig& cfg, int k, int fold);
CrossValidation cross_validate(const TrainConfig& cfg, const FeatureTable& table, int k,
                               const std::function<void(int fold, const TrainResult&)>& on_fold = {});

// Loss and accuracy of `model` on rows of the table (and track-level accuracy for segments).
nlohmann::json evaluate_rows(const Model& model, const FeatureTable& table, const std::vector<std::size_t>& rows, bool segmented);

// "epoch,loss,acc,val_loss,val_acc,lr,seconds" (written atomically).
void write_epoch_log_csv(const std::string& path, const std::vector<EpochLog>& history);
std::string format_epoch_line(const EpochLog& e);

}  // namespace genrekit
