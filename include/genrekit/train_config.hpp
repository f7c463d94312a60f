// Training configuration: a JSON file under configs/, every key optional (defaults are
// the struct initialisers below), unknown keys and wrong types are errors naming the key.
//
//   auto cfg = genrekit::load_train_config("configs/mlp_gtzan30.json", {"optimizer.lr=0.001"});
//   nlohmann::json resolved = genrekit::to_json(cfg);   // every key (augment, ensemble: when set)
//   nlohmann::json stored = genrekit::stored_config(cfg);  // as stored in model files
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
//               "k": 10, "fold": 0,                   // kfold: fold `fold` of k (stratified) is the test set
//               "group_file": "", "group_column": ""},  // set: random/kfold deal whole groups, not tracks
//     "model": {"layers": [ {"type": "dense", "units": 512}, {"type": "relu"}, {"type": "dense"} ]},
//                                                     // a final dense without "units" gets one unit per class
//     "optimizer": {"type": "adam", "lr": 0.001, "weight_decay": 0, "momentum": 0,
//                   "beta1": 0.9, "beta2": 0.999, "alpha": 0.99, "eps": 1e-8},
//     "batch_size": 32, "epochs": 100, "seed": 0, "threads": 1, "label_smoothing": 0,
//     "reduce_lr_on_plateau": {"enabled": false, "monitor": "val_loss", "factor": 0.1, "patience": 10, "min_lr": 0},
//     "early_stopping": {"enabled": false, "monitor": "val_loss", "patience": 20, "min_delta": 0},
//     "checkpoint": {"keep_best": false, "monitor": "val_loss"},
//     "augment": {"mixup_alpha": 0,                   // > 0: mixup with lambda ~ Beta(alpha, alpha), one per batch
//                 "time_shift": 0, "time_masks": 0, "time_mask_frames": 0,   // spectrogram models only:
//                 "freq_masks": 0, "freq_mask_bands": 0},                    //  shift and SpecAugment masks
//     "ensemble": {"members": 1, "checkpoints": 1},
//     "_comment": "..." }                             // free text, ignored
// A layer may carry "l2": lambda (adds lambda * sum(weight^2) to the loss, Keras
// kernel_regularizer style).
// Ensembles: members K: K training runs from seeds seed, seed+1, ... (a seed ensemble).
//   checkpoints C: a snapshot ensemble from each run. With a validation set, the parameters of
//   the C best epochs by checkpoint.monitor (ties: the earlier epoch) are kept, whatever
//   checkpoint.keep_best says; without one, those of the last C epochs. C = 1 (default) is
//   the single model: the keep_best epoch, else the last one.
//   The two multiply: the file holds K x C networks as members ("members.<i>." tensors), seed by
//   seed, each seed's snapshots best first (validation: member 0 of a seed is the epoch
//   keep_best would keep) or newest first (none). Predictions average all members'
//   probabilities with equal weight. K x C <= 32; C <= epochs. When early stopping ends a run
//   before C epochs, that run keeps every epoch it ran (fewer members; metrics.ensemble lists
//   the kept epochs per seed).
// Spectrogram models (front_end.kind "spectrogram") take audio instead of a CSV:
//   "data": {"audio": ["genres_original/"], "cache_dir": ""}   // folders of <label>/ sub-folders or files
//   "front_end": {"kind": "spectrogram", ...SpectrogramParams keys...}
// and no "normalization" (they use per-band standardization); their splits are made per TRACK
// and every segment follows its track. Silent segments are not trained on or voted.
// Monitors: val_loss (lower is better) or val_acc (higher is better); they need a validation set.
// Relative paths (data.csv, split.*_lists) are resolved against the config file's folder.
//
// Overrides: "key=value" with a dotted path ("optimizer.lr=0.0005", "model.layers.0.units=256",
// "split.kind=kfold"); the value is parsed as JSON when it parses, else taken as a string.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "genrekit/nn/optim.hpp"
#include "genrekit/spectrogram_dataset.hpp"

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
    // Grouping (random and kfold splits): whole groups (an artist, an album) go to one side.
    std::string group_file;    // "track,group" lines (relative to the config)
    std::string group_column;  // or a column of the feature CSV
    bool grouped() const { return !group_file.empty() || !group_column.empty(); }
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

struct AugmentConfig {
    int time_shift = 0;         // max frames of random circular shift along time (spectrograms)
    int time_masks = 0, time_mask_frames = 0;   // SpecAugment: masks of up to N frames (spectrograms)
    int freq_masks = 0, freq_mask_bands = 0;    // SpecAugment: masks of up to N bands (spectrograms)
    double mixup_alpha = 0;     // > 0: mixup with lambda ~ Beta(alpha, alpha)
    bool spectrogram_only() const { return time_shift || time_masks || time_mask_frames || freq_masks || freq_mask_bands; }
};

struct EnsembleConfig {
    int members = 1;      // seeds
    int checkpoints = 1;  // snapshots kept per seed
};

// The audio side of a spectrogram config.
struct SpectrogramConfig {
    std::vector<std::string> audio;   // data.audio
    std::string cache_dir;            // data.cache_dir ("" default, "none")
    SpectrogramParams params;         // front_end
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
    AugmentConfig augment;
    EnsembleConfig ensemble;
    std::vector<double> l2;  // per layer (taken out of the layer specs)
    std::optional<SpectrogramConfig> spectrogram;  // set for front_end.kind "spectrogram"
    nlohmann::json resolved;  // spectrogram configs: the document as given (with overrides), stored in the model
};

nlohmann::ordered_json to_json(const TrainConfig& c);
// `source` names the origin in error messages; `base_dir` resolves relative paths ("" = as given).
TrainConfig parse_train_config(const nlohmann::json& j, const std::string& source, const std::vector<std::string>& overrides = {},
                               const std::string& base_dir = "");
TrainConfig load_train_config(const std::string& path, const std::vector<std::string>& overrides = {});
// The config as stored in a model's metadata.
nlohmann::json stored_config(const TrainConfig& c);
// --data: a feature CSV (data.csv) or, for spectrogram configs, an audio folder (data.audio).
void set_data_path(TrainConfig& c, const std::string& path);
// --groups: split.group_file (as given; refused when the config groups by split.group_column).
void set_group_file(TrainConfig& c, const std::string& path);
// Applies one "a.b.c=value" override to a JSON document (creating objects on the way).
void apply_override(nlohmann::json& j, const std::string& assignment);

}  // namespace genrekit
