#include "simd/gemm.hpp"

#include <Eigen/Core>

#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

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

struct Choice {
    GemmFn fn;
    const char* name;
};

Choice choose() {
#if defined(__x86_64__)
    __builtin_cpu_init();
    const bool avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
                        __builtin_cpu_supports("avx512bw");
    const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    const char* env = std::getenv("GENREKIT_GEMM");
    if (env && std::strcmp(env, "baseline") == 0) return {gemm_f32_baseline, "baseline"};
    if (env && std::strcmp(env, "avx2") == 0) return avx2 ? Choice{gemm_f32_avx2, "avx2"} : Choice{gemm_f32_baseline, "baseline"};
    if (avx512) return {gemm_f32_avx512, "avx512"};
    if (avx2) return {gemm_f32_avx2, "avx2"};
#endif
    return {gemm_f32_baseline, "baseline"};
}

const Choice& chosen() {
    static const Choice c = choose();
    return c;
}
}  // namespace

void gemm(bool ta, bool tb, std::int64_t m, std::int64_t n, std::int64_t k, const float* A, std::int64_t lda, const float* B,
          std::int64_t ldb, float* C, std::int64_t ldc, bool accumulate) {
    chosen().fn(ta, tb, m, n, k, A, lda, B, ldb, C, ldc, accumulate);
}

void gemm(bool ta, bool tb, std::int64_t m, std::int64_t n, std::int64_t k, const double* A, std::int64_t lda, const double* B,
          std::int64_t ldb, double* C, std::int64_t ldc, bool accumulate) {
    gemm_f64(ta, tb, m, n, k, A, lda, B, ldb, C, ldc, accumulate);
}

std::string gemm_kernel_name() { return chosen().name; }

}  // namespace genrekit::nn::detail
