// The vector kernels behind rms, zero_crossing_rate and the spectral shape, every variant
// (src/simd/spectral_kernels, pairwise_kernels), against plain one-value-at-a-time references
// written from librosa 0.7.2's formulas, bit for bit, on shapes the golden tracks do not reach:
// odd frame and bin counts, other frame lengths and hops (the paths without shared leaves or
// blocks), silent and near-silent frames, p != 2, norm = false.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "genrekit/mel.hpp"
#include "genrekit/spectral_features.hpp"
#include "genrekit/stats.hpp"
#include "kernel_variants.hpp"

namespace {

std::vector<float> test_signal(std::size_t n, unsigned seed) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    std::vector<float> y(n);
    for (std::size_t i = 0; i < n; ++i) {
        y[i] = u(rng);
        if (i % 97 == 5) y[i] = 0.0f;      // exact zeros count as positive
        if (i % 89 == 7) y[i] = -1e-12f;   // within the zcr threshold: zero too
        if (i % 53 == 3) y[i] = -0.0f;
    }
    return y;
}

// numpy.pad(y, half, mode) for signals longer than half + 1 (one reflection is enough).
std::vector<float> padded(const std::vector<float>& y, std::size_t half, bool reflect) {
    const auto n = static_cast<std::ptrdiff_t>(y.size());
    std::vector<float> out;
    for (std::ptrdiff_t i = -static_cast<std::ptrdiff_t>(half); i < n + static_cast<std::ptrdiff_t>(half); ++i) {
        std::ptrdiff_t j = i;
        if (j < 0) j = reflect ? -j : 0;
        if (j >= n) j = reflect ? 2 * (n - 1) - j : n - 1;
        out.push_back(y[static_cast<std::size_t>(j)]);
    }
    return out;
}

struct Framing {
    int length, hop;
    bool center;
};

const Framing kFramings[] = {{2048, 512, true}, {2048, 512, false}, {256, 128, true}, {128, 128, true},
                             {512, 384, true},  {1000, 250, true},  {300, 100, false}, {7, 3, true}};

TEST(SpectralKernels, RmsEqualsFrameByFramePairwiseSums) {
    const int ran = gktest::for_each_isa([&](genrekit::simd::Isa) {
        for (const Framing f : kFramings)
            for (const std::size_t n : {std::size_t{2000}, std::size_t{5000}, std::size_t{22050 + 77}}) {
                if (n <= static_cast<std::size_t>(f.length / 2 + 1)) continue;
                const auto y = test_signal(n, static_cast<unsigned>(n + f.length));
                const auto got = genrekit::rms(y, {.frame_length = f.length, .hop = f.hop, .center = f.center});
                const auto x = f.center ? padded(y, static_cast<std::size_t>(f.length / 2), true) : y;
                if (x.size() < static_cast<std::size_t>(f.length)) continue;
                const std::size_t T = 1 + (x.size() - static_cast<std::size_t>(f.length)) / static_cast<std::size_t>(f.hop);
                ASSERT_EQ(got.size(), T) << f.length << "/" << f.hop << ", n " << n;
                std::size_t differ = 0;
                for (std::size_t t = 0; t < T; ++t) {
                    std::vector<float> sq(static_cast<std::size_t>(f.length));
                    for (std::size_t i = 0; i < sq.size(); ++i) {
                        const float v = x[t * static_cast<std::size_t>(f.hop) + i];
                        sq[i] = v * v;
                    }
                    // ref: librosa 0.7.2 rms: np.sqrt(np.mean(np.abs(x)**2, axis=0)) in float32.
                    const float want = std::sqrt(genrekit::pairwise_sum<float>(sq.data(), sq.size()) / static_cast<float>(f.length));
                    differ += got[t] != want;
                }
                EXPECT_EQ(differ, 0u) << "frames differing, frame " << f.length << " hop " << f.hop << " n " << n;
            }
    });
    EXPECT_GE(ran, 1);
}

TEST(SpectralKernels, ZeroCrossingRateEqualsFrameByFrameCounts) {
    const int ran = gktest::for_each_isa([&](genrekit::simd::Isa) {
        for (const Framing f : kFramings)
            for (const std::size_t n : {std::size_t{2000}, std::size_t{5000}, std::size_t{22050 + 77}}) {
                if (n <= static_cast<std::size_t>(f.length / 2 + 1)) continue;
                const auto y = test_signal(n, static_cast<unsigned>(3 * n + f.hop));
                genrekit::ZcrParams p;
                p.frame = {.frame_length = f.length, .hop = f.hop, .center = f.center};
                const auto got = genrekit::zero_crossing_rate(y, p);
                const auto x = f.center ? padded(y, static_cast<std::size_t>(f.length / 2), false) : y;
                if (x.size() < static_cast<std::size_t>(f.length)) continue;
                const std::size_t T = 1 + (x.size() - static_cast<std::size_t>(f.length)) / static_cast<std::size_t>(f.hop);
                ASSERT_EQ(got.size(), T);
                std::size_t differ = 0;
                for (std::size_t t = 0; t < T; ++t) {
                    // ref: librosa 0.7.2 zero_crossings: |v| <= 1e-10 is zero (positive), a crossing
                    // where consecutive sign bits differ, never at a frame's first sample.
                    auto neg = [&](std::size_t i) {
                        const float v = x[t * static_cast<std::size_t>(f.hop) + i];
                        return !(std::abs(v) <= 1e-10f) && std::signbit(v);
                    };
                    int count = 0;
                    for (std::size_t i = 1; i < static_cast<std::size_t>(f.length); ++i) count += neg(i) != neg(i - 1);
                    differ += got[t] != static_cast<double>(count) / f.length;
                }
                EXPECT_EQ(differ, 0u) << "frames differing, frame " << f.length << " hop " << f.hop << " n " << n;
            }
    });
    EXPECT_GE(ran, 1);
}

