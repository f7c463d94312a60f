// Hot float kernels of the MLP (Dense products, sigmoid, Adam) and the CNN's 2x2 max pool, chosen
// by simd::isa() on every call (so GENREKIT_ISA and simd::ScopedCap reach them): hand-written
// AVX-512 or AVX2+FMA code (nn_kernels_avx512.cpp, nn_kernels_avx2.cpp: one variant per
// translation unit, no Eigen or std templates inside, so nothing compiled for a newer ISA can leak
// into the baseline build). At Isa::baseline the MLP kernels return false and the caller keeps its
// portable Eigen path. The AVX-512 and AVX2 kernels give the same bits.
//
//   using namespace genrekit::nn;
//   ThreadPool pool(2);
//   std::vector<float> scratch;
//   if (!kernels::dense_forward(w, b, x, y, O, F, N, &pool, scratch)) { ... Eigen path ... }
//   simd::ScopedCap cap(simd::Isa::avx2);   // tests: the AVX2 kernels even where AVX-512 exists
//
// Layouts are those of genrekit::nn (see layers.hpp): x (F x N), y and dy (O x N) column-major,
// w row-major [O, F] (PyTorch's nn.Linear.weight), b [O].
//
// Determinism: each output element is computed by one fixed sequence of operations (for a
// dot product: the same partial sums in the same order) whatever thread or index range it
// falls in, so the AVX2 path gives the same bits for any thread count. The portable path
// splits Eigen products by rows and is deterministic for a given thread count.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "simd/thread_pool.hpp"

namespace genrekit::nn::kernels {

using Index = std::ptrdiff_t;

// y = W x + b. Returns false (nothing done) at Isa::baseline, as do the three below.
bool dense_forward(const float* w, const float* b, const float* x, float* y, Index O, Index F, Index N, ThreadPool* pool,
                   std::vector<float>& scratch);
// dw += dy x^T, db += rowsum(dy), and dx = W^T dy unless dx is nullptr (written, not added).
bool dense_backward(const float* w, const float* x, const float* dy, float* dw, float* db, float* dx, Index O, Index F, Index N,
                    ThreadPool* pool);
// y = 1 / (1 + exp(-x)) element-wise, exp accurate to a few ulp (Cephes expf polynomial).
bool sigmoid(const float* x, float* y, Index n, ThreadPool* pool);

// One Adam/AdamW update of n parameters (see optim.hpp for the formula).
struct AdamArgs {
    float b1, b2, step_size, inv_sqrt_bc2, eps;
    float wd;       // L2 (adam): g += wd * p
    float decay;    // decoupled (adamw): p *= decay
    int mode;       // 0 plain, 1 L2, 2 decoupled
};
bool adam_step(float* p, const float* g, float* m, float* v, Index n, const AdamArgs& a, ThreadPool* pool);

// One output row of a 2x2, stride-2 max pool (Pool2D's common case): y[wo] = the first maximum of
// a[2wo], a[2wo+1], b[2wo], b[2wo+1] in that order (as PyTorch's CPU kernel), arg[wo] its index,
// row_offset + 2wo (+1) (+W for row b). Input rows a and b = a + W. Float on AVX-512: 16 outputs per
// vector step (when the indices fit in int); otherwise, and for double, the scalar loop. Same values
// and argmax on every path.
void maxpool2x2_row(const float* a, const float* b, std::int64_t row_offset, std::int64_t W, std::int64_t Wo, float* y,
                    std::int32_t* arg);
void maxpool2x2_row(const double* a, const double* b, std::int64_t row_offset, std::int64_t W, std::int64_t Wo, double* y,
                    std::int32_t* arg);
// Whether the float row goes through the AVX-512 kernel at the current simd::isa() (tests).
bool maxpool2x2_vectorised();

}  // namespace genrekit::nn::kernels
