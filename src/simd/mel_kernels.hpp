// The mel filterbank's and the DCT's vector kernels. Compiled for the x86-64 baseline, AVX2 and
// AVX-512 (2, 4, 8 float64 lanes) and chosen by simd::isa() on every call. Bits: the same
// operations on each value in the same order at every width (no FMA: -ffp-contract=off).
#pragma once

#include <cstddef>

namespace genrekit::simd::mel {

constexpr int kGroupFrames = 8;            // frames per mel_group call
constexpr std::size_t kDctLanes = 8;       // coefficients per vector in the DCT kernel
constexpr std::size_t kDctMaxVectors = 4;  // the DCT kernel keeps up to 32 coefficients in registers

// One band of a filterbank.
struct BandView {
    int first_bin;
    std::size_t size;
    const double* weights;  // the float32 weights, widened
};

// The mel bands of kGroupFrames frames: cols are their n_bins power values, out[l] receives
// frame l's n_bands band values. Each band is a float64 running sum over its bins, multiply then
// add in bin order, rounded to float32, frames side by side in the lanes. buf holds n_bins x 8
// doubles, stage n_bands x 8 floats (working memory).
void mel_group(const float* const* cols, std::size_t n_bins, const BandView* bands, std::size_t n_bands, double* buf,
               float* stage, float* const* out);

// out = basis * X for an n_out x n_in basis (n_out <= kDctLanes * kDctMaxVectors), given
// transposed as Bt (n_in rows of n_out coefficients padded with zeros to a multiple of
// kDctLanes), X: T float columns of n_in values, out: T float columns of n_out values. Each
// coefficient is the float64 sum, from 0, of basis(k, n) * X(n) added in n order and rounded to
// float32 -- the operations and order of Eigen's GEMM kernel (gebp) that this replaces.
void dct(const double* Bt, std::size_t n_in, const float* X, std::size_t T, std::size_t n_out, float* out);

}  // namespace genrekit::simd::mel
