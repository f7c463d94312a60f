// Spectrogram CNN models: training from a config on labelled audio folders, the model file,
// and prediction/evaluation on audio with segment voting.
//
//   auto cfg = genrekit::load_cnn_config("configs/cnn_gtzan.json", {"epochs=5"});
//   genrekit::CnnTrainResult r = genrekit::train_cnn(cfg, [](const genrekit::EpochLog& e) { ... });
//   r.model.save("cnn.safetensors");
//
//   genrekit::CnnModel m = genrekit::CnnModel::load("cnn.safetensors");
//   genrekit::CnnTrackPrediction p = m.predict_file("song.wav");    // mean segment probability per label,
//   p.label; p.vote_label; p.segments[i].start / end / label / probability
//
// Config (JSON): every key of a feature TrainConfig except data/front_end/normalization
// (split, optimizer, batch_size, epochs, seed, threads, reduce_lr_on_plateau, early_stopping,
// checkpoint; see train_config.hpp), plus
//   "data": {"audio": ["genres_original/"], "cache_dir": ""}     // folders of <label>/ sub-folders or files
//   "front_end": {"kind": "spectrogram", ...SpectrogramParams keys...}
//   "model": {"layers": [...]}   // a layer may carry "l2": lambda (adds lambda * sum(weight^2) to the loss,
//                                //  Keras kernel_regularizer style); a final dense without units gets K
//   "augment": {"time_shift": 0, "time_masks": 0, "time_mask_frames": 0, "freq_masks": 0,
//               "freq_mask_bands": 0, "mixup_alpha": 0}            // all off by default
//   "ensemble": {"members": 1, "checkpoints": 1}
//       members K: K training runs from seeds seed, seed+1, ... (a seed ensemble).
//       checkpoints C: a snapshot ensemble from each run. With a validation set, the parameters of
//         the C best epochs by checkpoint.monitor (ties: the earlier epoch) are kept, whatever
//         checkpoint.keep_best says; without one, those of the last C epochs. C = 1 (default) is
//         the single model: the keep_best epoch, else the last one.
//       The two multiply: the file holds K x C networks as members ("members.<i>." tensors),
//       seed by seed, each seed's snapshots best first (validation: member 0 of a seed is the
//       epoch keep_best would keep) or newest first (none). eval/predict average all members'
//       probabilities with equal weight. K x C <= 32; C <= epochs. When early stopping ends a run
//       before C epochs, that run keeps every epoch it ran (fewer members; metrics.ensemble lists
//       the kept epochs per seed).
//   "_comment": "..."            // free text, ignored
// Splits are made per TRACK (stratified random, list files, k-fold) and every segment follows
// its track; this is asserted after the split. Silent segments are not trained on or voted.
#pragma once

#include <nlohmann/json.hpp>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "genrekit/nn/network.hpp"
#include "genrekit/predict.hpp"
#include "genrekit/spectrogram_dataset.hpp"
#include "genrekit/train.hpp"
#include "genrekit/train_config.hpp"

namespace genrekit {

struct AugmentConfig {
    int time_shift = 0;         // max frames of random circular shift along time
    int time_masks = 0, time_mask_frames = 0;   // SpecAugment: masks of up to N frames
    int freq_masks = 0, freq_mask_bands = 0;    // SpecAugment: masks of up to N bands
    double mixup_alpha = 0;     // > 0: mixup with lambda ~ Beta(alpha, alpha)
};

struct CnnConfig {
    TrainConfig base;                 // split, optimizer, schedule, seed, threads
    std::vector<std::string> audio;   // data.audio
    std::string cache_dir;            // data.cache_dir ("" default, "none")
    SpectrogramParams front_end;
    nlohmann::json layers;            // without "l2" keys
    std::vector<double> l2;           // per layer
    AugmentConfig augment;
    int members = 1;                  // ensemble.members: seeds
    int checkpoints = 1;              // ensemble.checkpoints: snapshots kept per seed
    nlohmann::json resolved;          // the whole config as used (stored in the model)
};

// True when the JSON config's front_end.kind is "spectrogram".
bool is_spectrogram_config(const std::string& path);
CnnConfig load_cnn_config(const std::string& path, const std::vector<std::string>& overrides = {});
CnnConfig parse_cnn_config(const nlohmann::json& j, const std::string& source, const std::vector<std::string>& overrides = {},
                           const std::string& base_dir = "");

struct CnnSegment {
    double start = 0, end = 0;
    int label = -1;
    double probability = 0;
    bool silent = false;
};

struct CnnTrackPrediction {
    std::string path;
    std::vector<double> proba;       // mean over non-silent segments
    int label = -1;                  // argmax of proba
    std::vector<int> votes;          // per label: segments whose argmax it is
    int vote_label = -1;             // majority vote (ties: higher mean probability)
    std::vector<CnnSegment> segments;
};

class CnnModel {
public:
    CnnModel(const nlohmann::json& layers, std::vector<std::string> labels, SpectrogramParams fe, BandStandardizer z, int members = 1);
    CnnModel(CnnModel&&) noexcept;
    CnnModel& operator=(CnnModel&&) noexcept;
    ~CnnModel();