// A non-negative spectrogram with a silent frame, a near-silent one and a single-bin one.
genrekit::Spectrogram test_spectrogram(Eigen::Index bins, Eigen::Index frames, unsigned seed) {
    std::mt19937 rng(seed);
    std::exponential_distribution<float> e(3.0f);
    genrekit::Spectrogram S(bins, frames);
    for (Eigen::Index t = 0; t < frames; ++t)
        for (Eigen::Index k = 0; k < bins; ++k) S(k, t) = e(rng) / static_cast<float>(1 + k / 16);
    if (frames > 2) {
        S.col(1).setZero();
        S.col(2).setZero();
        S(bins / 2, 2) = 1e-39f;  // below tiny(float32): librosa leaves the frame unnormalised
    }
    if (frames > 4) {
        S.col(4).setZero();
        S(bins - 1, 4) = 2.0f;
    }
    return S;
}

TEST(SpectralKernels, ShapeEqualsFrameByFrameReference) {
    const float tiny = std::numeric_limits<float>::min();
    const int ran = gktest::for_each_isa([&](genrekit::simd::Isa) {
        for (const Eigen::Index bins : {Eigen::Index{1025}, Eigen::Index{257}, Eigen::Index{13}, Eigen::Index{5}})
            for (const Eigen::Index frames : {Eigen::Index{1}, Eigen::Index{7}, Eigen::Index{21}})
                for (const double p : {2.0, 3.0})
                    for (const bool norm : {true, false}) {
                        const auto S = test_spectrogram(bins, frames, static_cast<unsigned>(bins * 31 + frames));
                        const genrekit::SpectralParams sp{.sample_rate = 22050, .roll_percent = 0.85, .p = p, .norm = norm};
                        const auto got = genrekit::spectral_shape(S, sp);
                        const auto freq = genrekit::fft_frequencies(22050, 2 * static_cast<int>(bins - 1));
                        const auto n = static_cast<std::size_t>(bins);
                        std::size_t differ = 0;
                        for (Eigen::Index t = 0; t < frames; ++t) {
                            const auto ti = static_cast<std::size_t>(t);
                            std::vector<double> terms(n);
                            // ref: librosa 0.7.2 util.normalize(S, norm=1): float64 L1 norm, float32 quotient.
                            for (std::size_t k = 0; k < n; ++k) terms[k] = std::abs(static_cast<double>(S(static_cast<Eigen::Index>(k), t)));
                            double length = genrekit::pairwise_sum<double>(terms.data(), n);
                            if (length < tiny) length = 1.0;
                            std::vector<float> q(n);
                            for (std::size_t k = 0; k < n; ++k)
                                q[k] = static_cast<float>(static_cast<double>(S(static_cast<Eigen::Index>(k), t)) / length);
                            for (std::size_t k = 0; k < n; ++k) terms[k] = freq[k] * static_cast<double>(q[k]);
                            const double centroid = genrekit::pairwise_sum<double>(terms.data(), n);
                            // ref: librosa 0.7.2 spectral_bandwidth: S * abs(freq - centroid)**p summed,
                            // **(1/p); numpy squares and takes the square root for p = 2.
                            for (std::size_t k = 0; k < n; ++k) {
                                const double w = norm ? q[k] : S(static_cast<Eigen::Index>(k), t);
                                const double d = std::abs(freq[k] - centroid);
                                terms[k] = w * (p == 2.0 ? d * d : std::pow(d, p));
                            }
                            const double sum = genrekit::pairwise_sum<double>(terms.data(), n);
                            const double bandwidth = p == 2.0 ? std::sqrt(sum) : std::pow(sum, 1.0 / p);
                            // ref: librosa 0.7.2 spectral_rolloff: float32 cumsum, the first bin reaching
                            // roll_percent (float32) of the total.
                            float total = 0.0f;
                            for (std::size_t k = 0; k < n; ++k) total += S(static_cast<Eigen::Index>(k), t);
                            const float threshold = 0.85f * total;
                            float cum = 0.0f;
                            std::size_t at = n - 1;
                            for (std::size_t k = 0; k < n; ++k) {
                                cum += S(static_cast<Eigen::Index>(k), t);
                                if (cum >= threshold) {
                                    at = k;
                                    break;
                                }
                            }
                            differ += got.centroid[ti] != centroid;
                            differ += got.bandwidth[ti] != bandwidth;
                            differ += got.rolloff[ti] != freq[at];
                        }
                        EXPECT_EQ(differ, 0u) << "values differing: " << bins << " bins, " << frames << " frames, p " << p
                                              << ", norm " << norm;
                    }
    });
    EXPECT_GE(ran, 1);
}

}  // namespace
