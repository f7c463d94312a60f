// The chroma family's vector kernels: the filter projection C = W S and the per-frame scans of
// the tuning estimate's peak picking. Compiled for the x86-64 baseline, AVX2 and AVX-512 and
// chosen by simd::isa() on every call. Bits: every variant gives the same results (see each).
#pragma once

#include <cstddef>
#include <cstdint>

namespace genrekit::simd::chroma {

constexpr std::size_t kProjectMaxRows = 12;  // project keeps one accumulator per row in registers

// C = W S for a few-row W (rows <= kProjectMaxRows; the 12 chroma filters): W as rows of
// `stride` floats (nb bins padded with zeros to a multiple of 8), S as T columns of nb floats,
// C as T columns of `rows` floats. Per frame, each row's dot product with the frame in float32,
// 8 bins per vector with one accumulator per row (lane l adds W * s for the bins b = l mod 8 in
// bin order), the 8 lanes then summed as a fixed tree, the last nb % 8 bins after. With AVX-512
// a vector holds the same 8 lanes of two frames; the operations per frame do not change.
void project(const float* Wr, std::size_t rows, std::size_t stride, const float* S, std::size_t nb, std::size_t T,
             float* C);

// The largest of n float32 values; false (and max untouched) if any is NaN, where the order of
// the comparisons would matter. Without NaN the maximum is the same value whatever the order (a
// zero's sign aside, which no test of the peak picking can tell apart).
bool column_max(const float* s, std::size_t n, float& max);

// For the bins b in [lo, hi) (lo < hi): bit b - lo of above is s[b] > above_thr (false for
// NaN), of possible !(s[b] <= floor) (true for NaN): exactly the scalar tests of the peak
// picking's scans. above and possible hold (hi - lo + 63) / 64 words each.
void bin_masks(const float* s, int lo, int hi, float above_thr, float floor, std::uint64_t* above,
               std::uint64_t* possible);

}  // namespace genrekit::simd::chroma
