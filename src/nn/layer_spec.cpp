#include "nn/layer_spec.hpp"

#include "genrekit/error.hpp"
#include "genrekit/json_text.hpp"

namespace genrekit::nn::detail {

using json = nlohmann::json;

void LayerSpec::only(std::initializer_list<const char*> allowed) const {
    for (auto it = spec.begin(); it != spec.end(); ++it) {
        if (it.key() == "type") continue;
        bool ok = false;
        for (auto a : allowed) ok = ok || it.key() == a;
        if (!ok) {
            std::string list;
            for (auto a : allowed) list += std::string(list.empty() ? "" : ", ") + a;
            throw Error(where + ": unknown key '" + it.key() + "' for layer type '" + spec["type"].get<std::string>() + "' (allowed: " +
                        (list.empty() ? "none" : list) + ")");
        }
    }
}

std::int64_t LayerSpec::in_range(const json& e, const char* key, const json& whole, std::int64_t lo) const {
    // A huge unsigned value would wrap to a negative int64: test it as unsigned first.
    if (e.is_number_unsigned() && e.get<std::uint64_t>() > std::uint64_t(kMaxSize))
        throw Error(where + "." + key + " = " + dump_json(whole) + " must be <= " + std::to_string(kMaxSize));
    const auto i = e.get<std::int64_t>();
    if (i < lo) throw Error(where + "." + key + " = " + dump_json(whole) + " must be >= " + std::to_string(lo));
    if (i > kMaxSize) throw Error(where + "." + key + " = " + dump_json(whole) + " must be <= " + std::to_string(kMaxSize));
    return i;
}

std::int64_t LayerSpec::integer(const char* key, std::int64_t lo) const {
    if (!spec.contains(key)) throw Error(where + ": missing key '" + key + "'");
    const json& v = spec[key];
    if (!v.is_number_integer()) throw Error(where + "." + key + ": must be an integer, got " + dump_json(v));
    return in_range(v, key, v, lo);
}

std::pair<std::int64_t, std::int64_t> LayerSpec::pair(const char* key, std::int64_t def, std::int64_t lo) const {
    if (!spec.contains(key)) return {def, def};
    const json& v = spec[key];
    auto one = [&](const json& e) {
        if (!e.is_number_integer()) throw Error(where + "." + key + ": must be an integer or [h, w], got " + dump_json(v));
        return in_range(e, key, v, lo);
    };
    if (v.is_array()) {
        if (v.size() != 2) throw Error(where + "." + key + ": must be an integer or [h, w], got " + dump_json(v));
        return {one(v[0]), one(v[1])};
    }
    const auto i = one(v);
    return {i, i};
}

double LayerSpec::number(const char* key, double def, double lo, double hi, Interval interval) const {
    if (!spec.contains(key)) return def;
    const json& v = spec[key];
    if (!v.is_number()) throw Error(where + "." + key + ": must be a number, got " + dump_json(v));
    const double d = v.get<double>();
    if (interval == Open ? !(d > lo && d < hi) : !(d >= lo && d < hi))
        throw Error(where + "." + key + " = " + dump_json(v) + " must be in " + (interval == Open ? "(" : "[") + std::to_string(lo) + ", " +
                    std::to_string(hi) + ")");
    return d;
}

std::string LayerSpec::string(const char* key, const std::string& def) const {
    if (!spec.contains(key)) return def;
    const json& v = spec[key];
    if (!v.is_string()) throw Error(where + "." + key + ": must be a string, got " + dump_json(v));
    return v.get<std::string>();
}

std::string LayerSpec::init(const std::string& def) const {
    const std::string s = string("init", def);
    static const char* inits[] = {"xavier_uniform", "xavier_normal", "he_uniform", "he_normal", "torch_default"};
    for (const char* i : inits)
        if (s == i) return s;
    throw Error(where + ".init: unknown '" + s + "' (allowed: xavier_uniform, xavier_normal, he_uniform, he_normal, torch_default)");
}

}  // namespace genrekit::nn::detail
