// A trained genre classifier: a front end (what turns a recording into network inputs) and
// one or more member networks whose probabilities are averaged, saved as one safetensors file.
//
//   genrekit::Model m = genrekit::Model::load("model.safetensors");   // validates everything
//   m.labels();            // {"blues", "classical", ...}: column order of the probabilities
//   m.front_end();         // feature models: {"kind":"gtzan_features","sample_rate":22050,"mode":"30s"|"3s"}
//                          // spectrogram models: {"kind":"spectrogram", params..., "standardization":{...}}
// Feature models (GTZAN feature rows, their columns and Normalizer):
//   m.feature_columns();   // raw feature names, in the order predict_proba expects
//   genrekit::RowMatrixXd p = m.predict_proba(raw);   // raw: rows x F, UNnormalised; p: rows x K
// Spectrogram models (segments of a log-mel/MFCC image and a BandStandardizer):
//   genrekit::TrackPrediction t = m.predict_file("song.wav");   // mean segment probability, votes
//
// File (one format, "genrekit.model.v2"; files of the older "genrekit.mlp.v1" and
// "genrekit.cnn.v1" formats load too: they are the one-member feature and the spectrogram cases
// of the same layout). __metadata__, each value a JSON document stored as a string:
//   format, genrekit_version, architecture ({input_shape, layers, members}), labels, front_end,
//   feature_columns and normalization (feature front ends only), tensors_sha256, plus the free
//   info keys: config (the resolved training config), metrics, training_data, ...
// Tensors, float32: "layers.<i>.<name>" for one member (PyTorch's nn.Sequential named `layers`),
// "members.<k>.layers.<i>.<name>" for several.
//
// A Model is movable, not copyable; predicting is not thread-safe (use one Model per thread).
#pragma once

#include <nlohmann/json.hpp>

#include <memory>
#include <string>
#include <vector>

#include "genrekit/csv.hpp"
#include "genrekit/dataset.hpp"
#include "genrekit/nn/network.hpp"
#include "genrekit/spectrogram_dataset.hpp"

namespace genrekit {

// What turns a recording into network input columns.
struct FrontEnd {
    bool spectrogram = false;
    // GTZAN feature rows (spectrogram == false).
    std::vector<std::string> columns;
    Normalizer norm;
    nlohmann::json spec;  // {"kind":"gtzan_features","sample_rate":...,"mode":...}
    // Spectrogram segments (spectrogram == true).
    SpectrogramParams params;
    BandStandardizer z;

    static FrontEnd features(std::vector<std::string> columns, Normalizer norm, nlohmann::json spec);
    static FrontEnd spectrograms(SpectrogramParams p, BandStandardizer z);
    nn::Shape input_shape() const;
    std::int64_t input_size() const { return nn::shape_size(input_shape()); }
    nlohmann::json to_json() const;  // the file's "front_end"
};

struct SegmentVote {
    double start = 0, end = 0;
    int label = -1;
    double probability = 0;
    std::vector<double> proba;  // every label's probability (empty when silent)
    bool silent = false;
};

struct TrackPrediction {
    std::string path;
    std::vector<double> proba;       // mean over non-silent segments
    int label = -1;                  // argmax of proba
    std::vector<int> votes;          // per label: segments whose argmax it is
    int vote_label = -1;             // majority vote (ties: higher mean probability)
    std::vector<SegmentVote> segments;
};

class Model {
public:
    // A fresh (untrained) model of `members` (1 to 32) networks of the given layers, each of at
    // most `max_values` parameter values (Model::load: what the file holds). Labels must be UTF-8.
    Model(const nlohmann::json& layers, std::vector<std::string> labels, FrontEnd front_end, int members = 1,
          std::size_t max_values = nn::kMaxNetworkValues);
    Model(Model&&) noexcept;
    Model& operator=(Model&&) noexcept;
    ~Model();

    static Model load(const std::string& path);
    // Writes atomically. `info` keys (config, metrics, training_data, ...) go into __metadata__.
    void save(const std::string& path) const;

    const std::vector<std::string>& labels() const { return labels_; }
    int label_index(const std::string& label) const;  // -1 when unknown
    const FrontEnd& input() const { return fe_; }
    bool is_spectrogram() const { return fe_.spectrogram; }
    nlohmann::json front_end() const;
    const std::vector<std::string>& feature_columns() const { return fe_.columns; }
    const Normalizer& normalizer() const { return fe_.norm; }
    const SpectrogramParams& params() const { return fe_.params; }
    const BandStandardizer& standardizer() const { return fe_.z; }
    nlohmann::json& info() { return info_; }
    const nlohmann::json& info() const { return info_; }
    const std::string& path() const { return path_; }

    int members() const { return static_cast<int>(nets_.size()); }
    nn::Network<float>& network(int k = 0) { return *nets_[static_cast<std::size_t>(k)]; }
    const nn::Network<float>& network(int k = 0) const { return *nets_[static_cast<std::size_t>(k)]; }

    // x: prepared input columns (normalised rows or standardized segments), input_size() x n,
    // column-major. K x n probabilities, the mean over members.
    Eigen::MatrixXf proba(const float* x, std::int64_t n) const;

    // Feature models. raw: rows x F in feature_columns() order. Throws genrekit::Error on a
    // column count mismatch or a non-finite value.
    RowMatrixXd predict_proba(const RowMatrixXd& raw) const;
    std::vector<double> predict_proba(const std::vector<double>& raw_row) const;

    // Spectrogram models: standardizes a copy of t and predicts; throws Error "<path>: silent ..."
    // when every segment is silent.
    TrackPrediction predict(const TrackSpectrograms& t) const;
    // The same in parts, for a track streamed in chunks of segments: predict_add appends the
    // chunk's segments and adds to r.proba/r.votes (sums); predict_finish turns the sums into
    // means and picks the labels (Error when every segment was silent).
    void predict_add(const TrackSpectrograms& chunk, TrackPrediction& r) const;
    void predict_finish(TrackPrediction& r) const;
    // The network inputs of t's non-silent segments (input_size() x used.size()), standardized;
    // used: their indices in t. Throws Error "<path>: silent: ..." when there are none.
    std::vector<float> standardized_segments(const TrackSpectrograms& t, std::vector<std::size_t>& used) const;
    TrackPrediction predict_file(const std::string& path) const { return predict(compute_spectrograms(path, fe_.params)); }

private:
    std::vector<std::unique_ptr<nn::Network<float>>> nets_;
    std::vector<std::string> labels_;
    FrontEnd fe_;
    nlohmann::json info_ = nlohmann::json::object();
    std::string path_;
};

}  // namespace genrekit
