#include "genrekit/model.hpp"

#include <cmath>
#include <cstring>

#include "genrekit/atomic_file.hpp"
#include "genrekit/error.hpp"
#include "genrekit/nn/loss.hpp"
#include "genrekit/safetensors.hpp"
#include "genrekit/sha256.hpp"

namespace genrekit {

using json = nlohmann::json;
static const char* kFormat = "genrekit.mlp.v1";

Model::Model(const json& layers, std::vector<std::string> labels, std::vector<std::string> feature_columns, Normalizer norm,
             json front_end)
    : labels_(std::move(labels)), features_(std::move(feature_columns)), norm_(std::move(norm)), front_end_(std::move(front_end)) {
    net_ = std::make_unique<nn::Network<float>>(layers, nn::Shape{static_cast<std::int64_t>(features_.size())});
    if (nn::shape_size(net_->output_shape()) != static_cast<std::int64_t>(labels_.size()))
        throw Error("model: the network has " + std::to_string(nn::shape_size(net_->output_shape())) + " outputs but there are " +
                    std::to_string(labels_.size()) + " labels (make the last layer dense with one unit per class)");
    if (norm_.shift.size() != features_.size()) throw Error("model: normalization statistics do not match the feature columns");
}

Model::Model(Model&&) noexcept = default;
Model& Model::operator=(Model&&) noexcept = default;
Model::~Model() = default;

int Model::label_index(const std::string& label) const {
    for (std::size_t i = 0; i < labels_.size(); ++i)
        if (labels_[i] == label) return static_cast<int>(i);
    return -1;
}

RowMatrixXd Model::predict_proba(const RowMatrixXd& raw) const {
    const auto F = static_cast<Eigen::Index>(features_.size()), K = static_cast<Eigen::Index>(labels_.size());
    if (raw.cols() != F)
        throw Error("predict: got " + std::to_string(raw.cols()) + " feature values per row, the model expects " + std::to_string(F));
    if (!raw.allFinite()) throw Error("predict: feature values must be finite (got NaN or inf)");
    RowMatrixXd out(raw.rows(), K);
    constexpr Eigen::Index kChunk = 256;
    nn::Mat<float> x(F, std::min<Eigen::Index>(kChunk, std::max<Eigen::Index>(raw.rows(), 1))), p(K, x.cols());
    for (Eigen::Index r0 = 0; r0 < raw.rows(); r0 += kChunk) {
        const Eigen::Index n = std::min(kChunk, raw.rows() - r0);
        for (Eigen::Index i = 0; i < n; ++i) norm_.apply(raw.row(r0 + i).data(), x.col(i).data());
        auto logits = net_->forward(nn::CMatView<float>(x.data(), F, n), {});
        nn::softmax<float>(logits, nn::MatView<float>(p.data(), K, n));
        out.middleRows(r0, n) = p.leftCols(n).transpose().cast<double>();
    }
    return out;
}

std::vector<double> Model::predict_proba(const std::vector<double>& raw_row) const {
    RowMatrixXd m(1, static_cast<Eigen::Index>(raw_row.size()));
    for (std::size_t i = 0; i < raw_row.size(); ++i) m(0, static_cast<Eigen::Index>(i)) = raw_row[i];
    const RowMatrixXd p = predict_proba(m);
    return std::vector<double>(p.data(), p.data() + p.size());
}

void Model::save(const std::string& path) const {
    SafeTensors st;
    Sha256 h;
    for (const auto& e : net_->tensors()) {
        SafeTensor t{e.name, e.shape, std::vector<float>(net_->data(e), net_->data(e) + e.size)};
        h.update(t.data.data(), t.data.size() * sizeof(float));
        st.tensors.push_back(std::move(t));
    }
    st.metadata["format"] = kFormat;
    st.metadata["genrekit_version"] = GENREKIT_VERSION;
    st.metadata["architecture"] = json{{"input_shape", net_->input_shape()}, {"layers", net_->layers_json()}}.dump();
    st.metadata["labels"] = json(labels_).dump();
    st.metadata["feature_columns"] = json(features_).dump();
    st.metadata["normalization"] = norm_.to_json().dump();
    st.metadata["front_end"] = front_end_.dump();
    st.metadata["tensors_sha256"] = h.hex();
    for (auto it = info_.begin(); it != info_.end(); ++it) {
        if (st.metadata.count(it.key())) throw Error("model: info key '" + it.key() + "' is reserved");
        st.metadata[it.key()] = it->dump();
    }
    save_safetensors(path, st);
}

Model Model::load(const std::string& path) {
    const SafeTensors st = load_safetensors(path);
    auto meta = [&](const std::string& key) -> json {
        auto it = st.metadata.find(key);
        if (it == st.metadata.end()) throw Error(path + ": not a genrekit model: __metadata__ has no '" + key + "'");
        if (key == "format" || key == "genrekit_version" || key == "tensors_sha256") return it->second;
        try {
            return json::parse(it->second);
        } catch (const json::exception& e) {
            throw Error(path + ": __metadata__ '" + key + "' is not valid JSON (tampered?): " + e.what());
        }
    };
    if (meta("format") != kFormat)
        throw Error(path + ": model format '" + meta("format").get<std::string>() + "' is not '" + kFormat + "'");
    const json arch = meta("architecture");
    std::vector<std::string> labels, features;
    try {
        labels = meta("labels").get<std::vector<std::string>>();
        features = meta("feature_columns").get<std::vector<std::string>>();
    } catch (const json::exception& e) {
        throw Error(path + ": labels/feature_columns metadata malformed: " + e.what());
    }
    if (labels.size() < 2) throw Error(path + ": the model has fewer than 2 labels");
    if (!arch.is_object() || !arch.contains("layers") || !arch.contains("input_shape") ||
        arch["input_shape"] != json{static_cast<std::int64_t>(features.size())})
        throw Error(path + ": architecture metadata does not match the " + std::to_string(features.size()) + " feature columns");
    Normalizer norm = Normalizer::from_json(meta("normalization"), features.size(), path);
    std::unique_ptr<Model> m;
    try {
        m = std::make_unique<Model>(arch["layers"], labels, features, norm, meta("front_end"));
    } catch (const Error& e) {
        throw Error(path + ": " + e.what());
    }
    // Every parameter tensor must be present with exactly the architecture's shape; nothing extra.
    auto& net = *m->net_;
    Sha256 h;
    for (const auto& e : net.tensors()) {
        const SafeTensor* t = st.find(e.name);
        if (!t) throw Error(path + ": tensor '" + e.name + "' required by the architecture is missing");
        if (t->shape != e.shape)
            throw Error(path + ": tensor '" + e.name + "' has shape " + nn::shape_str(t->shape) + ", the architecture needs " + nn::shape_str(e.shape));
        std::memcpy(net.data(e), t->data.data(), e.size * sizeof(float));
        h.update(t->data.data(), e.size * sizeof(float));
    }
    if (st.tensors.size() != net.tensors().size())
        throw Error(path + ": file has " + std::to_string(st.tensors.size()) + " tensors, the architecture has " + std::to_string(net.tensors().size()));
    if (h.hex() != meta("tensors_sha256").get<std::string>())
        throw Error(path + ": tensor data does not match its recorded sha256 (file modified or corrupted)");
    if (!net.all_finite()) throw Error(path + ": parameter values are not finite");
    for (const auto& [k, v] : st.metadata) {
        if (k == "format" || k == "genrekit_version" || k == "architecture" || k == "labels" || k == "feature_columns" ||
            k == "normalization" || k == "front_end" || k == "tensors_sha256")
            continue;
        try {
            m->info_[k] = json::parse(v);
        } catch (const json::exception&) {
            m->info_[k] = v;
        }
    }
    m->path_ = path;
    return std::move(*m);
}

}  // namespace genrekit
