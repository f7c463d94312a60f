#include "simd/gemm.hpp"

#include <Eigen/Core>

#include <memory>
#include <vector>

#include "simd/isa.hpp"

namespace genrekit::nn::detail {
namespace {
#define GK_GEMM_NAME gemm_f32_baseline
#define GK_SCALAR float
#include "simd/gemm_kernel.inc"
#undef GK_GEMM_NAME
#undef GK_SCALAR
#define GK_GEMM_NAME gemm_f64
#define GK_SCALAR double
#include "simd/gemm_kernel.inc"
#undef GK_GEMM_NAME
#undef GK_SCALAR

}  // namespace

void gemm(bool ta, bool tb, std::int64_t m, std::int64_t n, std::int64_t k, const float* A, std::int64_t lda, const float* B,
          std::int64_t ldb, float* C, std::int64_t ldc, bool accumulate) {
#if GENREKIT_SIMD_VARIANTS
    const GemmFn fn = simd::pick<GemmFn>(gemm_f32_baseline, gemm_f32_avx2, gemm_f32_avx512);
#else
    const GemmFn fn = gemm_f32_baseline;
#endif
    fn(ta, tb, m, n, k, A, lda, B, ldb, C, ldc, accumulate);
}

void gemm(bool ta, bool tb, std::int64_t m, std::int64_t n, std::int64_t k, const double* A, std::int64_t lda, const double* B,
          std::int64_t ldb, double* C, std::int64_t ldc, bool accumulate) {
    gemm_f64(ta, tb, m, n, k, A, lda, B, ldb, C, ldc, accumulate);
}

std::string gemm_kernel_name() { return simd::name(simd::isa()); }

}  // namespace genrekit::nn::detail