    static CnnModel load(const std::string& path);
    // True when the file is a genrekit CNN model (format genrekit.cnn.v1); false for other models.
    static bool is_cnn_model_file(const std::string& path);
    void save(const std::string& path) const;

    const std::vector<std::string>& labels() const { return labels_; }
    const SpectrogramParams& params() const { return fe_; }
    const BandStandardizer& standardizer() const { return z_; }
    nlohmann::json front_end() const;  // {"kind":"spectrogram", params..., "standardization": {...}}
    nlohmann::json& info() { return info_; }
    const nlohmann::json& info() const { return info_; }
    int members() const { return static_cast<int>(nets_.size()); }
    nn::Network<float>& network(int k = 0) { return *nets_[static_cast<std::size_t>(k)]; }

    // x: standardized segments, (bands*frames) x n, column-major. Returns K x n probabilities averaged over members.
    Eigen::MatrixXf segment_proba(const float* x, std::int64_t n);
    // Standardizes a copy of t and predicts; throws Error "<path>: silent ..." when every segment is silent.
    CnnTrackPrediction predict(const TrackSpectrograms& t);
    CnnTrackPrediction predict_file(const std::string& path) { return predict(compute_spectrograms(path, fe_)); }

private:
    std::vector<std::unique_ptr<nn::Network<float>>> nets_;
    std::vector<std::string> labels_;
    SpectrogramParams fe_;
    BandStandardizer z_;
    nlohmann::json info_ = nlohmann::json::object();
};

struct CnnTrainResult {
    CnnModel model;
    std::vector<EpochLog> history;   // of the first seed's run (its checkpoints come from this one history)
    nlohmann::json metrics;          // {"train"|"valid"|"test": {tracks, track_accuracy, vote_accuracy, segments, segment_accuracy}}
    std::size_t train_tracks = 0, valid_tracks = 0, test_tracks = 0;
};

CnnTrainResult train_cnn(const CnnConfig& cfg, const std::function<void(const EpochLog&)>& on_epoch = {},
                         const std::function<void(const std::string&)>& on_message = {});

// Stratified k-fold cross-validation by track (`genrekit train --cv K` for spectrogram configs):
// fold f trains with cv_fold_config(cfg.base, k, f) (split {kind: kfold, k, fold: f}; a validation
// part is carved from the training folds only when a monitor needs one) and scores track-level
// accuracy on its held-out tracks: the same folds as cross_validate() on a CSV of the same tracks.
struct CnnCrossValidation {
    int k = 0;
    std::vector<double> accuracy;   // per fold: track accuracy (mean segment probability)
    std::vector<double> vote_accuracy;
    double mean = 0, sd = 0;        // sd: population (ddof 0), as cross_validate()
    double sd_sample = 0;           // ddof 1
};
CnnCrossValidation cross_validate_cnn(const CnnConfig& cfg, int k, const std::function<void(int fold, const CnnTrainResult&)>& on_fold = {});

// Track-level evaluation of a CNN model on labelled audio (folders of <label>/ sub-folders).
struct CnnEvaluation {
    std::vector<CnnTrackPrediction> tracks;
    std::vector<int> truth;
    std::vector<std::string> failures;   // "path: problem"
    double track_accuracy = 0, vote_accuracy = 0, segment_accuracy = 0;
    std::size_t segments = 0;
};
CnnEvaluation evaluate_cnn(CnnModel& model, const std::vector<std::string>& inputs, const std::string& manifest = "");
nlohmann::json prediction_json(const CnnModel& model, const CnnTrackPrediction& p, bool with_segments);

// `genrekit predict` for spectrogram models, in the feature models' report format: per file the
// mean segment probabilities, the majority vote and every non-silent segment (start, end, label,
// probability); bpm is NaN (not computed). Short, silent or unreadable files go to failures.
PredictReport predict_files_cnn(CnnModel& model, const std::vector<std::string>& paths, const PredictOptions& options);

}  // namespace genrekit
