// Training configuration: a JSON file under configs/, every key optional (defaults are
// the struct initialisers below), unknown keys and wrong types are errors naming the key.
//
//   auto cfg = genrekit::load_train_config("configs/mlp_gtzan30.json", {"optimizer.lr=0.001"});
//   nlohmann::json resolved = genrekit::to_json(cfg);   // every key, as stored in model files
//
// JSON layout (defaults shown):
//   { "data": {"csv": "", "label_column": "label", "file_column": "filename",
//              "feature_columns": [],                 // [] = every numeric column except file, label, exclude_columns
//              "exclude_columns": ["length"]},
//     "front_end": {"kind": "gtzan_features", "sample_rate": 22050,
//                   "mode": "auto"},                  // auto: rows "<stem>.<i>.wav" -> "3s", otherwise "30s"
//     "normalization": "zscore",                      // none | max | minmax | zscore | log_zscore (training rows only)
//     "split": {"kind": "random",                     // random | lists | kfold
//               "valid": 0.25, "test": 0.0, "stratified": true, "seed": 0,   // random (by track)
//               "train_lists": [], "valid_lists": [], "test_lists": [],       // lists: matched by file stem
//               "k": 10, "fold": 0},                  // kfold: fold `fold` of k (stratified) is the test set
//     "model": {"layers": [ {"type": "dense", "units": 512}, {"type": "relu"}, {"type": "dense"} ]},
//                                                     // a final dense without "units" gets one unit per class
//     "optimizer": {"type": "adam", "lr": 0.001, "weight_decay": 0, "momentum": 0,
//                   "beta1": 0.9, "beta2": 0.999, "alpha": 0.99, "eps": 1e-8},
//     "batch_size": 32, "epochs": 100, "seed": 0, "threads": 1, "label_smoothing": 0,
//     "reduce_lr_on_plateau": {"enabled": false, "monitor": "val_loss", "factor": 0.1, "patience": 10, "min_lr": 0},
//     "early_stopping": {"enabled": false, "monitor": "val_loss", "patience": 20, "min_delta": 0},
//     "checkpoint": {"keep_best": false, "monitor": "val_loss"} }
// Monitors: val_loss (lower is better) or val_acc (higher is better); they need a validation set.
// Relative paths (data.csv, split.*_lists) are resolved against the config file's folder.
//
// Overrides: "key=value" with a dotted path ("optimizer.lr=0.0005", "model.layers.0.units=256",
// "split.kind=kfold"); the value is parsed as JSON when it parses, else taken as a string.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "genrekit/nn/optim.hpp"

namespace genrekit {

struct DataConfig {
    std::string csv;
    std::string label_column = "label";
    std::string file_column = "filename";
    std::vector<std::string> feature_columns;
    std::vector<std::string> exclude_columns = {"length"};
};

struct FrontEndConfig {
    std::string kind = "gtzan_features";
    int sample_rate = 22050;
    std::string mode = "auto";  // auto | 30s | 3s
};

struct SplitConfig {
    std::string kind = "random";
    double valid = 0.25, test = 0.0;
    bool stratified = true;
    std::uint64_t seed = 0;
    std::vector<std::string> train_lists, valid_lists, test_lists;
    int k = 10, fold = 0;
};

struct PlateauConfig {
    bool enabled = false;
    std::string monitor = "val_loss";
    double factor = 0.1;
    int patience = 10;
    double min_lr = 0.0;
};

struct EarlyStoppingConfig {
    bool enabled = false;
    std::string monitor = "val_loss";
    int patience = 20;
    double min_delta = 0.0;
};

struct CheckpointConfig {
    bool keep_best = false;
    std::string monitor = "val_loss";
};

struct TrainConfig {
    DataConfig data;
    FrontEndConfig front_end;
    std::string normalization = "zscore";
    SplitConfig split;
    nlohmann::json layers = nlohmann::json::parse(R"([{"type":"dense","units":512},{"type":"relu"},{"type":"dense"}])");
    nn::OptimizerParams optimizer;
    int batch_size = 32;
    int epochs = 100;
    std::uint64_t seed = 0;
    int threads = 1;
    double label_smoothing = 0.0;  // training loss only; ref: torch.nn.CrossEntropyLoss(label_smoothing=...)
    PlateauConfig reduce_lr_on_plateau;
    EarlyStoppingConfig early_stopping;
    CheckpointConfig checkpoint;
};

nlohmann::ordered_json to_json(const TrainConfig& c);
// `source` names the origin in error messages; `base_dir` resolves relative paths ("" = as given).
TrainConfig parse_train_config(const nlohmann::json& j, const std::string& source, const std::vector<std::string>& overrides = {},
                               const std::string& base_dir = "");
TrainConfig load_train_config(const std::string& path, const std::vector<std::string>& overrides = {});
// Applies one "a.b.c=value" override to a JSON document (creating objects on the way).
void apply_override(nlohmann::json& j, const std::string& assignment);

}  // namespace genrekit
