#include "genrekit/train_config.hpp"

#include <filesystem>
#include <map>
#include <cmath>
#include <string_view>

#include "genrekit/atomic_file.hpp"
#include "genrekit/csv.hpp"
#include "genrekit/error.hpp"
#include "genrekit/json_text.hpp"

namespace genrekit {

using json = nlohmann::json;
using ojson = nlohmann::ordered_json;

ojson to_json(const TrainConfig& c) {
    ojson j;
    j["data"] = {{"csv", c.data.csv}, {"label_column", c.data.label_column}, {"file_column", c.data.file_column},
                 {"feature_columns", c.data.feature_columns}, {"exclude_columns", c.data.exclude_columns}};
    j["front_end"] = {{"kind", c.front_end.kind}, {"sample_rate", c.front_end.sample_rate}, {"mode", c.front_end.mode}};
    j["normalization"] = c.normalization;
    j["split"] = {{"kind", c.split.kind}, {"valid", c.split.valid}, {"test", c.split.test}, {"stratified", c.split.stratified},
                  {"seed", c.split.seed}, {"train_lists", c.split.train_lists}, {"valid_lists", c.split.valid_lists},
                  {"test_lists", c.split.test_lists}, {"k", c.split.k}, {"fold", c.split.fold}};
    // Only when set, so that the stored config of a model trained without groups is as it always was.
    if (!c.split.group_file.empty()) j["split"]["group_file"] = c.split.group_file;
    if (!c.split.group_column.empty()) j["split"]["group_column"] = c.split.group_column;
    ojson layers = ojson::parse(dump_json(c.layers));
    for (std::size_t i = 0; i < c.l2.size() && i < layers.size(); ++i)
        if (c.l2[i] > 0) layers[i]["l2"] = c.l2[i];
    j["model"] = {{"layers", layers}};
    const auto& o = c.optimizer;
    j["optimizer"] = {{"type", o.type}, {"lr", o.lr}, {"weight_decay", o.weight_decay}, {"momentum", o.momentum},
                      {"beta1", o.beta1}, {"beta2", o.beta2}, {"alpha", o.alpha}, {"eps", o.eps}};
    j["batch_size"] = c.batch_size;
    j["epochs"] = c.epochs;
    j["seed"] = c.seed;
    j["threads"] = c.threads;
    j["label_smoothing"] = c.label_smoothing;
    const auto& p = c.reduce_lr_on_plateau;
    j["reduce_lr_on_plateau"] = {{"enabled", p.enabled}, {"monitor", p.monitor}, {"factor", p.factor}, {"patience", p.patience}, {"min_lr", p.min_lr}};
    const auto& e = c.early_stopping;
    j["early_stopping"] = {{"enabled", e.enabled}, {"monitor", e.monitor}, {"patience", e.patience}, {"min_delta", e.min_delta}};
    j["checkpoint"] = {{"keep_best", c.checkpoint.keep_best}, {"monitor", c.checkpoint.monitor}};
    // Only when set, so that the stored config of a model without them is as it always was.
    const auto& a = c.augment;
    if (a.mixup_alpha > 0 || a.spectrogram_only())
        j["augment"] = {{"time_shift", a.time_shift}, {"time_masks", a.time_masks}, {"time_mask_frames", a.time_mask_frames},
                        {"freq_masks", a.freq_masks}, {"freq_mask_bands", a.freq_mask_bands}, {"mixup_alpha", a.mixup_alpha}};
    if (c.ensemble.members > 1 || c.ensemble.checkpoints > 1)
        j["ensemble"] = {{"members", c.ensemble.members}, {"checkpoints", c.ensemble.checkpoints}};
    return j;
}

namespace {

std::string type_name(const json& v) {
    if (v.is_boolean()) return "boolean";
    if (v.is_number_integer()) return "integer";
    if (v.is_number()) return "number";
    if (v.is_string()) return "string";
    if (v.is_array()) return "array";
    if (v.is_object()) return "object";
    return "null";
}

// Merges `user` into `defaults`, refusing unknown keys and mismatched types.
void merge_checked(json& defaults, const json& user, const std::string& prefix, const std::string& src) {
    if (!user.is_object()) throw Error(src + ": " + (prefix.empty() ? "the config" : "key '" + prefix + "'") + " must be a JSON object, got " + type_name(user));
    for (auto it = user.begin(); it != user.end(); ++it) {
        const std::string key = prefix.empty() ? it.key() : prefix + "." + it.key();
        if (!defaults.contains(it.key())) {
            std::string known;
            for (auto d = defaults.begin(); d != defaults.end(); ++d) known += (known.empty() ? "" : ", ") + d.key();
            throw Error(src + ": unknown key '" + key + "' (known here: " + known + ")");
        }
        json& d = defaults[it.key()];
        const json& u = *it;
        if (key == "model.layers") {  // validated by the layer registry
            if (!u.is_array()) throw Error(src + ": key 'model.layers' must be an array of layer objects, got " + type_name(u));
            d = u;
        } else if (d.is_object()) {
            merge_checked(d, u, key, src);
        } else if (d.is_array()) {
            if (!u.is_array()) throw Error(src + ": key '" + key + "' must be an array, got " + type_name(u));
            for (const auto& e : u)
                if (!e.is_string()) throw Error(src + ": key '" + key + "' must be an array of strings, got an element " + dump_json(e));
            d = u;
        } else if (d.is_boolean()) {
            if (!u.is_boolean()) throw Error(src + ": key '" + key + "' must be true or false, got " + type_name(u) + " " + dump_json(u));
            d = u;
        } else if (d.is_number_integer()) {
            if (!u.is_number_integer()) throw Error(src + ": key '" + key + "' must be an integer, got " + type_name(u) + " " + dump_json(u));
            d = u;
        } else if (d.is_number()) {
            if (!u.is_number()) throw Error(src + ": key '" + key + "' must be a number, got " + type_name(u) + " " + dump_json(u));
            d = u.get<double>();
        } else if (d.is_string()) {
            if (!u.is_string()) throw Error(src + ": key '" + key + "' must be a string, got " + type_name(u) + " " + dump_json(u));
            d = u;
        }
    }
}

void check_one_of(const std::string& src, const std::string& key, const std::string& v, std::initializer_list<const char*> allowed) {
    std::string list;
    for (auto a : allowed) {
        if (v == a) return;
        list += std::string(list.empty() ? "" : ", ") + a;
    }
    throw Error(src + ": key '" + key + "' = '" + v + "' is not one of: " + list);
}

std::string resolve(const std::string& p, const std::string& base) {
    if (p.empty() || base.empty() || std::filesystem::path(p).is_absolute()) return p;
    return (std::filesystem::path(base) / p).lexically_normal().string();
}

}  // namespace

void apply_override(json& j, const std::string& assignment) {
    const auto eq = assignment.find('=');
    if (eq == std::string::npos || eq == 0) throw Error("--set '" + assignment + "': expected key=value, e.g. optimizer.lr=0.001");
    const std::string path = assignment.substr(0, eq), text = assignment.substr(eq + 1);
    json value;
    try {
        value = json::parse(text);
    } catch (const json::exception&) {
        value = text;  // a bare string such as adam or zscore
    }
    json* cur = &j;
    std::size_t pos = 0;
    while (true) {
        const auto dot = path.find('.', pos);
        const std::string part = path.substr(pos, dot == std::string::npos ? std::string::npos : dot - pos);
        if (part.empty()) throw Error("--set '" + assignment + "': empty key component");
        if (cur->is_array()) {
            std::size_t idx = 0;
            try {
                idx = std::stoul(part);
            } catch (...) {
                throw Error("--set '" + assignment + "': '" + part + "' must be an index into an array");
            }
            if (idx >= cur->size()) throw Error("--set '" + assignment + "': index " + part + " is past the end of the array");
            cur = &(*cur)[idx];
        } else {
            if (cur->is_null()) *cur = json::object();
            if (!cur->is_object()) throw Error("--set '" + assignment + "': '" + part + "' is inside a value that is not an object");
            cur = &(*cur)[part];
        }
        if (dot == std::string::npos) break;
        pos = dot + 1;
    }
    *cur = value;
}

namespace {

// "augment": mixup for every model; shift and masks only where there is a time-frequency image.
AugmentConfig parse_augment(const json& aug, const std::string& src, bool spectrogram) {
    AugmentConfig a;
    if (aug.is_null()) return a;
    if (!aug.is_object()) throw Error(src + ": augment must be an object such as {\"mixup_alpha\": 0.2}");
    const std::map<std::string, int*> ints = {{"time_shift", &a.time_shift},       {"time_masks", &a.time_masks},
                                              {"time_mask_frames", &a.time_mask_frames}, {"freq_masks", &a.freq_masks},
                                              {"freq_mask_bands", &a.freq_mask_bands}};
    for (auto it = aug.begin(); it != aug.end(); ++it) {
        if (it.key() == "mixup_alpha") {
            if (!it->is_number() || !(it->get<double>() >= 0 && it->get<double>() <= 100)) throw Error(src + ": augment.mixup_alpha must be a number in [0, 100]");
            a.mixup_alpha = it->get<double>();
        } else if (ints.count(it.key())) {
            if (!it->is_number_integer() || it->get<std::int64_t>() < 0 || it->get<std::int64_t>() > 100000 || (it->is_number_unsigned() && it->get<std::uint64_t>() > 100000))
                throw Error(src + ": augment." + it.key() + " must be an integer in [0, 100000]");
            *ints.at(it.key()) = it->get<int>();
        } else {
            throw Error(src + ": unknown key 'augment." + it.key() + "' (known: time_shift, time_masks, time_mask_frames, freq_masks, freq_mask_bands, mixup_alpha)");
        }
    }
    if (!spectrogram && a.spectrogram_only())
        throw Error(src + ": augment time_shift, time_masks and freq_masks work on spectrograms; a feature model (front_end.kind "
                          "gtzan_features) has only augment.mixup_alpha");
    return a;
}

EnsembleConfig parse_ensemble(const json& ens, const std::string& src) {
    EnsembleConfig e;
    if (ens.is_null()) return e;
    if (!ens.is_object()) throw Error(src + ": ensemble must be an object such as {\"members\": 1, \"checkpoints\": 1}");
    for (auto it = ens.begin(); it != ens.end(); ++it) {
        if (it.key() != "members" && it.key() != "checkpoints") throw Error(src + ": unknown key 'ensemble." + it.key() + "' (known: members, checkpoints)");
        if (!it->is_number_integer() || it->get<std::int64_t>() < 1 || it->get<std::int64_t>() > 32)
            throw Error(src + ": ensemble." + it.key() + " must be an integer in [1, 32]");
    }
    e.members = ens.value("members", 1);
    e.checkpoints = ens.value("checkpoints", 1);
    if (e.members * e.checkpoints > 32)
        throw Error(src + ": ensemble.members x ensemble.checkpoints is " + std::to_string(e.members * e.checkpoints) + " networks; at most 32");
    return e;
}

// data and front_end of a spectrogram config.
SpectrogramConfig parse_spectrogram(const json& data, const json& fe, const std::string& src, const std::string& base_dir) {
    SpectrogramConfig c;
    c.params = SpectrogramParams::from_json(fe, src + " front_end");
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
        if (data.contains("cache_dir") && !data["cache_dir"].is_string()) throw Error(src + ": data.cache_dir must be a path");
        c.cache_dir = data.value("cache_dir", "");
    }
    for (auto& a : c.audio) a = resolve(a, base_dir);
    if (c.cache_dir != "none") c.cache_dir = resolve(c.cache_dir, base_dir);
    return c;
}

bool starts_with(const std::string& s, const char* prefix) { return s.rfind(prefix, 0) == 0; }

// Every numeric key of the merged config with the values that make sense, checked before any
// is narrowed to its C++ type: one clear line naming the key instead of a wrapped-around int
// or hours of work. (Combined conditions, such as valid + test < 1, are checked after.)
struct NumericKey {
    const char* key;
    double lo, hi;
    bool lo_open;  // (lo, hi] instead of [lo, hi]
};
constexpr NumericKey kNumericKeys[] = {
    {"front_end.sample_rate", 1000, 384000, false},
    {"split.valid", 0, 1, false},
    {"split.test", 0, 1, false},
    {"split.seed", 0, 18446744073709551615.0, false},
    {"split.k", 2, 1000, false},
    {"split.fold", 0, 999, false},
    {"optimizer.lr", 0, 10, true},
    {"optimizer.weight_decay", 0, 10, false},
    {"optimizer.momentum", 0, 1, false},
    {"optimizer.beta1", 0, 1, false},
    {"optimizer.beta2", 0, 1, false},
    {"optimizer.alpha", 0, 1, false},
    {"optimizer.eps", 0, 1, true},
    {"batch_size", 1, 65536, false},
    {"epochs", 1, 1000000, false},
    {"seed", 0, 18446744073709551615.0, false},
    {"threads", 1, 64, false},
    {"label_smoothing", 0, 1, false},
    {"reduce_lr_on_plateau.factor", 0, 1, true},
    {"reduce_lr_on_plateau.patience", 0, 1000000, false},
    {"reduce_lr_on_plateau.min_lr", 0, 10, false},
    {"early_stopping.patience", 0, 1000000, false},
    {"early_stopping.min_delta", 0, 1e9, false},
};

void check_numeric_ranges(const json& merged, const std::string& src) {
    for (const auto& k : kNumericKeys) {
        const json* v = &merged;
        for (std::size_t pos = 0, dot = 0; dot != std::string::npos; pos = dot + 1) {
            dot = std::string_view(k.key).find('.', pos);
            v = &v->at(std::string(k.key).substr(pos, dot == std::string::npos ? std::string::npos : dot - pos));
        }
        const bool negative = v->is_number_integer() && !v->is_number_unsigned() && v->get<std::int64_t>() < 0;
        const double d = negative ? static_cast<double>(v->get<std::int64_t>()) : v->get<double>();
        if (!(k.lo_open ? d > k.lo : d >= k.lo) || !(d <= k.hi)) {
            auto bound = [](double x) { return x == std::floor(x) && std::abs(x) < 1e15 ? std::to_string(static_cast<long long>(x)) : format_number(x); };
            throw Error(src + ": key '" + k.key + "' = " + dump_json(*v) + " is out of range; allowed: " + (k.lo_open ? "(" : "[") + bound(k.lo) +
                        ", " + bound(k.hi) + "]");
        }
    }
}

}  // namespace

