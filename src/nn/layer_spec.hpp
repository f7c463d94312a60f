// Private to genrekit::nn: reading one layer's JSON spec, shared by the dense/activation registry
// (layers.cpp) and the CNN layers (conv.cpp). Every error names the layer (`where`) and the key.
//
//   const LayerSpec s{spec, "model.layers[2]"};
//   s.only({"units", "init"});                  // any other key (besides "type") is an error
//   auto units = s.integer("units", 1);         // required, >= 1
//   auto [kh, kw] = s.pair("kernel", 3, 1);     // optional: an integer or [h, w], each >= 1
//   double rate = s.number("rate", 0.5, 0.0, 1.0, LayerSpec::ClosedOpen);
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <initializer_list>
#include <string>
#include <utility>

namespace genrekit::nn::detail {

struct LayerSpec {
    enum Interval { Open, ClosedOpen };  // (lo, hi) or [lo, hi)
    // Largest integer a spec may hold (units, channels, kernel, stride, padding): far above any
    // real layer, small enough that shape arithmetic cannot overflow.
    static constexpr std::int64_t kMaxSize = std::int64_t(1) << 20;

    const nlohmann::json& spec;
    const std::string& where;

    // Throws unless every key besides "type" is one of `allowed`.
    void only(std::initializer_list<const char*> allowed) const;
    // A required integer in [lo, kMaxSize].
    std::int64_t integer(const char* key, std::int64_t lo) const;
    // An optional integer or [h, w] pair, each in [lo, kMaxSize]; {def, def} when absent.
    std::pair<std::int64_t, std::int64_t> pair(const char* key, std::int64_t def, std::int64_t lo) const;
    // An optional number in (lo, hi) or [lo, hi); def when absent.
    double number(const char* key, double def, double lo, double hi, Interval interval) const;
    // An optional string; def when absent.
    std::string string(const char* key, const std::string& def) const;
    // The optional "init" key: one of nn::init_weights' schemes (xavier_uniform, xavier_normal,
    // he_uniform, he_normal, torch_default); def when absent.
    std::string init(const std::string& def) const;

private:
    // e (an integer element of `whole`, the value under key) as int64 in [lo, kMaxSize].
    std::int64_t in_range(const nlohmann::json& e, const char* key, const nlohmann::json& whole, std::int64_t lo) const;
};

}  // namespace genrekit::nn::detail
