#include "genrekit/cnn.hpp"

#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>

#include "genrekit/audio.hpp"
#include "genrekit/atomic_file.hpp"
#include "genrekit/dataset.hpp"
#include "genrekit/error.hpp"
#include "genrekit/features.hpp"
#include "genrekit/featurize.hpp"
#include "genrekit/nn/conv.hpp"
#include "genrekit/nn/loss.hpp"
#include "genrekit/nn/optim.hpp"
#include "nn/parallel.hpp"
#include "genrekit/safetensors.hpp"
#include "genrekit/sha256.hpp"

namespace genrekit {

using json = nlohmann::json;
namespace fs = std::filesystem;

static const char* kCnnFormat = "genrekit.cnn.v1";

// ---------------------------------------------------------------- config

bool is_spectrogram_config(const std::string& path) {
    try {
        const json j = json::parse(read_file(path));
        return j.contains("front_end") && j["front_end"].is_object() && j["front_end"].value("kind", "") == "spectrogram";
    } catch (const json::exception&) {
        return false;
    }
}

CnnConfig parse_cnn_config(const json& in, const std::string& src, const std::vector<std::string>& overrides, const std::string& base_dir) {
    json j = in;
    for (const auto& o : overrides) apply_override(j, o);
    CnnConfig c;
    c.resolved = j;
    auto take = [&](const char* key) {
        json v;
        if (j.contains(key)) {
            v = j[key];
            j.erase(key);
        }
        return v;
    };
    const json data = take("data"), fe = take("front_end"), aug = take("augment"), ens = take("ensemble");
    take("_comment");  // free text describing the config
    if (j.contains("label_smoothing") && !(j["label_smoothing"].is_number() && j["label_smoothing"].get<double>() == 0))
        throw Error(src + ": label_smoothing is not supported for spectrogram models yet (remove the key or set it to 0)");
    if (j.contains("normalization")) throw Error(src + ": key 'normalization' does not apply to spectrogram models (they use per-band standardization)");
    if (!fe.is_object() || fe.value("kind", "") != "spectrogram") throw Error(src + ": front_end.kind must be \"spectrogram\"");
    c.front_end = SpectrogramParams::from_json(fe, src + " front_end");
    if (!data.is_null()) {
        for (auto it = data.begin(); it != data.end(); ++it)
            if (it.key() != "audio" && it.key() != "cache_dir") throw Error(src + ": unknown key 'data." + it.key() + "' (known: audio, cache_dir)");
        if (data.contains("audio")) {
            const json& a = data["audio"];
            if (a.is_string()) c.audio.push_back(a.get<std::string>());
            else if (a.is_array()) {
                for (const auto& e : a) {
                    if (!e.is_string()) throw Error(src + ": data.audio must be a path or an array of paths");
                    c.audio.push_back(e.get<std::string>());
                }
            } else throw Error(src + ": data.audio must be a path or an array of paths");
        }
        c.cache_dir = data.value("cache_dir", "");
    }
    for (auto& a : c.audio)
        if (!base_dir.empty() && !fs::path(a).is_absolute()) a = (fs::path(base_dir) / a).lexically_normal().string();
    if (!c.cache_dir.empty() && c.cache_dir != "none" && !base_dir.empty() && !fs::path(c.cache_dir).is_absolute())
        c.cache_dir = (fs::path(base_dir) / c.cache_dir).lexically_normal().string();
    if (!aug.is_null()) {
        const std::map<std::string, int*> ints = {{"time_shift", &c.augment.time_shift},       {"time_masks", &c.augment.time_masks},
                                                  {"time_mask_frames", &c.augment.time_mask_frames}, {"freq_masks", &c.augment.freq_masks},
                                                  {"freq_mask_bands", &c.augment.freq_mask_bands}};
        for (auto it = aug.begin(); it != aug.end(); ++it) {
            if (it.key() == "mixup_alpha") {
                if (!it->is_number() || it->get<double>() < 0) throw Error(src + ": augment.mixup_alpha must be a number >= 0");
                c.augment.mixup_alpha = it->get<double>();
            } else if (ints.count(it.key())) {
                if (!it->is_number_integer() || it->get<int>() < 0) throw Error(src + ": augment." + it.key() + " must be an integer >= 0");
                *ints.at(it.key()) = it->get<int>();
            } else {
                throw Error(src + ": unknown key 'augment." + it.key() + "' (known: time_shift, time_masks, time_mask_frames, freq_masks, freq_mask_bands, mixup_alpha)");
            }
        }
    }
    if (!ens.is_null()) {
        if (!ens.is_object()) throw Error(src + ": ensemble must be an object such as {\"members\": 1, \"checkpoints\": 1}");
        for (auto it = ens.begin(); it != ens.end(); ++it) {
            if (it.key() != "members" && it.key() != "checkpoints")
                throw Error(src + ": unknown key 'ensemble." + it.key() + "' (known: members, checkpoints)");
            if (!it->is_number_integer() || it->get<std::int64_t>() < 1 || it->get<std::int64_t>() > 32)
                throw Error(src + ": ensemble." + it.key() + " must be an integer in [1, 32]");
        }
        c.members = ens.value("members", 1);
        c.checkpoints = ens.value("checkpoints", 1);
        if (c.members * c.checkpoints > 32)
            throw Error(src + ": ensemble.members x ensemble.checkpoints is " + std::to_string(c.members * c.checkpoints) +
                        " networks; at most 32");
    }
    // Per-layer "l2" keys are ours; the rest of each layer spec goes to the registry.
    if (j.contains("model") && j["model"].is_object() && j["model"].contains("layers") && j["model"]["layers"].is_array()) {
        for (auto& l : j["model"]["layers"]) {
            double v = 0;
            if (l.is_object() && l.contains("l2")) {
                if (!l["l2"].is_number() || l["l2"].get<double>() < 0) throw Error(src + ": a layer's l2 must be a number >= 0");
                v = l["l2"];
                l.erase("l2");
            }
            c.l2.push_back(v);
        }
    }
    c.base = parse_train_config(j, src, {}, base_dir);
    if (c.checkpoints > c.base.epochs)
        throw Error(src + ": ensemble.checkpoints (" + std::to_string(c.checkpoints) + ") exceeds epochs (" + std::to_string(c.base.epochs) +
                    "): a run cannot keep more snapshots than it has epochs");
    c.layers = c.base.layers;
    if (c.l2.size() != c.layers.size()) c.l2.assign(c.layers.size(), 0.0);
    return c;
}

CnnConfig load_cnn_config(const std::string& path, const std::vector<std::string>& overrides) {
    json j;
    try {
        j = json::parse(read_file(path));
    } catch (const json::exception& e) {
        throw Error(path + ": not valid JSON: " + e.what());
    }
    return parse_cnn_config(j, path, overrides, fs::path(path).parent_path().string());
}

// ---------------------------------------------------------------- model

CnnModel::CnnModel(const json& layers, std::vector<std::string> labels, SpectrogramParams fe, BandStandardizer z, int members)
    : labels_(std::move(labels)), fe_(std::move(fe)), z_(std::move(z)) {
    fe_.validate();
    if (labels_.size() < 2) throw Error("cnn model: needs at least 2 labels");
    for (int k = 0; k < members; ++k) {
        nets_.push_back(std::make_unique<nn::Network<float>>(layers, nn::Shape{1, fe_.bands(), fe_.frames()}));
        if (nn::shape_size(nets_.back()->output_shape()) != static_cast<std::int64_t>(labels_.size()))
            throw Error("cnn model: the network has " + std::to_string(nn::shape_size(nets_.back()->output_shape())) + " outputs but there are " +
                        std::to_string(labels_.size()) + " labels (end with a dense layer of one unit per class)");
    }
    if (z_.mean.size() != static_cast<std::size_t>(fe_.bands())) throw Error("cnn model: standardization does not match the front end's bands");
}
CnnModel::CnnModel(CnnModel&&) noexcept = default;
CnnModel& CnnModel::operator=(CnnModel&&) noexcept = default;
CnnModel::~CnnModel() = default;

json CnnModel::front_end() const {
    json j = fe_.to_json();
    j["kind"] = "spectrogram";
    j["standardization"] = z_.to_json();
    return j;
}

void CnnModel::save(const std::string& path) const {
    SafeTensors st;
    Sha256 h;
    for (std::size_t k = 0; k < nets_.size(); ++k)
        for (const auto& e : nets_[k]->tensors()) {
            const std::string name = nets_.size() == 1 ? e.name : "members." + std::to_string(k) + "." + e.name;
            SafeTensor t{name, e.shape, std::vector<float>(nets_[k]->data(e), nets_[k]->data(e) + e.size)};
            h.update(t.data.data(), t.data.size() * sizeof(float));
            st.tensors.push_back(std::move(t));
        }
    st.metadata["format"] = kCnnFormat;
    st.metadata["genrekit_version"] = GENREKIT_VERSION;
    st.metadata["architecture"] = json{{"input_shape", nets_[0]->input_shape()}, {"layers", nets_[0]->layers_json()}, {"members", nets_.size()}}.dump();
    st.metadata["labels"] = json(labels_).dump();
    st.metadata["front_end"] = front_end().dump();
    st.metadata["tensors_sha256"] = h.hex();
    for (auto it = info_.begin(); it != info_.end(); ++it) {
        if (st.metadata.count(it.key())) throw Error("cnn model: info key '" + it.key() + "' is reserved");
        st.metadata[it.key()] = it->dump();
    }
    save_safetensors(path, st);
}

bool CnnModel::is_cnn_model_file(const std::string& path) {
    try {
        const SafeTensors st = load_safetensors(path);
        auto it = st.metadata.find("format");
        return it != st.metadata.end() && it->second == kCnnFormat;
    } catch (const Error&) {
        return false;
    }
}

CnnModel CnnModel::load(const std::string& path) {
    const SafeTensors st = load_safetensors(path);
    auto meta = [&](const std::string& key) -> std::string {
        auto it = st.metadata.find(key);
        if (it == st.metadata.end()) throw Error(path + ": not a genrekit CNN model: __metadata__ has no '" + key + "'");
        return it->second;
    };
    if (meta("format") != kCnnFormat) throw Error(path + ": model format '" + meta("format") + "' is not '" + kCnnFormat + "'");
    json arch, fe, labels;
    try {
        arch = json::parse(meta("architecture"));
        fe = json::parse(meta("front_end"));
        labels = json::parse(meta("labels"));
    } catch (const json::exception& e) {
        throw Error(path + ": metadata is not valid JSON (tampered?): " + e.what());
    }
    std::unique_ptr<CnnModel> m;
    try {
        json params = fe;
        params.erase("standardization");
        const SpectrogramParams p = SpectrogramParams::from_json(params, path + " front_end");
        const BandStandardizer z = BandStandardizer::from_json(fe.at("standardization"), p.bands(), path);
        m = std::make_unique<CnnModel>(arch.at("layers"), labels.get<std::vector<std::string>>(), p, z, arch.value("members", 1));
    } catch (const json::exception& e) {
        throw Error(path + ": metadata malformed: " + e.what());
    } catch (const Error& e) {
        throw Error(path + ": " + e.what());
    }
    Sha256 h;
    std::size_t count = 0;
    for (std::size_t k = 0; k < m->nets_.size(); ++k) {
        auto& net = *m->nets_[k];
        for (const auto& e : net.tensors()) {
            const std::string name = m->nets_.size() == 1 ? e.name : "members." + std::to_string(k) + "." + e.name;
            const SafeTensor* t = st.find(name);
            if (!t) throw Error(path + ": tensor '" + name + "' required by the architecture is missing");
            if (t->shape != e.shape) throw Error(path + ": tensor '" + name + "' has shape " + nn::shape_str(t->shape) + ", expected " + nn::shape_str(e.shape));
            std::memcpy(net.data(e), t->data.data(), e.size * sizeof(float));
            h.update(t->data.data(), e.size * sizeof(float));
            ++count;
        }
        if (!net.all_finite()) throw Error(path + ": parameter values are not finite");
    }
    if (count != st.tensors.size()) throw Error(path + ": file has " + std::to_string(st.tensors.size()) + " tensors, the architecture " + std::to_string(count));
    if (h.hex() != meta("tensors_sha256")) throw Error(path + ": tensor data does not match its recorded sha256 (file modified or corrupted)");
    for (const auto& [k, v] : st.metadata) {
        if (k == "format" || k == "genrekit_version" || k == "architecture" || k == "labels" || k == "front_end" || k == "tensors_sha256") continue;
        try {
            m->info_[k] = json::parse(v);
        } catch (const json::exception&) {
            m->info_[k] = v;
        }
    }
    return std::move(*m);
}

Eigen::MatrixXf CnnModel::segment_proba(const float* x, std::int64_t n) {
    const std::int64_t F = fe_.bands() * fe_.frames(), K = static_cast<std::int64_t>(labels_.size()), chunk = 64;
    Eigen::MatrixXf out = Eigen::MatrixXf::Zero(K, n);
    nn::Mat<float> p(K, chunk);
    for (auto& net : nets_) {
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

CnnTrackPrediction CnnModel::predict(const TrackSpectrograms& t) {
    if (t.bands != fe_.bands() || t.frames != fe_.frames()) throw Error(t.path + ": spectrogram shape does not match the model's front end");
    const std::int64_t F = fe_.bands() * fe_.frames(), K = static_cast<std::int64_t>(labels_.size());
    std::vector<float> x;
    std::vector<std::size_t> used;
    for (std::size_t s = 0; s < t.size(); ++s) {
        if (t.silent[s]) continue;
        used.push_back(s);
        x.insert(x.end(), t.data(s), t.data(s) + F);
        z_.apply(x.data() + (used.size() - 1) * static_cast<std::size_t>(F), fe_.frames());
    }
    if (used.empty())
        throw Error(t.path + ": silent: every segment peaks below " + std::to_string(static_cast<int>(fe_.silence_db)) + " dBFS, nothing to classify");
    const Eigen::MatrixXf p = segment_proba(x.data(), static_cast<std::int64_t>(used.size()));
    CnnTrackPrediction r;
    r.path = t.path;
    r.proba.assign(static_cast<std::size_t>(K), 0.0);
    r.votes.assign(static_cast<std::size_t>(K), 0);
    for (std::size_t s = 0, u = 0; s < t.size(); ++s) {
        CnnSegment sp;
        sp.start = t.starts[s];
        sp.end = t.starts[s] + fe_.segment;
        sp.silent = t.silent[s] != 0;
        if (!sp.silent) {
            Eigen::Index arg;
            p.col(static_cast<Eigen::Index>(u)).maxCoeff(&arg);
            sp.label = static_cast<int>(arg);
            sp.probability = p(arg, static_cast<Eigen::Index>(u));
            ++r.votes[static_cast<std::size_t>(arg)];
            for (std::int64_t k = 0; k < K; ++k) r.proba[static_cast<std::size_t>(k)] += p(k, static_cast<Eigen::Index>(u));
            ++u;
        }
        r.segments.push_back(sp);
    }
    for (auto& v : r.proba) v /= static_cast<double>(used.size());
    r.label = static_cast<int>(std::max_element(r.proba.begin(), r.proba.end()) - r.proba.begin());
    r.vote_label = 0;
    for (std::int64_t k = 1; k < K; ++k) {
        const auto a = static_cast<std::size_t>(k), b = static_cast<std::size_t>(r.vote_label);
        if (r.votes[a] > r.votes[b] || (r.votes[a] == r.votes[b] && r.proba[a] > r.proba[b])) r.vote_label = static_cast<int>(k);
    }
    return r;
}

json prediction_json(const CnnModel& model, const CnnTrackPrediction& p, bool with_segments) {
    json probs = json::object();
    for (std::size_t k = 0; k < p.proba.size(); ++k) probs[model.labels()[k]] = p.proba[k];
    json j = {{"file", p.path}, {"label", model.labels()[static_cast<std::size_t>(p.label)]},
              {"probability", p.proba[static_cast<std::size_t>(p.label)]},
              {"vote_label", model.labels()[static_cast<std::size_t>(p.vote_label)]}, {"probabilities", probs}};
    if (with_segments) {
        json segs = json::array();
        for (const auto& s : p.segments) {
            if (s.silent) segs.push_back({{"start", s.start}, {"end", s.end}, {"label", nullptr}, {"probability", nullptr}, {"silent", true}});
            else segs.push_back({{"start", s.start}, {"end", s.end}, {"label", model.labels()[static_cast<std::size_t>(s.label)]}, {"probability", s.probability}});
        }
        j["segments"] = segs;
    }
    return j;
}

// ---------------------------------------------------------------- data

namespace {

struct AudioSet {
    std::vector<InputFile> inputs;
    std::vector<TrackSpectrograms> tracks;
    std::vector<std::string> labels;  // sorted distinct
    std::vector<int> classes;         // per track
};

// Loads (through the cache) every file; throws one Error naming the first bad file (and how many failed).
std::vector<TrackSpectrograms> load_tracks(const std::vector<InputFile>& inputs, const SpectrogramParams& p, SpectrogramCache& cache,
                                           std::vector<std::string>* failures) {
    std::vector<TrackSpectrograms> tracks(inputs.size());
    std::vector<std::string> errs(inputs.size());
    nn::parallel_for(static_cast<std::int64_t>(inputs.size()), [&](std::int64_t b, std::int64_t e, int) {
        for (std::int64_t i = b; i < e; ++i) {
            const auto u = static_cast<std::size_t>(i);
            try {
                tracks[u] = cache.get(inputs[u].path, p);
                if (std::all_of(tracks[u].silent.begin(), tracks[u].silent.end(), [](std::uint8_t s) { return s != 0; })) {
                    errs[u] = inputs[u].path + ": silent: every segment peaks below " + std::to_string(static_cast<int>(p.silence_db)) + " dBFS";
                    tracks[u] = TrackSpectrograms();  // reported once, here; callers skip empty tracks
                }
            } catch (const Error& ex) {
                errs[u] = ex.what();
            }
        }
    });
    for (const auto& e : errs)
        if (!e.empty()) failures->push_back(e);
    return tracks;
}

AudioSet load_labelled(const std::vector<std::string>& paths, const SpectrogramParams& p, SpectrogramCache& cache) {
    if (paths.empty()) throw Error("config: data.audio is empty (give folders of <label>/ sub-folders with audio)");
    AudioSet s;
    s.inputs = collect_inputs(paths, std::nullopt);
    if (s.inputs.empty()) throw Error(paths[0] + ": no audio files found (wav au aiff aif flac ogg mp3)");
    std::set<std::string> ls;
    for (const auto& in : s.inputs) ls.insert(in.label);
    s.labels.assign(ls.begin(), ls.end());
    if (s.labels.size() < 2)
        throw Error(paths[0] + ": only one class ('" + s.labels[0] + "'); a classifier needs at least two label sub-folders");
    std::vector<std::string> failures;
    s.tracks = load_tracks(s.inputs, p, cache, &failures);
    if (!failures.empty())
        throw Error(failures[0] + (failures.size() > 1 ? " (and " + std::to_string(failures.size() - 1) + " more bad files)" : std::string()));
    for (const auto& in : s.inputs) s.classes.push_back(static_cast<int>(std::lower_bound(s.labels.begin(), s.labels.end(), in.label) - s.labels.begin()));
    return s;
}

// Gamma(a, 1) by Marsaglia-Tsang (a >= 1; boosted for a < 1). ref: numpy random standard_gamma.
double gamma_sample(nn::Rng& rng, double a) {
    if (a < 1) return gamma_sample(rng, a + 1) * std::pow(std::max(rng.uniform_double(), 1e-300), 1.0 / a);
    const double d = a - 1.0 / 3.0, c = 1.0 / std::sqrt(9 * d);
    while (true) {
        double x, v;
        do {
            x = rng.normal();
            v = 1 + c * x;
        } while (v <= 0);
        v = v * v * v;
        const double u = rng.uniform_double();
        if (u < 1 - 0.0331 * x * x * x * x || std::log(u) < 0.5 * x * x + d * (1 - v + std::log(v))) return d * v;
    }
}

struct SegSet {
    nn::Mat<float> x;  // F x S, standardized
    std::vector<std::int32_t> y;
    std::vector<std::size_t> track;  // index into AudioSet
};

SegSet gather(const AudioSet& a, const std::vector<std::size_t>& tracks, const BandStandardizer& z, int frames) {
    SegSet s;
    std::size_t n = 0;
    for (auto t : tracks)
        for (auto v : a.tracks[t].silent) n += v == 0;
    const std::int64_t F = a.tracks[0].bands * a.tracks[0].frames;
    s.x.resize(F, static_cast<Eigen::Index>(n));
    std::size_t c = 0;
    for (auto t : tracks)
        for (std::size_t i = 0; i < a.tracks[t].size(); ++i) {
            if (a.tracks[t].silent[i]) continue;
            std::copy(a.tracks[t].data(i), a.tracks[t].data(i) + F, s.x.col(static_cast<Eigen::Index>(c)).data());
            z.apply(s.x.col(static_cast<Eigen::Index>(c)).data(), frames);
            s.y.push_back(a.classes[t]);
            s.track.push_back(t);
            ++c;
        }
    return s;
}

bool improves(const std::string& monitor, double now, double best, double min_delta) {
    if (std::isnan(now)) return false;
    if (std::isnan(best)) return true;
    return monitor == "val_acc" ? now > best + min_delta : now < best - min_delta;
}
double monitored(const std::string& m, const EpochLog& e) { return m == "val_acc" ? e.val_acc : e.val_loss; }

// Segment loss/accuracy in inference mode.
std::pair<double, double> seg_eval(nn::Network<float>& net, const SegSet& s) {
    const Eigen::Index K = nn::shape_size(net.output_shape()), chunk = 64;
    nn::Mat<float> p(K, chunk);
    double loss = 0;
    std::size_t correct = 0;
    for (Eigen::Index c0 = 0; c0 < s.x.cols(); c0 += chunk) {
        const Eigen::Index n = std::min(chunk, s.x.cols() - c0);
        auto logits = net.forward(nn::CMatView<float>(s.x.col(c0).data(), s.x.rows(), n), {});
        loss += static_cast<double>(nn::softmax_cross_entropy_forward<float>(logits, s.y.data() + c0, nn::MatView<float>(p.data(), K, n))) * static_cast<double>(n);
        for (Eigen::Index i = 0; i < n; ++i) {
            Eigen::Index arg;
            p.col(i).maxCoeff(&arg);
            correct += arg == s.y[static_cast<std::size_t>(c0 + i)];
        }
    }
    return {loss / static_cast<double>(s.x.cols()), static_cast<double>(correct) / static_cast<double>(s.x.cols())};
}

void augment_batch(const AugmentConfig& a, nn::Rng& rng, float* x, int bands, int frames, std::int64_t n, std::vector<float>& tmp) {
    for (std::int64_t i = 0; i < n; ++i) {
        float* s = x + i * bands * frames;
        if (a.time_shift > 0) {  // circular shift along time by [-time_shift, time_shift] frames
            const int sh = static_cast<int>(rng.below(static_cast<std::uint64_t>(2 * a.time_shift + 1))) - a.time_shift;
            if (sh != 0) {
                tmp.resize(static_cast<std::size_t>(frames));
                for (int b = 0; b < bands; ++b) {
                    float* row = s + b * frames;
                    for (int f = 0; f < frames; ++f) tmp[static_cast<std::size_t>(((f + sh) % frames + frames) % frames)] = row[f];
                    std::copy(tmp.begin(), tmp.end(), row);
                }
            }
        }
        // ref: Park et al. 2019 SpecAugment: masks of width ~ U[0, W] at a uniform position; masked values
        // are set to 0, the standardized mean.
        for (int m = 0; m < a.time_masks; ++m) {
            const int w = static_cast<int>(rng.below(static_cast<std::uint64_t>(std::min(a.time_mask_frames, frames) + 1)));
            const int f0 = static_cast<int>(rng.below(static_cast<std::uint64_t>(frames - w + 1)));
            for (int b = 0; b < bands; ++b) std::fill(s + b * frames + f0, s + b * frames + f0 + w, 0.0f);
        }
        for (int m = 0; m < a.freq_masks; ++m) {
            const int w = static_cast<int>(rng.below(static_cast<std::uint64_t>(std::min(a.freq_mask_bands, bands) + 1)));
            const int b0 = static_cast<int>(rng.below(static_cast<std::uint64_t>(bands - w + 1)));
            std::fill(s + b0 * frames, s + (b0 + w) * frames, 0.0f);
        }
    }
}

json track_metrics(CnnModel& model, const AudioSet& a, const std::vector<std::size_t>& tracks) {
    if (tracks.empty()) return json();
    std::size_t tc = 0, vc = 0, segs = 0, sc = 0;
    for (auto t : tracks) {
        const CnnTrackPrediction p = model.predict(a.tracks[t]);
        tc += p.label == a.classes[t];
        vc += p.vote_label == a.classes[t];
        for (const auto& s : p.segments)
            if (!s.silent) {
                ++segs;
                sc += s.label == a.classes[t];
            }
    }
    const double n = static_cast<double>(tracks.size());
    return {{"tracks", tracks.size()}, {"track_accuracy", static_cast<double>(tc) / n}, {"vote_accuracy", static_cast<double>(vc) / n},
            {"segments", segs}, {"segment_accuracy", segs ? static_cast<double>(sc) / static_cast<double>(segs) : 0.0}};
}

}  // namespace

// ---------------------------------------------------------------- training

CnnTrainResult train_cnn(const CnnConfig& cfg, const std::function<void(const EpochLog&)>& on_epoch,
                         const std::function<void(const std::string&)>& on_message) {
    nn::set_num_threads(cfg.base.threads);
    SpectrogramCache cache(cfg.cache_dir);
    const AudioSet a = load_labelled(cfg.audio, cfg.front_end, cache);
    if (on_message)
        on_message("data: " + std::to_string(a.inputs.size()) + " tracks, " + std::to_string(a.labels.size()) + " labels; spectrogram cache " + cache.dir() + " (" +
                   std::to_string(cache.hits()) + " hits, " + std::to_string(cache.misses()) + " computed)");

    // Track-level split through the feature-table splitter (one row per track).
    FeatureTable ft;
    ft.path = cfg.audio[0];
    for (std::size_t i = 0; i < a.inputs.size(); ++i) {
        ft.files.push_back(a.inputs[i].rel);
        ft.labels.push_back(a.inputs[i].label);
        ft.lines.push_back(static_cast<int>(i + 1));
    }
    const Split split = make_split(ft, a.classes, cfg.base.split, false);
    if (split.train.empty()) throw Error(cfg.audio[0] + ": the training set is empty (check the split configuration)");
    std::set<int> train_classes;
    for (auto t : split.train) train_classes.insert(a.classes[t]);
    if (train_classes.size() < 2) throw Error(cfg.audio[0] + ": the training split has only one class; a classifier needs at least two");
    const bool has_valid = !split.valid.empty();
    if (!has_valid && (cfg.base.early_stopping.enabled || cfg.base.reduce_lr_on_plateau.enabled || cfg.base.checkpoint.keep_best))
        throw Error("config: early_stopping, reduce_lr_on_plateau and checkpoint.keep_best need a validation set (split.valid > 0 or split.valid_lists)");

    std::vector<const TrackSpectrograms*> tp;
    std::vector<std::vector<std::size_t>> ts;
    for (auto t : split.train) {
        tp.push_back(&a.tracks[t]);
        ts.emplace_back();
        for (std::size_t i = 0; i < a.tracks[t].size(); ++i)
            if (!a.tracks[t].silent[i]) ts.back().push_back(i);
    }
    const BandStandardizer z = BandStandardizer::fit(tp, ts);
    const int frames = cfg.front_end.frames(), bands = cfg.front_end.bands();
    const SegSet train = gather(a, split.train, z, frames), valid = gather(a, split.valid, z, frames);
    {  // No leakage: every segment of a track is on the side of its track (asserted on segment rows).
        Split seg_split;
        std::vector<std::string> seg_track;
        for (auto* s : {&train, &valid})
            for (std::size_t i = 0; i < s->track.size(); ++i) {
                (s == &train ? seg_split.train : seg_split.valid).push_back(seg_track.size());
                seg_track.push_back(a.inputs[s->track[i]].rel);
            }
        const SegSet test_probe = gather(a, split.test, z, frames);
        for (std::size_t i = 0; i < test_probe.track.size(); ++i) {
            seg_split.test.push_back(seg_track.size());
            seg_track.push_back(a.inputs[test_probe.track[i]].rel);
        }
        assert_tracks_disjoint(seg_split, seg_track);
    }

    json layers = cfg.layers;
    if (layers.is_array() && !layers.empty() && layers.back().value("type", "") == "dense" && !layers.back().contains("units"))
        layers.back()["units"] = a.labels.size();
    CnnModel probe(layers, a.labels, cfg.front_end, z, 1);  // checks the architecture before any training

    CnnTrainResult res{std::move(probe), {}, json::object(), split.train.size(), split.valid.size(), split.test.size()};
    const std::int64_t F = static_cast<std::int64_t>(bands) * frames, K = static_cast<std::int64_t>(a.labels.size());
    // The parameters every seed keeps (ensemble.checkpoints per seed), seed by seed; the model is
    // built from them after training.
    std::vector<std::vector<float>> kept;
    json kept_epochs = json::array();
    for (int member = 0; member < cfg.members; ++member) {
        nn::Network<float> net(layers, nn::Shape{1, bands, frames});
        // The dense/activation layers split large arrays over the pool nn::parallel_for runs the CNN
        // layers on (one set of threads; set_num_threads above sized it). Detached again below.
        net.set_pool(nn::shared_pool());
        std::uint64_t sm = cfg.base.seed + static_cast<std::uint64_t>(member);
        nn::Rng init_rng(nn::splitmix64(sm)), shuffle_rng(nn::splitmix64(sm)), pass_rng(nn::splitmix64(sm)), aug_rng(nn::splitmix64(sm));
        net.init(init_rng);
        auto opt = nn::make_optimizer(cfg.base.optimizer, net.num_params());
        // Per-layer L2 on the multiplicative tensors ("weight": conv/dense weights, BatchNorm gamma).
        std::vector<std::tuple<std::size_t, std::size_t, float>> l2;
        for (const auto& e : net.tensors())
            if ((e.kind == nn::ParamKind::Weight || e.kind == nn::ParamKind::Scale) && e.layer < cfg.l2.size() && cfg.l2[e.layer] > 0)
                l2.emplace_back(e.offset, e.size, static_cast<float>(2 * cfg.l2[e.layer]));
        const auto B = static_cast<std::int64_t>(std::min<std::size_t>(static_cast<std::size_t>(cfg.base.batch_size), static_cast<std::size_t>(train.x.cols())));
        nn::Mat<float> xb(F, B), probs(K, B), dlogits(K, B);
        std::vector<std::int32_t> yb(static_cast<std::size_t>(B)), yb2(static_cast<std::size_t>(B));
        std::vector<float> tmp;
        std::vector<std::size_t> order(static_cast<std::size_t>(train.x.cols()));
        for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
        net.reserve(B);
        std::vector<EpochLog> history;
        std::vector<float> best_params;
        double best_ckpt = NAN, best_es = NAN, best_plateau = NAN;
        int es_wait = 0, plateau_wait = 0, best_epoch = 0;
        // Snapshot ensemble (checkpoints > 1): with a validation set the C best epochs by
        // checkpoint.monitor, kept sorted best first (a later epoch must beat, not tie, to rank
        // higher); without one the last C epochs, newest first.
        struct Snapshot {
            int epoch;
            double score;
            std::vector<float> params;
        };
        std::vector<Snapshot> snaps;
        const auto C = static_cast<std::size_t>(cfg.checkpoints);
        const std::string& snap_monitor = cfg.base.checkpoint.monitor;
        for (int epoch = 1; epoch <= cfg.base.epochs; ++epoch) {
            const auto t0 = std::chrono::steady_clock::now();
            shuffle_rng.shuffle(order);
            double loss_sum = 0;
            std::size_t correct = 0;
            for (std::size_t b0 = 0; b0 < order.size(); b0 += static_cast<std::size_t>(B)) {
                const auto n = static_cast<std::int64_t>(std::min<std::size_t>(static_cast<std::size_t>(B), order.size() - b0));
                if (n < 2 && b0 > 0) break;  // BatchNorm needs 2 samples: drop a last batch of one
                for (std::int64_t i = 0; i < n; ++i) {
                    const std::size_t k = order[b0 + static_cast<std::size_t>(i)];
                    xb.col(i) = train.x.col(static_cast<Eigen::Index>(k));
                    yb[static_cast<std::size_t>(i)] = train.y[k];
                }
                augment_batch(cfg.augment, aug_rng, xb.data(), bands, frames, n, tmp);
                float lam = 1;
                if (cfg.augment.mixup_alpha > 0) {  // ref: Zhang et al. 2018 mixup: one lambda per batch, a shuffled partner
                    const double g1 = gamma_sample(aug_rng, cfg.augment.mixup_alpha), g2 = gamma_sample(aug_rng, cfg.augment.mixup_alpha);
                    lam = static_cast<float>(g1 / (g1 + g2));
                    std::vector<std::int64_t> perm(static_cast<std::size_t>(n));
                    for (std::int64_t i = 0; i < n; ++i) perm[static_cast<std::size_t>(i)] = i;
                    aug_rng.shuffle(perm);
                    nn::Mat<float> mixed(F, n);
                    for (std::int64_t i = 0; i < n; ++i) {
                        const auto j = perm[static_cast<std::size_t>(i)];
                        mixed.col(i) = lam * xb.col(i) + (1 - lam) * xb.col(j);
                        yb2[static_cast<std::size_t>(i)] = yb[static_cast<std::size_t>(j)];
                    }
                    xb.leftCols(n) = mixed;
                }
                net.zero_grad();
                auto logits = net.forward(nn::CMatView<float>(xb.data(), F, n), {true, &pass_rng});
                nn::MatView<float> p(probs.data(), K, n);
                float loss = nn::softmax_cross_entropy_forward<float>(logits, yb.data(), p);
                nn::MatView<float> d(dlogits.data(), K, n);
                nn::softmax_cross_entropy_backward<float>(nn::CMatView<float>(probs.data(), K, n), yb.data(), d);
                if (lam < 1) {  // loss = lam CE(y) + (1 - lam) CE(y2); dlogits = p - lam e_y - (1 - lam) e_y2, over n
                    double l2loss = 0;
                    for (std::int64_t i = 0; i < n; ++i) l2loss -= std::log(std::max(p(yb2[static_cast<std::size_t>(i)], i), 1e-30f));
                    loss = lam * loss + (1 - lam) * static_cast<float>(l2loss / static_cast<double>(n));
                    for (std::int64_t i = 0; i < n; ++i) {
                        d(yb[static_cast<std::size_t>(i)], i) += (1 - lam) / static_cast<float>(n);
                        d(yb2[static_cast<std::size_t>(i)], i) -= (1 - lam) / static_cast<float>(n);
                    }
                }
                if (!std::isfinite(loss)) throw Error("training diverged at epoch " + std::to_string(epoch) + " (loss is not finite; lower optimizer.lr)");
                net.backward(nn::CMatView<float>(dlogits.data(), K, n));
                float* P = net.params();
                float* G = net.grads();
                for (const auto& [off, size, k2] : l2)
                    for (std::size_t i = off; i < off + size; ++i) G[i] += k2 * P[i];
                opt->step(P, G, net.num_params());
                loss_sum += static_cast<double>(loss) * static_cast<double>(n);
                for (std::int64_t i = 0; i < n; ++i) {
                    Eigen::Index arg;
                    p.col(i).maxCoeff(&arg);
                    correct += arg == yb[static_cast<std::size_t>(i)];
                }
            }
            EpochLog e;
            e.epoch = epoch;
            e.loss = loss_sum / static_cast<double>(order.size());
            e.acc = static_cast<double>(correct) / static_cast<double>(order.size());
            e.lr = opt->lr();
            if (has_valid) std::tie(e.val_loss, e.val_acc) = seg_eval(net, valid);
            e.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            history.push_back(e);
            if (on_epoch) on_epoch(e);
            const auto& bc = cfg.base;
            if (C > 1) {
                const double score = has_valid ? monitored(snap_monitor, e) : static_cast<double>(epoch);
                // Strictly better: a newer epoch, or improves() on the monitor (a NaN score never is; any number beats NaN).
                auto better = [&](double x, double y) { return has_valid ? improves(snap_monitor, x, y, 0) : x > y; };
                std::size_t pos = 0;  // after every kept snapshot at least as good
                while (pos < snaps.size() && !better(score, snaps[pos].score)) ++pos;
                if (pos < C) {
                    snaps.insert(snaps.begin() + static_cast<std::ptrdiff_t>(pos), Snapshot{epoch, score, net.snapshot()});
                    if (snaps.size() > C) snaps.pop_back();
                }
            }
            if (bc.checkpoint.keep_best && improves(bc.checkpoint.monitor, monitored(bc.checkpoint.monitor, e), best_ckpt, 0)) {
                best_ckpt = monitored(bc.checkpoint.monitor, e);
                best_params = net.snapshot();
                best_epoch = epoch;
            }
            if (bc.reduce_lr_on_plateau.enabled) {  // ref: torch.optim.lr_scheduler.ReduceLROnPlateau (as train.cpp)
                const auto& pc = bc.reduce_lr_on_plateau;
                if (improves(pc.monitor, monitored(pc.monitor, e), best_plateau, 0)) {
                    best_plateau = monitored(pc.monitor, e);
                    plateau_wait = 0;
                } else if (++plateau_wait > pc.patience) {
                    opt->set_lr(std::max(opt->lr() * pc.factor, pc.min_lr));
                    plateau_wait = 0;
                }
            }
            if (bc.early_stopping.enabled) {
                const auto& es = bc.early_stopping;
                if (improves(es.monitor, monitored(es.monitor, e), best_es, es.min_delta)) {
                    best_es = monitored(es.monitor, e);
                    es_wait = 0;
                } else if (++es_wait >= es.patience) {
                    break;
                }
            }
        }
        net.set_pool(nullptr);
        json epochs = json::array();
        if (C > 1) {
            for (auto& sn : snaps) {
                epochs.push_back(sn.epoch);
                kept.push_back(std::move(sn.params));
            }
            best_epoch = snaps.front().epoch;
        } else {
            if (cfg.base.checkpoint.keep_best && !best_params.empty()) net.restore(best_params);
            else best_epoch = static_cast<int>(history.size());
            kept.push_back(net.snapshot());
            epochs.push_back(best_epoch);
        }
        kept_epochs.push_back(epochs);
        if (member == 0) {
            res.history = history;
            res.metrics["best_epoch"] = best_epoch;
            res.metrics["epochs_run"] = history.size();
        }
        if (on_message && C > 1)
            on_message("seed " + std::to_string(cfg.base.seed + static_cast<std::uint64_t>(member)) + ": kept the parameters of epochs " + epochs.dump() +
                       (has_valid ? " (best " + snap_monitor + " first)" : " (the last epochs, newest first)"));
        if (on_message && cfg.members > 1) on_message("ensemble member " + std::to_string(member + 1) + "/" + std::to_string(cfg.members) + " done");
    }
    {
        CnnModel model(layers, a.labels, cfg.front_end, z, static_cast<int>(kept.size()));
        for (std::size_t k = 0; k < kept.size(); ++k) model.network(static_cast<int>(k)).restore(kept[k]);
        res.model = std::move(model);
    }
    if (cfg.members > 1 || cfg.checkpoints > 1)  // kept_epochs: per seed, the epoch of each member in file order
        res.metrics["ensemble"] = {{"members", cfg.members}, {"checkpoints", cfg.checkpoints}, {"networks", kept.size()}, {"kept_epochs", kept_epochs},
                                   {"kept_by", cfg.checkpoints == 1 ? std::string("single") : has_valid ? cfg.base.checkpoint.monitor : std::string("last")}};
    res.metrics["train"] = track_metrics(res.model, a, split.train);
    if (!split.valid.empty()) res.metrics["valid"] = track_metrics(res.model, a, split.valid);
    if (!split.test.empty()) res.metrics["test"] = track_metrics(res.model, a, split.test);
    auto names = [&](const std::vector<std::size_t>& v) {
        Sha256 h;
        for (auto t : v) {
            h.update(a.inputs[t].rel.data(), a.inputs[t].rel.size());
            h.update("\n", 1);
        }
        return h.hex();
    };
    res.model.info()["config"] = cfg.resolved;
    res.model.info()["metrics"] = res.metrics;
    res.model.info()["training_data"] = {{"audio", cfg.audio},
                                         {"tracks", {{"train", split.train.size()}, {"valid", split.valid.size()}, {"test", split.test.size()}}},
                                         {"train_tracks_sha256", names(split.train)}, {"valid_tracks_sha256", names(split.valid)},
                                         {"test_tracks_sha256", names(split.test)}, {"train_segments", train.x.cols()}};
    return res;
}

CnnCrossValidation cross_validate_cnn(const CnnConfig& cfg, int k, const std::function<void(int, const CnnTrainResult&)>& on_fold) {
    if (k < 2) throw Error("--cv: k must be >= 2");
    CnnCrossValidation cv;
    cv.k = k;
    for (int f = 0; f < k; ++f) {
        CnnConfig c = cfg;
        c.base = cv_fold_config(cfg.base, k, f);  // the feature models' CV folds (valid only when a monitor needs it)
        c.resolved["split"] = {{"kind", "kfold"}, {"k", k}, {"fold", f}, {"valid", c.base.split.valid}, {"seed", c.base.split.seed}};
        const CnnTrainResult r = train_cnn(c);
        cv.accuracy.push_back(r.metrics["test"]["track_accuracy"].get<double>());
        cv.vote_accuracy.push_back(r.metrics["test"]["vote_accuracy"].get<double>());
        if (on_fold) on_fold(f, r);
    }
    const FoldSpread spread = fold_spread(cv.accuracy);
    cv.mean = spread.mean;
    cv.sd = spread.sd;
    cv.sd_sample = spread.sd_sample;
    return cv;
}

// ---------------------------------------------------------------- evaluation

CnnEvaluation evaluate_cnn(CnnModel& model, const std::vector<std::string>& paths, const std::string& manifest) {
    CnnEvaluation ev;
    const auto inputs = collect_inputs(paths, std::nullopt, manifest);
    if (inputs.empty()) throw Error((paths.empty() ? manifest : paths[0]) + ": no audio files found");
    SpectrogramCache cache("none");
    std::vector<std::string> failures;
    const auto tracks = load_tracks(inputs, model.params(), cache, &failures);
    ev.failures = failures;
    std::size_t tc = 0, vc = 0, sc = 0;
    for (std::size_t i = 0; i < inputs.size(); ++i) {
        if (tracks[i].size() == 0) continue;
        const int y = [&] {
            for (std::size_t k = 0; k < model.labels().size(); ++k)
                if (model.labels()[k] == inputs[i].label) return static_cast<int>(k);
            return -1;
        }();
        if (y < 0) throw Error(inputs[i].path + ": label '" + inputs[i].label + "' (its folder) is not one the model knows");
        CnnTrackPrediction p;
        try {
            p = model.predict(tracks[i]);
        } catch (const Error& e) {
            if (std::find(ev.failures.begin(), ev.failures.end(), std::string(e.what())) == ev.failures.end()) ev.failures.push_back(e.what());
            continue;
        }
        tc += p.label == y;
        vc += p.vote_label == y;
        for (const auto& s : p.segments)
            if (!s.silent) {
                ++ev.segments;
                sc += s.label == y;
            }
        ev.tracks.push_back(std::move(p));
        ev.truth.push_back(y);
    }
    if (ev.tracks.empty()) throw Error("eval: no track could be evaluated (" + (ev.failures.empty() ? std::string("no input") : ev.failures[0]) + ")");
    const double n = static_cast<double>(ev.tracks.size());
    ev.track_accuracy = static_cast<double>(tc) / n;
    ev.vote_accuracy = static_cast<double>(vc) / n;
    ev.segment_accuracy = ev.segments ? static_cast<double>(sc) / static_cast<double>(ev.segments) : 0.0;
    return ev;
}

PredictReport predict_files_cnn(CnnModel& model, const std::vector<std::string>& paths, const PredictOptions& options) {
    PredictReport r;
    const auto inputs = collect_inputs(paths, std::string("?"));
    if (inputs.empty()) throw Error((paths.empty() ? std::string("predict") : paths[0]) + ": no audio files found");
    if (options.jobs > 0) nn::set_num_threads(options.jobs);
    SpectrogramCache cache("none");
    std::vector<std::string> failures;
    const auto tracks = load_tracks(inputs, model.params(), cache, &failures);
    for (const auto& f : failures)
        if (options.on_message) options.on_message(f);
    r.failures = failures;
    for (std::size_t i = 0; i < inputs.size(); ++i) {
        if (tracks[i].size() == 0) continue;
        CnnTrackPrediction p;
        try {
            p = model.predict(tracks[i]);
        } catch (const Error& e) {
            if (std::find(r.failures.begin(), r.failures.end(), std::string(e.what())) == r.failures.end()) r.failures.push_back(e.what());
            continue;
        }
        FilePrediction f;
        f.file = inputs[i].path;
        f.probabilities = p.proba;
        f.label = p.label;
        f.majority = p.vote_label;
        // The tempo column's computation, on the file at the feature front end's 22050 Hz.
        try {
            f.bpm = estimate_tempo(load_audio(inputs[i].path).samples);
        } catch (const Error&) {
            f.bpm = NAN;  // the spectrogram loaded, so this cannot fail in practice; keep the prediction
        }
        for (const auto& s : p.segments)
            if (!s.silent) f.segments.push_back({s.start, s.end, s.label, s.probability});
        r.files.push_back(std::move(f));
    }
    return r;
}

}  // namespace genrekit
