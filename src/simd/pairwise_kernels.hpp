// numpy's pairwise float32 sums (simd/pairwise.hpp) of whole arrays and of leaves, for the
// statistics, rms and the HPSS waveform sums. Every variant performs the same additions in the
// same order (lane j of a vector is numpy's running sum j): the bits do not depend on the ISA.
#pragma once

#include <cstddef>

namespace genrekit::simd::pairwise {

// numpy's pairwise sum of a[0 .. n).
float sum(const float* a, std::size_t n);

// numpy's pairwise sum of (a[k] - mean)^2, each term formed in float32.
// ref: numpy/core/_methods.py _var: x = a - mean; x = x * x.
float squared_deviation_sum(const float* a, std::size_t n, float mean);

// squared_deviation_sum of a and of b for n <= 128 (one leaf each), side by side: out[0], out[1].
void squared_deviation_leaves(const float* a, const float* b, std::size_t n, float mean_a, float mean_b, float* out);

// The leaves [start, ends[0]), [ends[0], ends[1]) .. [ends[count-2], ends[count-1]) of a and of
// b (each at most 128 terms) summed as numpy sums a leaf, into sum_a[k] and sum_b[k].
void leaf_sums2(const float* a, const float* b, std::size_t start, const std::size_t* ends, std::size_t count,
                float* sum_a, float* sum_b);

// The leaf length square_leaves works in.
constexpr std::size_t kLeaf = 128;

// out[b] = the pairwise leaf sum of x[kLeaf b]^2 .. x[kLeaf b + kLeaf - 1]^2 (squares in float32,
// as rms forms them), b < blocks.
void square_leaves(const float* x, std::size_t blocks, float* out);

}  // namespace genrekit::simd::pairwise
