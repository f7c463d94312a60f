// Private to genrekit::nn: shapes of the image layers (conv.cpp, pooling.cpp), {C, H, W} per sample.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>

#include "genrekit/error.hpp"
#include "genrekit/nn/layers.hpp"

namespace genrekit::nn::detail {

// "3" or "[3,5]" for error messages.
inline std::string int_list(std::int64_t a, std::int64_t b) { return a == b ? std::to_string(a) : "[" + std::to_string(a) + "," + std::to_string(b) + "]"; }

// A size as specs write it: an integer, or [h, w] when the two differ.
inline nlohmann::json pair_json(std::int64_t a, std::int64_t b) { return a == b ? nlohmann::json(a) : nlohmann::json::array({a, b}); }

// Output length of a window sliding over `in` values (floor mode).
inline std::int64_t out_size(std::int64_t in, std::int64_t k, std::int64_t s, std::int64_t pad) { return (in + 2 * pad - k) / s + 1; }

inline void need_image(const Shape& in, const std::string& what) {
    if (in.size() != 3 || in[0] < 1 || in[1] < 1 || in[2] < 1)
        throw Error(what + ": needs an image-like input {C, H, W}, got " + shape_str(in) + " (spectrogram models take {1, bands, frames})");
}

}  // namespace genrekit::nn::detail
