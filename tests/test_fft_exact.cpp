// The float64 real FFT (dsp/fft_exact, kernels in simd/fft_exact_kernels) that recomputes the
// few STFT frames whose float32 magnitudes sit too close to a decision, every variant: against
// a direct DFT in long double, and through Stft::frame_magnitude_exact, whose complex64 bins
// must be numpy's (float64 rfft, rounded).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <complex>
#include <iostream>
#include <numbers>
#include <random>
#include <vector>

#include "dsp/fft_exact.hpp"
#include "genrekit/error.hpp"
#include "genrekit/stft.hpp"
#include "kernel_variants.hpp"

namespace {

// Direct DFT in long double: bins 0 .. n/2.
std::vector<std::complex<long double>> direct_rfft(const std::vector<double>& x) {
    const std::size_t n = x.size();
    std::vector<std::complex<long double>> X(n / 2 + 1);
    for (std::size_t k = 0; k <= n / 2; ++k) {
        long double re = 0, im = 0;
        for (std::size_t m = 0; m < n; ++m) {
            const long double a = 2.0L * std::numbers::pi_v<long double> * static_cast<long double>((k * m) % n) / n;
            re += x[m] * std::cos(a);
            im -= x[m] * std::sin(a);
        }
        X[k] = {re, im};
    }
    return X;
}

// Radix-2 in double: a few log2(n) epsilons of the largest bin (measured <= 6e-16 at n = 2048).
constexpr double kRelToPeak = 1e-14;

TEST(FftExact, MatchesDirectDftOnRandomFramesOfEverySize) {
    std::mt19937 rng(7);
    std::normal_distribution<double> dist(0.0, 1.0);
    for (int n = 4; n <= 2048; n *= 2) {
        std::vector<double> x(static_cast<std::size_t>(n));
        for (double& v : x) v = dist(rng);
        genrekit::fft_exact::RealFft fft(n);
        const auto want = direct_rfft(x);
        long double peak = 0;
        for (const auto& w : want) peak = std::max(peak, std::abs(w));
        // Every variant of the butterflies: the same bits as the first, and each against the DFT.
        std::vector<std::complex<double>> first;
        gktest::for_each_isa([&](genrekit::simd::Isa isa) {
            std::vector<std::complex<double>> got(static_cast<std::size_t>(n / 2 + 1));
            fft.forward(x.data(), got.data());
            if (first.empty()) first = got;
            EXPECT_TRUE(got == first) << genrekit::simd::name(isa) << " differs from the first variant, n = " << n;
            long double worst = 0;
            std::size_t at = 0;
            for (std::size_t k = 0; k < want.size(); ++k) {
                const std::complex<long double> g(got[k].real(), got[k].imag());
                const long double e = std::abs(g - want[k]);
                if (e > worst) worst = e, at = k;
            }
            const double rel = static_cast<double>(worst / peak);
            std::cout << "[" << genrekit::simd::name(isa) << " fft_exact n=" << n << ", tolerance " << kRelToPeak
                      << " of the peak] worst " << rel << " at bin " << at << "\n";
            EXPECT_LE(rel, kRelToPeak) << "n = " << n;
        });
    }
}

// forward_complex64 (several frames per vector operation) against forward() one frame at a time
// rounded to complex64, bit for bit: frame counts that leave lanes over, and sizes below and
// above the L1 blocking.
TEST(FftExact, FramesAtOnceGiveOneFrameAtATimesBits) {
    std::mt19937 rng(11);
    std::normal_distribution<double> dist(0.0, 1.0);
    for (const int n : {4, 8, 16, 256, 512, 2048})
        for (const std::size_t count : {std::size_t{1}, std::size_t{3}, std::size_t{8}, std::size_t{11}}) {
            const auto nb = static_cast<std::size_t>(n / 2 + 1);
            std::vector<std::vector<double>> x(count, std::vector<double>(static_cast<std::size_t>(n)));
            for (auto& frame : x)
                for (double& v : frame) v = dist(rng);
            genrekit::fft_exact::RealFft fft(n);
            std::vector<std::vector<std::complex<float>>> got(count, std::vector<std::complex<float>>(nb));
            std::vector<const double*> xs;
            std::vector<std::complex<float>*> outs;
            for (std::size_t f = 0; f < count; ++f) {
                xs.push_back(x[f].data());
                outs.push_back(got[f].data());
            }
            // Every variant (4 or 8 lanes): forward()'s bits, and the same bits as the first variant.
            std::vector<std::vector<std::complex<float>>> first;
            gktest::for_each_isa([&](genrekit::simd::Isa isa) {
                for (auto& g : got) std::fill(g.begin(), g.end(), std::complex<float>(-7.0f, 7.0f));
                fft.forward_complex64(xs.data(), outs.data(), count);
                if (first.empty()) first = got;
                EXPECT_TRUE(got == first) << genrekit::simd::name(isa) << " differs from the first variant, n = " << n
                                          << ", " << count << " frames";
                std::size_t differ = 0;
                std::vector<std::complex<double>> want(nb);
                for (std::size_t f = 0; f < count; ++f) {
                    fft.forward(x[f].data(), want.data());
                    for (std::size_t k = 0; k < nb; ++k) differ += got[f][k] != std::complex<float>(want[k]);
                }
                EXPECT_EQ(differ, 0u) << "bins differing, n = " << n << ", " << count << " frames";
            });
        }
}

TEST(FftExact, RejectsSizesThatAreNotPowersOfTwo) {
    EXPECT_FALSE(genrekit::fft_exact::RealFft::supported(2000));
    EXPECT_FALSE(genrekit::fft_exact::RealFft::supported(2));
    EXPECT_THROW(genrekit::fft_exact::RealFft(1000), genrekit::Error);
}

// frame_magnitude_exact rounds each float64 bin to complex64 and takes |.| in float32, as
// librosa 0.7.2's stft then np.abs do. Against the direct DFT, rounded the same way, a bin may
// differ only where the float64 value sits within rounding noise of a float32 boundary: at most
// one float32 ulp, and (measured) on no bin of these frames. Sizes 2048 (our FFT) and 1500
// (KissFFT's float64 path) both go through it.
TEST(FftExact, FrameMagnitudeExactIsTheRoundedFloat64Spectrum) {
    std::mt19937 rng(11);
    std::uniform_real_distribution<float> dist(-0.5f, 0.5f);
    std::vector<float> y(30000);
    for (float& v : y) v = dist(rng);
    for (int n_fft : {2048, 1500}) {
        genrekit::Stft stft({.n_fft = n_fft, .hop = 512});
        const auto window = genrekit::hann_window(n_fft);
        int off_by_one = 0, worse = 0;
        for (std::size_t t : {std::size_t{0}, std::size_t{20}, stft.n_frames(y.size()) - 1}) {
            const auto mag = stft.frame_magnitude_exact(y, t);
            // The frame as forward() takes it: reflect padding by n_fft / 2.
            std::vector<double> frame(static_cast<std::size_t>(n_fft));
            const auto n = static_cast<std::ptrdiff_t>(y.size());
            for (std::size_t k = 0; k < frame.size(); ++k) {
                std::ptrdiff_t i = static_cast<std::ptrdiff_t>(t * 512 + k) - n_fft / 2;
                if (i < 0) i = -i;
                if (i >= n) i = 2 * (n - 1) - i;
                frame[k] = window[k] * static_cast<double>(y[static_cast<std::size_t>(i)]);
            }
            const auto X = direct_rfft(frame);
            ASSERT_EQ(mag.size(), X.size());
            for (std::size_t b = 0; b < X.size(); ++b) {
                const double re = static_cast<float>(static_cast<double>(X[b].real()));
                const double im = static_cast<float>(static_cast<double>(X[b].imag()));
                const auto want = static_cast<float>(std::sqrt(re * re + im * im));
                if (mag[b] == want) continue;
                (std::nextafter(want, mag[b]) == mag[b] ? off_by_one : worse)++;
            }
        }
        std::cout << "[frame_magnitude_exact n_fft=" << n_fft << "] bins one float32 ulp off: " << off_by_one
                  << ", further off: " << worse << "\n";
        EXPECT_EQ(worse, 0) << "n_fft = " << n_fft;
        EXPECT_LE(off_by_one, 2) << "n_fft = " << n_fft;
    }
}

}  // namespace
