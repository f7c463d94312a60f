#include "genrekit/model.hpp"

#include <cmath>
#include <cstring>

#include "genrekit/error.hpp"
#include "genrekit/nn/loss.hpp"
#include "genrekit/safetensors.hpp"
#include "genrekit/sha256.hpp"
#include "genrekit/json_text.hpp"
#include "nn/parallel.hpp"

namespace genrekit {

using json = nlohmann::json;

namespace {
const char* kFormat = "genrekit.model.v2";
// Earlier formats of the same layout: feature models with one member, spectrogram models.
const char* kFeatureFormatV1 = "genrekit.mlp.v1";
const char* kSpectrogramFormatV1 = "genrekit.cnn.v1";

std::string tensor_name(std::size_t members, std::size_t k, const std::string& name) {
    return members == 1 ? name : "members." + std::to_string(k) + "." + name;
}

// The checksum of every metadata value (labels, normalization, front end, architecture, the
// training info): they change predictions as much as the weights do. Files written before it
// existed have no such key and load as before.
const char* kMetadataSha = "metadata_sha256";
std::string metadata_sha256(const std::map<std::string, std::string>& metadata) {
    Sha256 h;
    for (const auto& [k, v] : metadata) {
        if (k == kMetadataSha) continue;
        const std::string item = k + "\n" + std::to_string(v.size()) + "\n" + v + "\n";  // lengths: no two maps hash alike
        h.update(item.data(), item.size());
    }
    return h.hex();
}

constexpr int kMaxMembers = 32;  // as the ensemble config allows
}  // namespace

FrontEnd FrontEnd::features(std::vector<std::string> columns, Normalizer norm, json spec) {
    FrontEnd f;
    f.columns = std::move(columns);
    f.norm = std::move(norm);
    f.spec = std::move(spec);
    if (f.norm.shift.size() != f.columns.size()) throw Error("model: normalization statistics do not match the feature columns");
    // Column names go into the model file's JSON metadata and must come back byte for byte.
    for (const auto& c : f.columns)
        if (!valid_utf8(c)) throw Error("model: feature column '" + c + "' is not valid UTF-8 (a CSV in another encoding?)");
    return f;
}

FrontEnd FrontEnd::spectrograms(SpectrogramParams p, BandStandardizer z) {
    p.validate();
    if (z.mean.size() != static_cast<std::size_t>(p.bands())) throw Error("model: standardization does not match the front end's bands");
    FrontEnd f;
    f.spectrogram = true;
    f.params = std::move(p);
    f.z = std::move(z);
    return f;
}

nn::Shape FrontEnd::input_shape() const {
    if (spectrogram) return nn::Shape{1, params.bands(), params.frames()};
    return nn::Shape{static_cast<std::int64_t>(columns.size())};
}

json FrontEnd::to_json() const {
    if (!spectrogram) return spec;
    json j = params.to_json();
    j["kind"] = "spectrogram";
    j["standardization"] = z.to_json();
    return j;
}

Model::Model(const json& layers, std::vector<std::string> labels, FrontEnd fe, int members, std::size_t max_values)
    : labels_(std::move(labels)), fe_(std::move(fe)) {
    if (labels_.size() < 2) throw Error("model: needs at least 2 labels");
    if (members < 1 || members > kMaxMembers) throw Error("model: needs 1 to " + std::to_string(kMaxMembers) + " member networks");
    // Labels go into the model file's JSON metadata and must come back byte for byte.
    for (const auto& l : labels_)
        if (!valid_utf8(l))
            throw Error("model: label '" + l + "' is not valid UTF-8 (a folder name or CSV in another encoding?); rename it");
    for (int k = 0; k < members; ++k) {
        nets_.push_back(std::make_unique<nn::Network<float>>(layers, fe_.input_shape(), "model.layers", max_values));
        if (nn::shape_size(nets_.back()->output_shape()) != static_cast<std::int64_t>(labels_.size()))
            throw Error("model: the network has " + std::to_string(nn::shape_size(nets_.back()->output_shape())) + " outputs but there are " +
                        std::to_string(labels_.size()) + " labels (make the last layer dense with one unit per class)");
    }
}

Model::Model(Model&&) noexcept = default;
Model& Model::operator=(Model&&) noexcept = default;
Model::~Model() = default;

json Model::front_end() const { return fe_.to_json(); }

int Model::label_index(const std::string& label) const {
    for (std::size_t i = 0; i < labels_.size(); ++i)
        if (labels_[i] == label) return static_cast<int>(i);
    return -1;
}

void Model::save(const std::string& path) const {
    SafeTensors st;
    Sha256 h;
    for (std::size_t k = 0; k < nets_.size(); ++k)
        for (const auto& e : nets_[k]->tensors()) {
            const float* p = nets_[k]->data(e);
            SafeTensor t{tensor_name(nets_.size(), k, e.name), e.shape, std::vector<float>(p, p + e.size)};
            h.update(t.data.data(), t.data.size() * sizeof(float));
            st.tensors.push_back(std::move(t));
        }
    st.metadata["format"] = kFormat;
    st.metadata["genrekit_version"] = GENREKIT_VERSION;
    st.metadata["architecture"] =
        dump_json(json{{"input_shape", nets_[0]->input_shape()}, {"layers", nets_[0]->layers_json()}, {"members", nets_.size()}});
    st.metadata["labels"] = dump_json(json(labels_));
    if (!fe_.spectrogram) {
        st.metadata["feature_columns"] = dump_json(json(fe_.columns));
        st.metadata["normalization"] = dump_json(fe_.norm.to_json());
    }
    st.metadata["front_end"] = dump_json(front_end());
    st.metadata["tensors_sha256"] = h.hex();
    for (auto it = info_.begin(); it != info_.end(); ++it) {
        if (st.metadata.count(it.key()) || it.key() == kMetadataSha) throw Error("model: info key '" + it.key() + "' is reserved");
        st.metadata[it.key()] = dump_json(*it);
    }
    st.metadata[kMetadataSha] = metadata_sha256(st.metadata);
    save_safetensors(path, st);
}

Model Model::load(const std::string& path) {
    const SafeTensors st = load_safetensors(path);
    if (st.metadata.count(kMetadataSha) && st.metadata.at(kMetadataSha) != metadata_sha256(st.metadata))
        throw Error(path + ": metadata (labels, normalization, front end, architecture or training info) does not match its recorded "
                           "sha256 (file modified or corrupted)");
    auto text = [&](const std::string& key) -> const std::string& {
        auto it = st.metadata.find(key);
        if (it == st.metadata.end()) throw Error(path + ": not a genrekit model: __metadata__ has no '" + key + "'");
        return it->second;
    };
    auto meta = [&](const std::string& key) -> json {
        try {
            return json::parse(text(key));
        } catch (const json::exception& e) {
            throw Error(path + ": __metadata__ '" + key + "' is not valid JSON (tampered?): " + e.what());
        }
    };
    const std::string format = text("format");
    if (format != kFormat && format != kFeatureFormatV1 && format != kSpectrogramFormatV1)
        throw Error(path + ": model format '" + format + "' is not '" + kFormat + "' (nor an earlier " + kFeatureFormatV1 + " or " +
                    kSpectrogramFormatV1 + ")");
    const json arch = meta("architecture"), fe_json = meta("front_end");
    std::vector<std::string> labels;
    try {
        labels = meta("labels").get<std::vector<std::string>>();
    } catch (const json::exception& e) {
        throw Error(path + ": labels metadata malformed: " + e.what());
    }
    if (labels.size() < 2) throw Error(path + ": the model has fewer than 2 labels");
    if (!arch.is_object() || !arch.contains("layers") || !arch.contains("input_shape"))
        throw Error(path + ": architecture metadata malformed (needs layers and input_shape)");
    std::unique_ptr<Model> m;
    try {
        FrontEnd fe;
        if (fe_json.is_object() && fe_json.value("kind", "") == "spectrogram") {
            json params = fe_json;
            params.erase("standardization");
            const SpectrogramParams p = SpectrogramParams::from_json(params, path + " front_end");
            fe = FrontEnd::spectrograms(p, BandStandardizer::from_json(fe_json.at("standardization"), p.bands(), path));
        } else {
            // predict reads these with json::value(), which throws on another type.
            for (const char* k : {"kind", "mode"})
                if (!fe_json.is_object() || (fe_json.contains(k) && !fe_json[k].is_string()))
                    throw Error(path + ": front_end metadata malformed ('" + k + "' must be a string)");
            if (fe_json.contains("sample_rate") && !fe_json["sample_rate"].is_number_integer())
                throw Error(path + ": front_end metadata malformed ('sample_rate' must be an integer)");
            std::vector<std::string> features;
            try {
                features = meta("feature_columns").get<std::vector<std::string>>();
            } catch (const json::exception& e) {
                throw Error(path + ": feature_columns metadata malformed: " + e.what());
            }
            fe = FrontEnd::features(features, Normalizer::from_json(meta("normalization"), features.size(), path), fe_json);
        }
        if (arch["input_shape"] != json(fe.input_shape()))
            throw Error(path + ": architecture metadata does not match the front end's input shape " + nn::shape_str(fe.input_shape()));
        const json members = arch.value("members", json(1));
        if (!members.is_number_integer() || members.get<std::int64_t>() < 1 || members.get<std::int64_t>() > kMaxMembers)
            throw Error(path + ": architecture metadata: members = " + dump_json(members) + " is not in [1, " + std::to_string(kMaxMembers) + "]");
        // Sizes from the metadata are checked against the values the file holds before the
        // networks allocate anything.
        std::size_t held = 0;
        for (const auto& t : st.tensors) held += t.data.size();
        m = std::make_unique<Model>(arch["layers"], labels, std::move(fe), members.get<int>(), held / members.get<std::size_t>());
    } catch (const json::exception& e) {
        throw Error(path + ": metadata malformed: " + e.what());
    } catch (const Error& e) {
        const std::string what = e.what();
        throw Error(what.rfind(path, 0) == 0 ? what : path + ": " + what);
    }
    // Every parameter tensor must be present with exactly the architecture's shape; nothing extra.
    Sha256 h;
    std::size_t count = 0;
    for (std::size_t k = 0; k < m->nets_.size(); ++k) {
        auto& net = *m->nets_[k];
        for (const auto& e : net.tensors()) {
            const std::string name = tensor_name(m->nets_.size(), k, e.name);
            const SafeTensor* t = st.find(name);
            if (!t) throw Error(path + ": tensor '" + name + "' required by the architecture is missing");
            if (t->shape != e.shape)
                throw Error(path + ": tensor '" + name + "' has shape " + nn::shape_str(t->shape) + ", the architecture needs " + nn::shape_str(e.shape));
            std::memcpy(net.data(e), t->data.data(), e.size * sizeof(float));
            h.update(t->data.data(), e.size * sizeof(float));
            ++count;
        }
    }
    if (st.tensors.size() != count)
        throw Error(path + ": file has " + std::to_string(st.tensors.size()) + " tensors, the architecture has " + std::to_string(count));
    if (h.hex() != text("tensors_sha256")) throw Error(path + ": tensor data does not match its recorded sha256 (file modified or corrupted)");
    for (const auto& net : m->nets_)
        if (!net->all_finite()) throw Error(path + ": parameter values are not finite");
    for (const auto& [k, v] : st.metadata) {
        if (k == "format" || k == "genrekit_version" || k == "architecture" || k == "labels" || k == "feature_columns" || k == "normalization" ||
            k == "front_end" || k == "tensors_sha256" || k == kMetadataSha)
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

Eigen::MatrixXf Model::proba(const float* x, std::int64_t n) const {
    const std::int64_t F = fe_.input_size(), K = static_cast<std::int64_t>(labels_.size());
    // Chunk sizes as each front end always used (rows: 256, segments: 64).
    const std::int64_t chunk = fe_.spectrogram ? 64 : 256;
    Eigen::MatrixXf out = Eigen::MatrixXf::Zero(K, n);
    nn::Mat<float> p(K, std::min(chunk, std::max<std::int64_t>(n, 1)));
    for (const auto& net : nets_) {
        net->set_pool(nn::shared_pool());  // now: set_num_threads may have replaced the pool since the last call
        for (std::int64_t c0 = 0; c0 < n; c0 += chunk) {
            const std::int64_t m = std::min(chunk, n - c0);
            auto logits = net->forward(nn::CMatView<float>(x + c0 * F, F, m), {});
            nn::softmax<float>(logits, nn::MatView<float>(p.data(), K, m));
            out.middleCols(c0, m) += p.leftCols(m);
        }
        net->set_pool(nullptr);
    }
    out /= static_cast<float>(nets_.size());
    return out;
}

RowMatrixXd Model::predict_proba(const RowMatrixXd& raw) const {
    if (fe_.spectrogram) throw Error("predict: a spectrogram model takes audio, not feature rows");
    const auto F = static_cast<Eigen::Index>(fe_.columns.size());
    if (raw.cols() != F)
        throw Error("predict: got " + std::to_string(raw.cols()) + " feature values per row, the model expects " + std::to_string(F));
    if (!raw.allFinite()) throw Error("predict: feature values must be finite (got NaN or inf)");
    nn::Mat<float> x(F, raw.rows());
    for (Eigen::Index i = 0; i < raw.rows(); ++i) fe_.norm.apply(raw.row(i).data(), x.col(i).data());
    return proba(x.data(), raw.rows()).transpose().cast<double>();
}

std::vector<double> Model::predict_proba(const std::vector<double>& raw_row) const {
    RowMatrixXd m(1, static_cast<Eigen::Index>(raw_row.size()));
    for (std::size_t i = 0; i < raw_row.size(); ++i) m(0, static_cast<Eigen::Index>(i)) = raw_row[i];
    const RowMatrixXd p = predict_proba(m);
    return std::vector<double>(p.data(), p.data() + p.size());
}

std::vector<float> Model::standardized_segments(const TrackSpectrograms& t, std::vector<std::size_t>& used) const {
    const SpectrogramParams& fp = fe_.params;
    const std::int64_t F = fe_.input_size();
    std::vector<float> x;
    used.clear();
    for (std::size_t s = 0; s < t.size(); ++s) {
        if (t.silent[s]) continue;
        used.push_back(s);
        x.insert(x.end(), t.data(s), t.data(s) + F);
        fe_.z.apply(x.data() + (used.size() - 1) * static_cast<std::size_t>(F), fp.frames());
    }
    return x;
}

void Model::predict_add(const TrackSpectrograms& t, TrackPrediction& r) const {
    if (!fe_.spectrogram) throw Error(t.path + ": a feature model takes feature rows, not spectrograms");
    const SpectrogramParams& fp = fe_.params;
    if (t.bands != fp.bands() || t.frames != fp.frames()) throw Error(t.path + ": spectrogram shape does not match the model's front end");
    const std::int64_t K = static_cast<std::int64_t>(labels_.size());
    std::vector<std::size_t> used;
    const std::vector<float> x = standardized_segments(t, used);
    r.path = t.path;
    r.proba.resize(static_cast<std::size_t>(K), 0.0);
    r.votes.resize(static_cast<std::size_t>(K), 0);
    const Eigen::MatrixXf p = used.empty() ? Eigen::MatrixXf() : proba(x.data(), static_cast<std::int64_t>(used.size()));
    for (std::size_t s = 0, u = 0; s < t.size(); ++s) {
        SegmentVote sp;
        sp.start = t.starts[s];
        sp.end = t.starts[s] + fp.segment;
        sp.silent = t.silent[s] != 0;
        if (!sp.silent) {
            Eigen::Index arg;
            p.col(static_cast<Eigen::Index>(u)).maxCoeff(&arg);
            sp.label = static_cast<int>(arg);
            sp.probability = p(arg, static_cast<Eigen::Index>(u));
            ++r.votes[static_cast<std::size_t>(arg)];
            for (std::int64_t k = 0; k < K; ++k) {
                sp.proba.push_back(p(k, static_cast<Eigen::Index>(u)));
                r.proba[static_cast<std::size_t>(k)] += sp.proba.back();
            }
            ++u;
        }
        r.segments.push_back(sp);
    }
}

void Model::predict_finish(TrackPrediction& r) const {
    const auto used = std::count_if(r.segments.begin(), r.segments.end(), [](const SegmentVote& s) { return !s.silent; });
    if (used == 0)
        throw Error(r.path + ": silent: every segment peaks below " + std::to_string(static_cast<int>(fe_.params.silence_db)) +
                    " dBFS, nothing to classify");
    const std::int64_t K = static_cast<std::int64_t>(labels_.size());
    for (auto& v : r.proba) v /= static_cast<double>(used);
    r.label = static_cast<int>(std::max_element(r.proba.begin(), r.proba.end()) - r.proba.begin());
    r.vote_label = 0;
    for (std::int64_t k = 1; k < K; ++k) {
        const auto a = static_cast<std::size_t>(k), b = static_cast<std::size_t>(r.vote_label);
        if (r.votes[a] > r.votes[b] || (r.votes[a] == r.votes[b] && r.proba[a] > r.proba[b])) r.vote_label = static_cast<int>(k);
    }
}

TrackPrediction Model::predict(const TrackSpectrograms& t) const {
    TrackPrediction r;
    predict_add(t, r);
    predict_finish(r);
    return r;
}

}  // namespace genrekit
