// The 8-frames-at-once real FFT (dsp/fft_batch, kernels in simd/fft_kernels), every variant:
// forward against KissFFT's kiss_fftr, the reference it replaces, and against a float64 DFT on
// random frames of every power-of-two size and through Stft::forward on a real track (edge
// frames included); the inverse with overlap-add against a float64 inverse DFT.
#include <gtest/gtest.h>

#include <kissfft/kiss_fftr.h>

#include <algorithm>
#include <cmath>
#include <complex>
#include <iostream>
#include <numbers>
#include <random>
#include <vector>

#include "dsp/fft_batch.hpp"
#include "genrekit/audio.hpp"
#include "genrekit/error.hpp"
#include "genrekit/stft.hpp"
#include "kernel_variants.hpp"
#include "support.hpp"

namespace {

namespace fb = genrekit::fft_batch;

// Both FFTs run in float32 with twiddles rounded from double, so each bin carries rounding
// noise of a few float32 ulps of the frame's largest bin (times ~log2 N). Tolerance: 5e-7 of
// the frame's largest |X| (measured: <= 1.5e-7 for every size here, between the two and
// against float64).
constexpr double kRelToPeak = 5e-7;

std::vector<std::complex<float>> kiss_rfft(const std::vector<float>& windowed) {
    const int n = static_cast<int>(windowed.size());
    kiss_fftr_cfg cfg = kiss_fftr_alloc(n, 0, nullptr, nullptr);
    std::vector<kiss_fft_cpx> out(static_cast<std::size_t>(n / 2 + 1));
    kiss_fftr(cfg, windowed.data(), out.data());
    kiss_fftr_free(cfg);
    std::vector<std::complex<float>> r;
    for (const auto& c : out) r.emplace_back(c.r, c.i);
    return r;
}

// The DFT in float64 of the float32 windowed frame: the exact answer both approximate.
std::vector<std::complex<double>> exact_rfft(const std::vector<float>& windowed) {
    const std::size_t n = windowed.size();
    std::vector<std::complex<double>> r(n / 2 + 1);
    for (std::size_t k = 0; k <= n / 2; ++k) {
        std::complex<double> acc = 0;
        for (std::size_t m = 0; m < n; ++m) {
            const double ph = -2.0 * std::numbers::pi * static_cast<double>((k * m) % n) / static_cast<double>(n);
            acc += static_cast<double>(windowed[m]) * std::complex<double>(std::cos(ph), std::sin(ph));
        }
        r[k] = acc;
    }
    return r;
}

TEST(FftBatch, ForwardMatchesKissFftOnRandomFrames) {
    std::mt19937 rng(7);
    std::normal_distribution<float> g(0.0f, 0.3f);
    for (int n_fft = 16; n_fft <= 4096; n_fft *= 2) {
        const fb::Plan plan = fb::make_plan(n_fft);
        const std::size_t nb = static_cast<std::size_t>(n_fft / 2 + 1);
        fb::Scratch scratch;
        for (int lanes : {8, 3}) {
            std::vector<std::vector<float>> frames(fb::kLanes, std::vector<float>(static_cast<std::size_t>(n_fft)));
            for (auto& f : frames)
                for (std::size_t i = 0; i < f.size(); ++i)  // a tone and noise: a wide dynamic range of bins
                    f[i] = 0.5f * std::sin(0.37f * static_cast<float>(i)) + g(rng);
            const std::complex<float> sentinel(-7.0f, 7.0f);
            std::vector<std::vector<std::complex<float>>> out(fb::kLanes, std::vector<std::complex<float>>(nb, sentinel));
            const float* fp[fb::kLanes];
            std::complex<float>* op[fb::kLanes];
            for (int l = 0; l < fb::kLanes; ++l) {
                fp[l] = frames[static_cast<std::size_t>(l)].data();
                op[l] = out[static_cast<std::size_t>(l)].data();
            }
            // The references, once: kiss_fftr and the float64 DFT of each windowed frame.
            std::vector<std::vector<std::complex<float>>> kiss_ref;
            std::vector<std::vector<std::complex<double>>> exact_ref;
            std::vector<double> peaks;
            for (int l = 0; l < lanes; ++l) {
                std::vector<float> windowed(static_cast<std::size_t>(n_fft));
                for (std::size_t i = 0; i < windowed.size(); ++i)
                    windowed[i] = plan.window[i] * frames[static_cast<std::size_t>(l)][i];
                kiss_ref.push_back(kiss_rfft(windowed));
                exact_ref.push_back(exact_rfft(windowed));
                double peak = 0;
                for (const auto& c : exact_ref.back()) peak = std::max(peak, std::abs(c));
                peaks.push_back(peak);
            }
            // Every variant: the same bits as the first (baseline), and each against the references.
            std::vector<std::vector<std::complex<float>>> first;
            gktest::for_each_isa([&](genrekit::simd::Isa isa) {
                for (auto& o : out) std::fill(o.begin(), o.end(), sentinel);
                fb::forward(plan, fp, op, lanes, scratch);
                if (first.empty()) first = out;
                for (int l = 0; l < fb::kLanes; ++l)
                    ASSERT_TRUE(out[static_cast<std::size_t>(l)] == first[static_cast<std::size_t>(l)])
                        << genrekit::simd::name(isa) << " differs from the first variant: n_fft " << n_fft << " lane " << l;
                double worst_kiss = 0, worst_batch_exact = 0, worst_kiss_exact = 0;
                for (int l = 0; l < fb::kLanes; ++l) {
                    const auto& got = out[static_cast<std::size_t>(l)];
                    if (l >= lanes) {  // lanes past `lanes` are not written
                        for (const auto& c : got) ASSERT_EQ(c, sentinel) << "n_fft " << n_fft << " lane " << l;
                        continue;
                    }
                    const auto& kiss = kiss_ref[static_cast<std::size_t>(l)];
                    const auto& exact = exact_ref[static_cast<std::size_t>(l)];
                    const double peak = peaks[static_cast<std::size_t>(l)];
                    for (std::size_t k = 0; k < nb; ++k) {
                        const std::complex<double> b(got[k]), r(kiss[k]);
                        worst_kiss = std::max(worst_kiss, std::abs(b - r) / peak);
                        worst_batch_exact = std::max(worst_batch_exact, std::abs(b - exact[k]) / peak);
                        worst_kiss_exact = std::max(worst_kiss_exact, std::abs(r - exact[k]) / peak);
                    }
                    // DC and Nyquist bins are real.
                    EXPECT_EQ(got[0].imag(), 0.0f);
                    EXPECT_EQ(got[nb - 1].imag(), 0.0f);
                }
                std::cout << genrekit::simd::name(isa) << ": n_fft " << n_fft << ", " << lanes
                          << " lanes: worst |batch - kiss_fftr| " << worst_kiss << " x peak (tolerance " << kRelToPeak << "); vs float64 DFT: batch " << worst_batch_exact
                          << ", kiss_fftr " << worst_kiss_exact << "\n";
                EXPECT_LE(worst_kiss, kRelToPeak) << "n_fft " << n_fft;
                EXPECT_LE(worst_batch_exact, kRelToPeak) << "n_fft " << n_fft;
            });
        }
    }
}

// inverse_overlap_add on random spectra and gains, every variant: the same bits as the first
// (baseline), and each within 1e-6 of the output's peak of a float64 inverse DFT, windowed and
// overlap-added (float32 rounding through ~log2 N butterflies; measured <= 1.5e-7). Hops of 16 take the
// scalar overlap-add, hops >= 32 the vector one; 11 frames leave a partial last group.
TEST(FftBatch, InverseOverlapAddMatchesFloat64Reference) {
    constexpr double kTolerance = 1e-6;
    std::mt19937 rng(11);
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    for (int n_fft : {64, 256, 1024})
        for (int hop : {16, n_fft / 4}) {
            const fb::Plan plan = fb::make_plan(n_fft);
            const int nb = n_fft / 2 + 1, nt = 11, M = n_fft / 2;
            std::vector<std::complex<float>> X(static_cast<std::size_t>(nb * nt));
            std::vector<float> gain(X.size());
            for (std::size_t i = 0; i < X.size(); ++i) {
                const int k = static_cast<int>(i % static_cast<std::size_t>(nb));
                X[i] = {u(rng), k == 0 || k == M ? 0.0f : u(rng)};  // DC and Nyquist real, as in a real STFT
                gain[i] = 0.5f * (u(rng) + 1.0f);
            }
            const std::size_t len = static_cast<std::size_t>(n_fft + hop * (nt - 1));
            std::vector<double> ref(len, 0.0);
            for (int t = 0; t < nt; ++t)
                for (int i = 0; i < n_fft; ++i) {
                    double v = 0;
                    for (int k = 0; k <= M; ++k) {
                        const std::size_t at = static_cast<std::size_t>(t * nb + k);
                        const std::complex<double> z = std::complex<double>(X[at]) * static_cast<double>(gain[at]);
                        const double ph = 2.0 * std::numbers::pi * static_cast<double>((k * i) % n_fft) / n_fft;
                        v += (k == 0 || k == M ? 1.0 : 2.0) * (z.real() * std::cos(ph) - z.imag() * std::sin(ph));
                    }
                    ref[static_cast<std::size_t>(t * hop + i)] += plan.window[static_cast<std::size_t>(i)] * (v / n_fft);
                }
            double peak = 0;
            for (double v : ref) peak = std::max(peak, std::abs(v));
            std::vector<float> first;
            gktest::for_each_isa([&](genrekit::simd::Isa isa) {
                std::vector<float> y(len, 0.0f);
                fb::Scratch scratch;
                for (int t0 = 0; t0 < nt; t0 += fb::kLanes)
                    fb::inverse_overlap_add(plan, X.data(), gain.data(), nb, nt, t0, hop, scratch, y.data());
                if (first.empty()) first = y;
                EXPECT_TRUE(y == first) << genrekit::simd::name(isa) << " differs from the first variant: n_fft "
                                        << n_fft << " hop " << hop;
                double worst = 0;
                for (std::size_t i = 0; i < len; ++i) worst = std::max(worst, std::abs(y[i] - ref[i]));
                std::cout << genrekit::simd::name(isa) << ": n_fft " << n_fft << ", hop " << hop
                          << ": worst |inverse_overlap_add - float64| " << worst / peak << " x peak (tolerance "
                          << kTolerance << ")\n";
                EXPECT_LE(worst, kTolerance * peak) << "n_fft " << n_fft << " hop " << hop;
            });
        }
}

TEST(FftBatch, RejectsSizesThatAreNotPowersOfTwo) {
    EXPECT_FALSE(fb::supported(8));
    EXPECT_FALSE(fb::supported(1000));
    EXPECT_TRUE(fb::supported(2048));
    EXPECT_THROW(fb::make_plan(1000), genrekit::Error);
}

// Stft::forward (the batch path, for every power-of-two n_fft) against kiss_fftr of every reflect-padded,
// windowed frame of a real track, and the magnitude/power outputs against magnitude(X).
TEST(FftBatch, StftOfRealTrackMatchesKissFft) {
    GK_REQUIRE_SHARED(shared);
    const auto y = genrekit::load_audio(gktest::track_wav(shared, {"blues.00000", "blues"})).samples;
    genrekit::Stft stft;
    genrekit::ComplexSpectrogram X;
    genrekit::Spectrogram mag, pow;
    stft.forward(y, X, &mag, &pow);
    ASSERT_EQ(X.cols(), static_cast<Eigen::Index>(1 + y.size() / 512));
    EXPECT_EQ(mag, genrekit::magnitude(X));
    // ref: numpy abs(complex64) = hypotf: sqrt in double, rounded to float (the vector loops too).
    std::size_t abs_mismatches = 0;
    for (Eigen::Index t = 0; t < X.cols(); ++t)
        for (Eigen::Index k = 0; k < X.rows(); ++k) {
            const double re = X(k, t).real(), im = X(k, t).imag();
            abs_mismatches += mag(k, t) != static_cast<float>(std::sqrt(re * re + im * im));
        }
    EXPECT_EQ(abs_mismatches, 0u);
    EXPECT_EQ(pow, genrekit::power(X));
    genrekit::Spectrogram pow_only;
    stft.power_spectrogram(y, pow_only);
    EXPECT_EQ(pow_only, pow);

    const auto padded = genrekit::pad_signal(y, 1024, 1024, genrekit::PadMode::Reflect);
    const auto w64 = genrekit::hann_window(2048);
    const std::vector<float> w(w64.begin(), w64.end());
    double worst = 0, peak = 0;
    Eigen::Index worst_t = 0, worst_k = 0;
    std::vector<float> frame(2048);
    for (Eigen::Index t = 0; t < X.cols(); ++t) {
        for (std::size_t i = 0; i < 2048; ++i) frame[i] = w[i] * padded[static_cast<std::size_t>(t) * 512 + i];
        const auto ref = kiss_rfft(frame);
        for (Eigen::Index k = 0; k < X.rows(); ++k) {
            peak = std::max(peak, static_cast<double>(std::abs(ref[static_cast<std::size_t>(k)])));
            const double d = std::abs(std::complex<double>(X(k, t)) - std::complex<double>(ref[static_cast<std::size_t>(k)]));
            if (d > worst) {
                worst = d;
                worst_t = t;
                worst_k = k;
            }
        }
    }
    std::cout << "blues.00000, " << X.cols() << " frames: worst |Stft::forward - kiss_fftr| " << worst << " = "
              << worst / peak << " x the spectrogram's peak " << peak << " (frame " << worst_t << ", bin " << worst_k
              << "; tolerance " << kRelToPeak << " x peak)\n";
    EXPECT_LE(worst, kRelToPeak * peak);
}

}  // namespace
