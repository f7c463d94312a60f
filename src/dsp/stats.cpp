#include "genrekit/stats.hpp"

#include "dsp/pairwise_kernels.hpp"

namespace genrekit {

namespace {

// (a[k] - mean)^2 in float32. ref: numpy/core/_methods.py _var: x = a - mean; x = x * x.
struct SquaredDeviationTerms {
    const float* a;
    float mean;
    [[gnu::always_inline]] float one(std::size_t k) const {
        const float d = a[k] - mean;
        return d * d;
    }
    [[gnu::always_inline]] pairwise::Vec<float> vec(std::size_t k) const {
        const pairwise::Vec<float> d = simd::load<pairwise::Vec<float>>(a + k) - mean;
        return d * d;
    }
};

GENREKIT_PAIRWISE_SUM(sum_base, )
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__AVX2__)
GENREKIT_PAIRWISE_SUM(sum_avx2, [[gnu::target("avx2")]])
#endif

// Leaves of a and b side by side (compiled for AVX2 too; no FMA: AVX2 alone has none).
[[gnu::target_clones("avx2", "default")]] void squared_deviation_leaves(const float* a, const float* b, std::size_t n,
                                                                         float mean_a, float mean_b, float* out) {
    pairwise::leaf_sums<float>(0, n, out, SquaredDeviationTerms{a, mean_a}, SquaredDeviationTerms{b, mean_b});
}

}  // namespace

float pairwise_sum(const float* a, std::size_t n) {
    const pairwise::ArrayTerms<float> terms{a};
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__AVX2__)
    static const bool avx2 = __builtin_cpu_supports("avx2");
    if (avx2) return sum_avx2<float>(terms, 0, n);
#endif
    return sum_base<float>(terms, 0, n);
}

float pairwise_sum_squared_deviations(const float* a, std::size_t n, float mean) {
    const SquaredDeviationTerms terms{a, mean};
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__AVX2__)
    static const bool avx2 = __builtin_cpu_supports("avx2");
    if (avx2) return sum_avx2<float>(terms, 0, n);
#endif
    return sum_base<float>(terms, 0, n);
}

void pairwise_sum_squared_deviations(const float* a, const float* b, std::size_t n, float mean_a, float mean_b,
                                     float* out) {
    if (n <= 128) return squared_deviation_leaves(a, b, n, mean_a, mean_b, out);
    std::size_t half = n / 2;
    half -= half % 8;
    float left[2], right[2];
    pairwise_sum_squared_deviations(a, b, half, mean_a, mean_b, left);
    pairwise_sum_squared_deviations(a + half, b + half, n - half, mean_a, mean_b, right);
    out[0] = left[0] + right[0];
    out[1] = left[1] + right[1];
}

}  // namespace genrekit
