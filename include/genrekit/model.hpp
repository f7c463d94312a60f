// A trained genre classifier on feature vectors: the network, its labels, feature
// schema, normalization and front end, saved as one safetensors file.
//
// API for predict:
//   genrekit::Model m = genrekit::Model::load("model.safetensors");   // validates everything
//   m.labels();            // {"blues", "classical", ...}: column order of the probabilities
//   m.feature_columns();   // raw feature names, in the order predict_proba expects
//   m.front_end();         // {"kind":"gtzan_features","sample_rate":22050,"mode":"30s"|"3s"}
//   genrekit::RowMatrixXd p = m.predict_proba(raw);   // raw: rows x F, UNnormalised features
//                                                     // p: rows x K, each row sums to 1
//   std::vector<double> q = m.predict_proba(std::vector<double>{...});   // one row
// With mode "3s", featurize each 3-second segment, predict every segment, and average
// the probabilities per track (that is what `eval` reports as track-level accuracy).
//
// Model file metadata (__metadata__, each value a JSON document stored as a string):
//   format ("genrekit.mlp.v1"), genrekit_version, architecture ({input_shape, layers}),
//   labels, feature_columns, normalization ({kind, shift, scale}), front_end, config
//   (the resolved training config), metrics, training_data (csv path, sha256 of its
//   bytes, sha256 of the row names used per split, row counts), tensors_sha256.
// Tensors: "layers.<i>.weight" [O, F] and "layers.<i>.bias" [O], float32, as PyTorch's
// nn.Linear inside an nn.Sequential named `layers`.
//
// A Model is movable, not copyable; predict_proba reuses internal buffers and is not
// thread-safe (use one Model per thread).
#pragma once

#include <nlohmann/json.hpp>

#include <memory>
#include <string>
#include <vector>

#include "genrekit/csv.hpp"
#include "genrekit/dataset.hpp"
#include "genrekit/nn/network.hpp"

namespace genrekit {

class Model {
public:
    // A fresh (untrained, zero-parameter) model; call network().init(rng) before training.
    Model(const nlohmann::json& layers, std::vector<std::string> labels, std::vector<std::string> feature_columns,
          Normalizer norm, nlohmann::json front_end);
    Model(Model&&) noexcept;
    Model& operator=(Model&&) noexcept;
    ~Model();

    static Model load(const std::string& path);
    // Writes atomically. `info` keys (config, metrics, training_data, ...) go into __metadata__.
    void save(const std::string& path) const;

    const std::vector<std::string>& labels() const { return labels_; }
    const std::vector<std::string>& feature_columns() const { return features_; }
    const nlohmann::json& front_end() const { return front_end_; }
    const Normalizer& normalizer() const { return norm_; }
    // Extra metadata: "config", "metrics", "training_data", ... (free-form JSON values).
    nlohmann::json& info() { return info_; }
    const nlohmann::json& info() const { return info_; }
    const std::string& path() const { return path_; }

    // raw: rows x F in feature_columns() order. Throws genrekit::Error on a column count
    // mismatch or a non-finite value.
    RowMatrixXd predict_proba(const RowMatrixXd& raw) const;
    std::vector<double> predict_proba(const std::vector<double>& raw_row) const;
    // Index of the label, or -1.
    int label_index(const std::string& label) const;

    nn::Network<float>& network() { return *net_; }
    const nn::Network<float>& network() const { return *net_; }

private:
    std::unique_ptr<nn::Network<float>> net_;
    std::vector<std::string> labels_, features_;
    Normalizer norm_;
    nlohmann::json front_end_, info_ = nlohmann::json::object();
    std::string path_;
};

}  // namespace genrekit
