// Private: the AVX2+FMA kernels over index ranges (defined in nn_kernels_avx2.cpp under
// GENREKIT_SIMD_VARIANTS, called by nn_kernels.cpp only when simd::isa() is avx2 or above).
#pragma once

#include <cstddef>

namespace genrekit::nn::kernels::avx2 {

using Index = std::ptrdiff_t;

// xt: x transposed to F rows of np floats (np = N rounded up to 8, zero padded).
void pack_xt(const float* x, Index F, Index N, Index np, float* xt);
// Rows [o0, o1) of y = W x + b from xt; o0 a multiple of 8. Good when O is large and F small.
void forward_otile(const float* w, const float* b, const float* xt, Index np, float* y, Index O, Index F, Index N, Index o0, Index o1);
// Columns [n0, n1) of y = W x + b by dot products along F. Good when O is small.
void forward_dot(const float* w, const float* b, const float* x, float* y, Index O, Index F, Index n0, Index n1);
// Rows [o0, o1) of dw += dy x^T and db += rowsum(dy).
void backward_weights(const float* x, const float* dy, float* dw, float* db, Index O, Index F, Index N, Index o0, Index o1);
// Columns [n0, n1) of dx = W^T dy.
void backward_input(const float* w, const float* dy, float* dx, Index O, Index F, Index n0, Index n1);
// Elements [i0, i1) (i0 a multiple of 8, or the whole tail is padded internally).
void sigmoid(const float* x, float* y, Index i0, Index i1);
void adam(float* p, const float* g, float* m, float* v, Index i0, Index i1, float b1, float b2, float step_size, float inv_sqrt_bc2,
          float eps, float wd, float decay, int mode);

}  // namespace genrekit::nn::kernels::avx2
