// Private to genrekit::nn: single-precision and double GEMM on column-major matrices
// (BLAS conventions), with the float kernel chosen by simd::isa() on every call.
//
//   C (m x n) = op(A) * op(B)            (accumulate = false)
//   C (m x n) += op(A) * op(B)           (accumulate = true)
//   op(A) is m x k: A itself (lda >= m) or, when ta, the transpose of a k x m matrix (lda >= k).
//
// The float product is Eigen's GEBP kernel compiled three times: for the build's baseline
// (SSE2 unless GENREKIT_NATIVE), and, in their own translation units with a renamed Eigen
// namespace (so no template instantiation is shared across instruction sets), for AVX2+FMA
// and for AVX-512. GENREKIT_ISA (or simd::ScopedCap) caps the choice like every kernel's.
// The kernels sum in different orders, so results differ in the last bits between
// instruction sets (not between runs).
#pragma once

#include <cstdint>
#include <string>

namespace genrekit::nn::detail {

using GemmFn = void (*)(bool ta, bool tb, std::int64_t m, std::int64_t n, std::int64_t k, const float* A, std::int64_t lda,
                        const float* B, std::int64_t ldb, float* C, std::int64_t ldc, bool accumulate);

void gemm(bool ta, bool tb, std::int64_t m, std::int64_t n, std::int64_t k, const float* A, std::int64_t lda, const float* B,
          std::int64_t ldb, float* C, std::int64_t ldc, bool accumulate);
void gemm(bool ta, bool tb, std::int64_t m, std::int64_t n, std::int64_t k, const double* A, std::int64_t lda, const double* B,
          std::int64_t ldb, double* C, std::int64_t ldc, bool accumulate);

// "baseline", "avx2" or "avx512": the float kernel in use (simd::name(simd::isa())).
std::string gemm_kernel_name();

// Defined in gemm_avx2.cpp / gemm_avx512.cpp under GENREKIT_SIMD_VARIANTS (gemm() calls them
// when simd::isa() allows).
void gemm_f32_avx2(bool, bool, std::int64_t, std::int64_t, std::int64_t, const float*, std::int64_t, const float*, std::int64_t, float*,
                   std::int64_t, bool);
void gemm_f32_avx512(bool, bool, std::int64_t, std::int64_t, std::int64_t, const float*, std::int64_t, const float*, std::int64_t, float*,
                     std::int64_t, bool);

}  // namespace genrekit::nn::detail