TrainConfig parse_train_config(const json& user_in, const std::string& src, const std::vector<std::string>& overrides,
                               const std::string& base_dir) {
    json user = user_in.is_null() ? json::object() : user_in;
    // (A "kind" that is not a string is reported by merge_checked below, not thrown by json.)
    const bool spectro = user.is_object() && user.contains("front_end") && user["front_end"].is_object() &&
                         user["front_end"].contains("kind") && user["front_end"]["kind"] == "spectrogram";
    // Overrides of spectrogram configs and of the keys parsed on their own apply to the document;
    // the rest on top of the defaults merged with it, so that "model.layers.0.units=..." works
    // when the file did not list layers.
    std::vector<std::string> merged_overrides;
    for (const auto& o : overrides) {
        const std::string key = o.substr(0, o.find('='));
        if (spectro || starts_with(key, "augment") || starts_with(key, "ensemble") || starts_with(key, "split.group_") || key == "_comment")
            apply_override(user, o);
        else merged_overrides.push_back(o);
    }
    TrainConfig c;
    if (spectro) c.resolved = user;
    auto take = [&](const char* key) {
        json v;
        if (user.is_object() && user.contains(key)) {
            v = user[key];
            user.erase(key);
        }
        return v;
    };
    take("_comment");  // free text describing the config
    const json aug = take("augment"), ens = take("ensemble");
    if (spectro) {
        const json data = take("data"), fe = take("front_end");
        if (user.contains("normalization"))
            throw Error(src + ": key 'normalization' does not apply to spectrogram models (they use per-band standardization)");
        c.spectrogram = parse_spectrogram(data, fe, src, base_dir);
    }
    c.augment = parse_augment(aug, src, spectro);
    c.ensemble = parse_ensemble(ens, src);
    if (user.is_object() && user.contains("split") && user["split"].is_object())  // the keys to_json writes only when set
        for (auto [key, dst] : {std::pair{"group_file", &c.split.group_file}, {"group_column", &c.split.group_column}}) {
            json& sp = user["split"];
            if (!sp.contains(key)) continue;
            if (!sp[key].is_string()) throw Error(src + ": key 'split." + std::string(key) + "' must be a string, got " + type_name(sp[key]));
            *dst = sp[key].get<std::string>();
            sp.erase(key);
        }
    c.split.group_file = resolve(c.split.group_file, base_dir);
    if (!c.split.group_file.empty() && !c.split.group_column.empty())
        throw Error(src + ": split.group_file and split.group_column both set; give one grouping");
    json merged = json::parse(dump_json(to_json(TrainConfig{})));
    merge_checked(merged, user, "", src);
    for (const auto& o : merged_overrides) {
        json probe = merged;
        apply_override(probe, o);
        merge_checked(merged, probe, "", src + " with --set " + o);
    }
    check_numeric_ranges(merged, src);
    // Per-layer "l2" keys are the trainer's; the rest of each layer spec goes to the registry.
    for (auto& l : merged["model"]["layers"]) {
        double v = 0;
        if (l.is_object() && l.contains("l2")) {
            if (!l["l2"].is_number() || l["l2"].get<double>() < 0) throw Error(src + ": a layer's l2 must be a number >= 0");
            v = l["l2"];
            l.erase("l2");
        }
        c.l2.push_back(v);
    }
    const json& d = merged["data"];
    c.data.csv = resolve(d["csv"].get<std::string>(), base_dir);
    c.data.label_column = d["label_column"];
    c.data.file_column = d["file_column"];
    c.data.feature_columns = d["feature_columns"].get<std::vector<std::string>>();
    c.data.exclude_columns = d["exclude_columns"].get<std::vector<std::string>>();
    const json& fe = merged["front_end"];
    c.front_end.kind = fe["kind"];
    c.front_end.sample_rate = fe["sample_rate"];
    c.front_end.mode = fe["mode"];
    check_one_of(src, "front_end.kind", c.front_end.kind, {"gtzan_features", "spectrogram"});
    check_one_of(src, "front_end.mode", c.front_end.mode, {"auto", "30s", "3s"});
    c.normalization = merged["normalization"];
    check_one_of(src, "normalization", c.normalization, {"none", "max", "minmax", "zscore", "log_zscore"});
    const json& s = merged["split"];
    c.split.kind = s["kind"];
    check_one_of(src, "split.kind", c.split.kind, {"random", "lists", "kfold"});
    c.split.valid = s["valid"];
    c.split.test = s["test"];
    c.split.stratified = s["stratified"];
    c.split.seed = s["seed"];
    for (auto [key, dst] : {std::pair{"train_lists", &c.split.train_lists}, {"valid_lists", &c.split.valid_lists}, {"test_lists", &c.split.test_lists}})
        for (const auto& p : s[key]) dst->push_back(resolve(p.get<std::string>(), base_dir));
    c.split.k = s["k"];
    c.split.fold = s["fold"];
    if (!(c.split.valid >= 0 && c.split.test >= 0 && c.split.valid + c.split.test < 1))
        throw Error(src + ": split.valid + split.test must be in [0, 1) with both >= 0");
    if (c.split.kind == "kfold" && (c.split.k < 2 || c.split.fold < 0 || c.split.fold >= c.split.k))
        throw Error(src + ": split.k must be >= 2 and split.fold in [0, k)");
    if (c.split.kind == "lists" && c.split.train_lists.empty()) throw Error(src + ": split.kind 'lists' needs split.train_lists");
    c.layers = merged["model"]["layers"];
    const json& o = merged["optimizer"];
    c.optimizer.type = o["type"];
    check_one_of(src, "optimizer.type", c.optimizer.type, {"sgd", "adam", "adamw", "rmsprop"});
    for (auto [key, dst] : {std::pair{"lr", &c.optimizer.lr}, {"weight_decay", &c.optimizer.weight_decay}, {"momentum", &c.optimizer.momentum},
                            {"beta1", &c.optimizer.beta1}, {"beta2", &c.optimizer.beta2}, {"alpha", &c.optimizer.alpha}, {"eps", &c.optimizer.eps}})
        *dst = o[key].get<double>();
    c.batch_size = merged["batch_size"];
    c.epochs = merged["epochs"];
    c.seed = merged["seed"];
    c.threads = merged["threads"];
    c.label_smoothing = merged["label_smoothing"].get<double>();
    if (!(c.label_smoothing >= 0 && c.label_smoothing < 1)) throw Error(src + ": key 'label_smoothing' must be in [0, 1)");
    if (c.batch_size < 1) throw Error(src + ": key 'batch_size' must be >= 1");
    if (c.epochs < 1) throw Error(src + ": key 'epochs' must be >= 1");
    if (c.threads < 1 || c.threads > 64) throw Error(src + ": key 'threads' must be in [1, 64]");
    const json& p = merged["reduce_lr_on_plateau"];
    c.reduce_lr_on_plateau = {p["enabled"], p["monitor"], p["factor"], p["patience"], p["min_lr"]};
    check_one_of(src, "reduce_lr_on_plateau.monitor", c.reduce_lr_on_plateau.monitor, {"val_loss", "val_acc"});
    if (!(c.reduce_lr_on_plateau.factor > 0 && c.reduce_lr_on_plateau.factor < 1)) throw Error(src + ": key 'reduce_lr_on_plateau.factor' must be in (0, 1)");
    const json& e = merged["early_stopping"];
    c.early_stopping = {e["enabled"], e["monitor"], e["patience"], e["min_delta"]};
    check_one_of(src, "early_stopping.monitor", c.early_stopping.monitor, {"val_loss", "val_acc"});
    c.checkpoint = {merged["checkpoint"]["keep_best"], merged["checkpoint"]["monitor"]};
    check_one_of(src, "checkpoint.monitor", c.checkpoint.monitor, {"val_loss", "val_acc"});
    if (c.ensemble.checkpoints > c.epochs)
        throw Error(src + ": ensemble.checkpoints (" + std::to_string(c.ensemble.checkpoints) + ") exceeds epochs (" + std::to_string(c.epochs) +
                    "): a run cannot keep more snapshots than it has epochs");
    if (spectro) c.front_end.kind = "spectrogram";
    return c;
}

TrainConfig load_train_config(const std::string& path, const std::vector<std::string>& overrides) {
    json j;
    try {
        j = json::parse(read_file(path));
    } catch (const json::exception& e) {
        throw Error(path + ": not valid JSON: " + e.what());
    }
    const auto base = std::filesystem::path(path).parent_path().string();
    return parse_train_config(j, path, overrides, base);
}

json stored_config(const TrainConfig& c) { return c.spectrogram ? c.resolved : json::parse(dump_json(to_json(c))); }

void set_data_path(TrainConfig& c, const std::string& path) {
    if (c.spectrogram) c.spectrogram->audio = {path};
    else c.data.csv = path;
}

void set_group_file(TrainConfig& c, const std::string& path) {
    if (!c.split.group_column.empty())
        throw Error("--groups " + path + ": the config already groups by split.group_column '" + c.split.group_column + "'; give one grouping");
    c.split.group_file = path;
    if (c.spectrogram) c.resolved["split"]["group_file"] = path;
}

}  // namespace genrekit
