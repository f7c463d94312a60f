// The float32 pairwise sums of every kernel variant (src/simd/pairwise_kernels) against the
// one-term-at-a-time templates of stats.hpp, bit for bit, over lengths that hit every branch of
// numpy's recursion: below 8, one block, the tail after the last multiple of 8, and deep splits.
#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "genrekit/stats.hpp"
#include "kernel_variants.hpp"

namespace {

TEST(Stats, VectorPairwiseSumsEqualTheScalarTemplates) {
    std::mt19937 rng(7);
    std::normal_distribution<float> g(0.25f, 1.0f);
    std::vector<float> a(661500);
    for (float& v : a) v = g(rng);
    std::vector<float> b(a.begin() + 17, a.end());  // a second array for the two-array pass
    b.resize(a.size(), 0.25f);
    const int ran = gktest::for_each_isa([&](genrekit::simd::Isa) {
        std::size_t checked = 0;
        for (const std::size_t n : {0, 1, 7, 8, 9, 15, 127, 128, 129, 135, 257, 1000, 2048, 4099, 661500}) {
            const float want = genrekit::pairwise_sum<float>(a.data(), n);  // the template: scalar
            EXPECT_EQ(genrekit::pairwise_sum(a.data(), n), want) << n << " terms";
            const float mean = n ? want / static_cast<float>(n) : 0.0f;
            EXPECT_EQ(genrekit::pairwise_sum_squared_deviations(a.data(), n, mean),
                      genrekit::pairwise_sum_squared_deviations<float>(a.data(), n, mean))
                << n << " terms";
            float both[2];  // the two-array pass (the HPSS waveforms' variances)
            genrekit::pairwise_sum_squared_deviations(a.data(), b.data(), n, mean, 0.5f, both);
            EXPECT_EQ(both[0], genrekit::pairwise_sum_squared_deviations<float>(a.data(), n, mean)) << n << " terms";
            EXPECT_EQ(both[1], genrekit::pairwise_sum_squared_deviations<float>(b.data(), n, 0.5f)) << n << " terms";
            ++checked;
        }
        // np_mean_var (squared deviations stored, then summed) is the same arithmetic again.
        const auto mv = genrekit::np_mean_var(std::span<const float>(a));
        const float mean = genrekit::pairwise_sum(a.data(), a.size()) / static_cast<float>(a.size());
        EXPECT_EQ(mv.mean, mean);
        EXPECT_EQ(mv.var, genrekit::pairwise_sum_squared_deviations(a.data(), a.size(), mean) / static_cast<float>(a.size()));
        EXPECT_EQ(checked, 15u);
    });
    EXPECT_GE(ran, 1);
}

}  // namespace
