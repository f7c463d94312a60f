// Private: the AVX-512 kernels over index ranges (defined in nn_kernels_avx512.cpp under
// GENREKIT_SIMD_VARIANTS, called by nn_kernels.cpp only when simd::isa() is avx512).
// Same contracts as the AVX2 kernels of the same name (nn_kernels_avx2.hpp) and the same bits;
// forward_otile wants xt padded to a multiple of 16 samples.
#pragma once

#include <cstddef>

namespace genrekit::nn::kernels::avx512 {

using Index = std::ptrdiff_t;

void forward_otile(const float* w, const float* b, const float* xt, Index np, float* y, Index O, Index F, Index N, Index o0, Index o1);
void backward_weights(const float* x, const float* dy, float* dw, float* db, Index O, Index F, Index N, Index o0, Index o1);
void backward_input(const float* w, const float* dy, float* dx, Index O, Index F, Index n0, Index n1);
void sigmoid(const float* x, float* y, Index i0, Index i1);
// One output row of a 2x2, stride-2 max pool: y[wo] = max of a[2wo], a[2wo+1], b[2wo], b[2wo+1] (the
// first maximum in that order wins), arg[wo] its index, row_offset + 2wo (+1) (+W for row b).
void maxpool2x2_row(const float* a, const float* b, int row_offset, int W, int Wo, float* y, int* arg);
void adam(float* p, const float* g, float* m, float* v, Index i0, Index i1, float b1, float b2, float step_size, float inv_sqrt_bc2,
          float eps, float wd, float decay, int mode);

}  // namespace genrekit::nn::kernels::avx512
