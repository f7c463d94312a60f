// The DSP kernel layer (src/simd) called directly, under every variant: that simd::isa()'s cap
// reaches the kernels, and the cases the public-API tests do not reach: the strip layout of the
// HPSS time median, normalize_f32 on values near float32 rounding midpoints and at the ends of
// the range, and the tempogram's lags past the last full vector group.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <utility>
#include <vector>

#include "genrekit/rhythm.hpp"
#include "kernel_variants.hpp"
#include "simd/hpss_median_kernels.hpp"
#include "simd/spectral_kernels.hpp"

namespace {

namespace hk = genrekit::simd::hpss;
using genrekit::simd::Isa;

// The width-31 time median left in strips holds, strip by strip, the same values as the whole
// matrix median; the lanes it reports (and lays the strips out with) are the capped variant's.
TEST(KernelsDsp, HpssTimeStripsFollowTheCapAndHoldTheMedians) {
    const int nb = 100, nt = 50;  // 100 bins: a last strip whose groups overlap the previous ones
    std::mt19937 rng(3);
    std::uniform_real_distribution<float> u(0.0f, 1.0f);
    std::vector<float> S(static_cast<std::size_t>(nb * nt));
    for (float& v : S) v = u(rng);
    std::vector<int> idx, ext;
    hk::reflect_indices(nt, 15, idx);
    hk::ext_indices(idx, nt, ext);
    std::vector<float> buf(static_cast<std::size_t>((hk::ext_count(nt) + nt) * hk::kStrip * hk::kMaxLanes));
    std::vector<float> whole(S.size()), strips(hk::strips_size(nb, nt));
    const int ran = gktest::for_each_isa([&](Isa isa) {
        hk::median_time(S.data(), whole.data(), nb, nt, 31, idx.data(), ext.data(), buf.data());
        const int L = hk::median_time_strips(S.data(), strips.data(), nb, nt, ext.data(), buf.data());
        EXPECT_EQ(L, isa == Isa::avx512 ? 16 : 8);
        const int W = hk::kStrip * L;
        std::size_t bad = 0;
        for (int s0 = 0, si = 0; s0 < nb; s0 += W, ++si)
            for (int g = 0; g < hk::kStrip; ++g) {
                const int b0 = std::min(s0 + g * L, nb - L);
                for (int t = 0; t < nt; ++t)
                    for (int l = 0; l < L; ++l)
                        bad += strips[static_cast<std::size_t>((si * nt + t) * W + g * L + l)] !=
                               whole[static_cast<std::size_t>(t * nb + b0 + l)];
            }
        EXPECT_EQ(bad, 0u);
    });
    EXPECT_GE(ran, 1);
}

// normalize_f32 multiplies by 1/length where that provably gives the division's bits and divides
// elsewhere: compared bit for bit with float(double(s) / length) on random values, values whose
// quotient lies next to a float32 rounding midpoint, zeros, subnormals, infinities, NaN, and
// lengths whose inverse is out of range.
TEST(KernelsDsp, NormalizeEqualsDivisionBitForBit) {
    std::mt19937 rng(9);
    std::uniform_real_distribution<float> u(0.0f, 3.0f);
    std::vector<float> s(4000 + 5);  // not a multiple of 8: the tail too
    for (float& v : s) v = u(rng);
    const float specials[] = {0.0f, -0.0f, 1e-45f, 1e-39f, std::numeric_limits<float>::min(), 1.0f,
                              std::numeric_limits<float>::max(), std::numeric_limits<float>::infinity(),
                              std::numeric_limits<float>::quiet_NaN(), 3.0f};
    for (std::size_t i = 0; i < s.size(); i += 37) s[i] = specials[(i / 37) % 10];
    const std::vector<double> lengths = {1.0, 3.0, 7.0, 1e-30, 1e300, 1e-310, 123.456};
    // Quotients next to a float32 rounding midpoint: for a float q, length = s / (q + ulp(q)/2)
    // puts s / length within a few doubles of the midpoint above q (9 values: a vector and a tail).
    std::vector<std::pair<float, double>> near_midpoint;
    for (int i = 0; i < 300; ++i) {
        const float q = u(rng) + 0.01f, sv = u(rng) + 0.5f;
        const double mid = static_cast<double>(q) + (static_cast<double>(std::nextafter(q, 10.0f)) - q) / 2;
        near_midpoint.emplace_back(sv, static_cast<double>(sv) / mid);
    }
    std::vector<float> got(s.size()), want(s.size());
    const int ran = gktest::for_each_isa([&](Isa) {
        for (const double length : lengths) {
            for (std::size_t k = 0; k < s.size(); ++k) want[k] = static_cast<float>(static_cast<double>(s[k]) / length);
            genrekit::simd::spectral::normalize_f32(s.data(), length, got.data(), s.size());
            std::size_t bad = 0;
            for (std::size_t k = 0; k < s.size(); ++k) bad += std::memcmp(&got[k], &want[k], sizeof(float)) != 0;
            EXPECT_EQ(bad, 0u) << "length " << length;
        }
        std::size_t bad = 0;
        for (const auto& [sv, length] : near_midpoint) {
            const std::vector<float> block(9, sv);
            float out[9];
            genrekit::simd::spectral::normalize_f32(block.data(), length, out, block.size());
            const float w = static_cast<float>(static_cast<double>(sv) / length);
            for (const float o : out) bad += std::memcmp(&o, &w, sizeof(float)) != 0;
        }
        EXPECT_EQ(bad, 0u) << "values near a rounding midpoint";
    });
    EXPECT_GE(ran, 1);
}

// Window lengths that leave lags past the last group of 4 or 8 (129 and 172 frames), and more
// than one 256-frame block of prefix sums: every variant the same bits, within 1e-12 of the
// direct tempogram.
TEST(KernelsDsp, MeanTempogramOddWindowsSameBitsEveryVariant) {
    std::mt19937 rng(21);
    std::exponential_distribution<float> e(2.0f);
    std::vector<float> env(700);
    for (std::size_t t = 0; t < env.size(); ++t) env[t] = (t % 23 == 0 ? 3.0f : 0.0f) + e(rng);
    for (const double ac_size : {3.0, 4.0}) {
        genrekit::TempoParams p;
        p.ac_size = ac_size;
        const genrekit::TempoEstimator est(p);
        const Eigen::VectorXd direct = genrekit::tempogram(env, p.win_length()).rowwise().mean();
        std::vector<double> first;
        const int ran = gktest::for_each_isa([&](Isa) {
            const auto fast = est.mean_tempogram(env);
            if (first.empty()) first = fast;
            EXPECT_EQ(fast, first) << "ac_size " << ac_size;
            ASSERT_EQ(fast.size(), static_cast<std::size_t>(direct.size()));
            double worst = 0;
            for (std::size_t k = 0; k < fast.size(); ++k)
                worst = std::max(worst, std::abs(fast[k] - direct[static_cast<Eigen::Index>(k)]));
            std::cout << "[mean tempogram, window " << p.win_length() << ", atol 1e-12] worst abs diff " << worst
                      << "\n";
            EXPECT_LT(worst, 1e-12);
        });
        EXPECT_GE(ran, 1);
    }
}

}  // namespace
