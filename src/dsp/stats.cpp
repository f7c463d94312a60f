#include "genrekit/stats.hpp"

#include "simd/pairwise_kernels.hpp"

namespace genrekit {

float pairwise_sum(const float* a, std::size_t n) { return simd::pairwise::sum(a, n); }

float pairwise_sum_squared_deviations(const float* a, std::size_t n, float mean) {
    return simd::pairwise::squared_deviation_sum(a, n, mean);
}

void pairwise_sum_squared_deviations(const float* a, const float* b, std::size_t n, float mean_a, float mean_b,
                                     float* out) {
    if (n <= 128) return simd::pairwise::squared_deviation_leaves(a, b, n, mean_a, mean_b, out);
    std::size_t half = n / 2;
    half -= half % 8;
    float left[2], right[2];
    pairwise_sum_squared_deviations(a, b, half, mean_a, mean_b, left);
    pairwise_sum_squared_deviations(a + half, b + half, n - half, mean_a, mean_b, right);
    out[0] = left[0] + right[0];
    out[1] = left[1] + right[1];
}

}  // namespace genrekit
