// Golden tests of the spectral front end against librosa 0.7.2's arrays for
// three real GTZAN tracks (../shared/golden/librosa-0.7.2/<track>/).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <numbers>
#include <random>

#include "genrekit/audio.hpp"
#include "genrekit/error.hpp"
#include "genrekit/mel.hpp"
#include "genrekit/stft.hpp"
#include "kernel_variants.hpp"
#include "support.hpp"

namespace {

class SpectralGolden : public gktest::GoldenTrack {};

double array_max(const genrekit::NpyArray& a) {
    double m = 0;
    for (double v : a.data) m = std::max(m, std::abs(v));
    return m;
}

// Tolerances: librosa computes the STFT in float64 and rounds to float32;
// our FFT (fft_batch on AVX2 CPUs, else KissFFT) works in float32, so ~1e-5
// relative on values that are not tiny.
constexpr double kSpecRtol = 5e-5;
constexpr double kSpecFloor = 1e-6;  // compare values above 1e-6 of the array's maximum
constexpr double kFftNoise = 2e-7;   // float32 FFT noise floor, as a fraction of the array's maximum

TEST_P(SpectralGolden, StftMagnitude) {
    // Every variant of the batched FFT and the magnitude kernel: the same bits as the first.
    genrekit::Spectrogram first;
    gktest::for_each_isa([&](genrekit::simd::Isa isa) {
        genrekit::Stft stft;
        genrekit::ComplexSpectrogram X;
        genrekit::Spectrogram mag, pow;
        stft.forward(y_, X, &mag, &pow);
        if (first.size() == 0) first = mag;
        EXPECT_TRUE(mag == first) << genrekit::simd::name(isa) << " differs from the first variant";
        const auto want = genrekit::read_npy(dir_ + "/stft_mag.npy");
        const double peak = array_max(want);
        // Our FFT computes in float32, librosa in float64: bins well above the float32
        // FFT's noise floor (1e-3 of the peak) agree to ~1e-5 relative; below it the
        // error is absolute, about 1e-7 of the peak.
        const auto strong = gktest::compare(mag, want, kSpecRtol, 0.0, 1e-3 * peak);
        std::cout << "[stft_mag, values > 1e-3 of max, rtol " << kSpecRtol << "] " << strong.describe() << "\n";
        EXPECT_LE(strong.score, 1.0) << strong.describe();
        const auto all = gktest::compare(mag, want, kSpecRtol, kFftNoise * peak, kSpecFloor * peak);
        std::cout << "[stft_mag, values > 1e-6 of max, rtol " << kSpecRtol << " + atol " << kFftNoise << " x max] "
                  << all.describe() << "\n";
        EXPECT_LE(all.score, 1.0) << all.describe();
    });
}

TEST_P(SpectralGolden, MelFilterbank) {
    genrekit::MelFilterbank mel;
    const auto want = genrekit::read_npy(dir_ + "/mel_filterbank.npy");
    const auto w = gktest::compare(mel.dense(), want, 1e-6, 1e-9);
    std::cout << "[mel_filterbank rtol 1e-6] " << w.describe() << "\n";
    EXPECT_LE(w.score, 1.0) << w.describe();
}

TEST_P(SpectralGolden, MelPowerDbAndMfcc) {
    // Every variant of the FFT, mel and DCT kernels: the same bits as the first, each checked.
    genrekit::Spectrogram first_mel, first_mfcc;
    gktest::for_each_isa([&](genrekit::simd::Isa isa) {
        genrekit::Stft stft;
        genrekit::MelFilterbank mel;
        const auto M = mel.apply(genrekit::power(stft.forward(y_)));
        const auto want_mel = genrekit::read_npy(dir_ + "/mel_power.npy");
        const auto wm = gktest::compare(M, want_mel, kSpecRtol * 2, 0.0, kSpecFloor * array_max(want_mel));
        std::cout << "[mel_power rtol " << kSpecRtol * 2 << "] " << wm.describe() << "\n";
        EXPECT_LE(wm.score, 1.0) << wm.describe();

        const auto D = genrekit::power_to_db(M);
        const auto want_db = genrekit::read_npy(dir_ + "/mel_db.npy");
        const auto wd = gktest::compare(D, want_db, 0.0, 1e-3);
        std::cout << "[mel_db atol 1e-3 dB] " << wd.describe() << "\n";
        EXPECT_LE(wd.score, 1.0) << wd.describe();

        const auto C = genrekit::Dct(20, 128).apply(D);
        if (first_mel.size() == 0) first_mel = M, first_mfcc = C;
        EXPECT_TRUE(M == first_mel) << genrekit::simd::name(isa) << " mel differs from the first variant";
        EXPECT_TRUE(C == first_mfcc) << genrekit::simd::name(isa) << " mfcc differs from the first variant";
        const auto want_mfcc = genrekit::read_npy(dir_ + "/mfcc.npy");
        const auto wc = gktest::compare(C, want_mfcc, 0.0, 2e-3);
        std::cout << "[mfcc atol 2e-3] " << wc.describe() << "\n";
        EXPECT_LE(wc.score, 1.0) << wc.describe();
    });
}

INSTANTIATE_TEST_SUITE_P(Tracks, SpectralGolden,
                         GK_GOLDEN_TRACKS, gktest::track_name);

// The DCT kernel adds the same float64 products in the same order as the Eigen GEMM it
// replaced (one accumulator per coefficient, from 0, multiply then add): the same bits for every
// shape, the vector widths and column tails included.
TEST(Dct, SameBitsAsTheFloat64Gemm) {
    std::mt19937 rng(7);
    std::normal_distribution<float> nd(-40.f, 30.f);
    for (int n_in : {1, 9, 40, 128, 131}) {
        for (int n_out = 1; n_out <= std::min(n_in, 40); ++n_out) {
            for (int T : {1, 5, 13}) {
                genrekit::Spectrogram X(n_in, T);
                for (Eigen::Index i = 0; i < X.size(); ++i) X.data()[i] = nd(rng);
                Eigen::MatrixXd B(n_out, n_in);
                for (int k = 0; k < n_out; ++k)
                    for (int n = 0; n < n_in; ++n)
                        B(k, n) = std::sqrt((k == 0 ? 1.0 : 2.0) / n_in) *
                                  std::cos(std::numbers::pi * k * (2.0 * n + 1.0) / (2.0 * n_in));
                const genrekit::Spectrogram want = (B * X.cast<double>()).cast<float>();
                gktest::for_each_isa([&](genrekit::simd::Isa isa) {  // every variant of the kernel
                    const genrekit::Spectrogram got = genrekit::Dct(n_out, n_in).apply(X);
                    ASSERT_EQ(got.rows(), n_out);
                    ASSERT_EQ(got.cols(), T);
                    ASSERT_EQ(std::memcmp(got.data(), want.data(), sizeof(float) * static_cast<std::size_t>(want.size())), 0)
                        << genrekit::simd::name(isa) << " n_in " << n_in << " n_out " << n_out << " T " << T;
                    genrekit::Spectrogram inplace = X;  // the same into its own input
                    genrekit::Dct(n_out, n_in).apply(inplace, inplace);
                    ASSERT_EQ(inplace.rows(), n_out);
                    ASSERT_EQ(std::memcmp(inplace.data(), want.data(), sizeof(float) * static_cast<std::size_t>(want.size())), 0);
                });
            }
        }
    }
}

TEST(Istft, RoundTripRecoversSignal) {
    std::vector<float> y(22050 * 2);
    for (std::size_t i = 0; i < y.size(); ++i)
        y[i] = 0.5f * std::sin(0.01f * static_cast<float>(i)) + 0.25f * std::sin(0.37f * static_cast<float>(i) + 1.f);
    genrekit::Stft stft;
    const auto back = stft.inverse(stft.forward(y), y.size());
    ASSERT_EQ(back.size(), y.size());
    double worst = 0;
    for (std::size_t i = 0; i < y.size(); ++i) worst = std::max(worst, static_cast<double>(std::abs(back[i] - y[i])));
    std::cout << "[istft(stft(y)) atol 1e-5] worst abs diff " << worst << "\n";
    EXPECT_LT(worst, 1e-5);
}

TEST(StftParams, RejectsBadParametersByName) {
    try {
        genrekit::Stft s({.n_fft = 1000, .hop = 4000});
        FAIL() << "expected an error";
    } catch (const genrekit::Error& e) {
        EXPECT_NE(std::string(e.what()).find("hop"), std::string::npos) << e.what();
    }
    EXPECT_THROW(genrekit::Stft({.n_fft = 1001}), genrekit::Error);
    EXPECT_THROW(genrekit::MelFilterbank({.n_mels = 0}), genrekit::Error);
}

TEST(PadSignal, MatchesNumpyReflectAndEdge) {
    const std::vector<float> y{1, 2, 3};
    // np.pad([1,2,3], (5,2), 'reflect') == [2,1,2,3,2,1,2,3,2,1]
    EXPECT_EQ(genrekit::pad_signal(y, 5, 2, genrekit::PadMode::Reflect), (std::vector<float>{2, 1, 2, 3, 2, 1, 2, 3, 2, 1}));
    EXPECT_EQ(genrekit::pad_signal(y, 2, 1, genrekit::PadMode::Edge), (std::vector<float>{1, 1, 1, 2, 3, 3}));
}

}  // namespace
