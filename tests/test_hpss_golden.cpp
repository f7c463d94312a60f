// Golden tests of HPSS against librosa 0.7.2's effects.hpss(y) waveforms for three real GTZAN
// tracks (../shared/golden/librosa-0.7.2/<track>/y_harmonic.npy, y_percussive.npy), plus exact
// unit tests of the median filters and the soft mask, and edge cases.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <cstring>
#include <nlohmann/json.hpp>
#include <random>

#include "genrekit/audio.hpp"
#include "genrekit/error.hpp"
#include "genrekit/hpss.hpp"
#include "genrekit/npy.hpp"
#include "genrekit/stft.hpp"
#include "genrekit/stats.hpp"
#include "kernel_variants.hpp"
#include "support.hpp"

namespace {

double peak_abs(const genrekit::NpyArray& a) {
    double m = 0;
    for (double v : a.data) m = std::max(m, std::abs(v));
    return m;
}

// Tolerance of the waveforms, as a fraction of the golden waveform's peak. Our STFT runs in
// float32 (fft_batch, or KissFFT) where librosa's runs in float64, so the medians see magnitudes that differ
// by ~1e-6 relative; measured: the waveforms differ by at most 6e-7 of the peak (3 tracks).
constexpr double kWaveAtol = 1e-6;
// Feature tolerances (the downstream acceptance): variances within 1e-4 relative; means within
// 1e-4 of the waveform's standard deviation (the means are ~1e-4 of it, so relative is meaningless).
constexpr double kVarRtol = 1e-4;
constexpr double kMeanOfStd = 1e-4;

class HpssGolden : public gktest::GoldenTrack {
protected:
    void SetUp() override {
        GoldenTrack::SetUp();
        if (IsSkipped()) return;
        X_ = stft_.forward(y_);
        mag_ = genrekit::magnitude(X_);
    }

    void check_waveforms(const genrekit::HpssWaveforms& w, const std::string& how) {
        const std::size_t covered = 512 * static_cast<std::size_t>(X_.cols() - 1);
        for (const auto& [name, got] : {std::pair{std::string("y_harmonic"), &w.harmonic},
                                        std::pair{std::string("y_percussive"), &w.percussive}}) {
            const auto want = genrekit::read_npy(dir_ + "/" + name + ".npy");
            const double peak = peak_abs(want);
            const auto worst = gktest::compare(*got, want, 0.0, kWaveAtol * peak);
            std::cout << "[" << name << " " << how << ", atol " << kWaveAtol << " x peak " << peak << "] "
                      << worst.describe() << "\n";
            EXPECT_LE(worst.score, 1.0) << name << ": " << worst.describe();
            // librosa's istft without length covers hop*(T-1) samples; fix_length pads zeros.
            ASSERT_EQ(got->size(), y_.size());
            std::size_t nonzero_tail = 0, golden_nonzero_tail = 0;
            for (std::size_t i = covered; i < got->size(); ++i) {
                nonzero_tail += (*got)[i] != 0.0f;
                golden_nonzero_tail += want.data[i] != 0.0;
            }
            EXPECT_EQ(golden_nonzero_tail, 0u) << "the golden " << name << " should end in " << y_.size() - covered << " zeros";
            EXPECT_EQ(nonzero_tail, 0u) << name << " should end in " << y_.size() - covered << " exact zeros";
        }
    }

    void check_features(const genrekit::HpssWaveforms& w, const std::string& how) {
        const auto& f = manifest_["features"];
        for (const auto& [stem, got] :
             {std::pair{std::string("harmony"), &w.harmonic}, std::pair{std::string("perceptr"), &w.percussive}}) {
            const auto m = genrekit::np_mean_var<float>(*got);
            const double want_mean = f[stem + "_mean"].get<double>();
            const double want_var = f[stem + "_var"].get<double>();
            const double var_rel = std::abs(m.var - want_var) / want_var;
            const double mean_err = std::abs(m.mean - want_mean) / std::sqrt(want_var);
            std::cout << "[" << stem << " " << how << "] mean " << m.mean << " want " << want_mean
                      << " (err " << mean_err << " x std, tol " << kMeanOfStd << "); var " << m.var << " want "
                      << want_var << " (rel err " << var_rel << ", tol " << kVarRtol << ")\n";
            EXPECT_LE(mean_err, kMeanOfStd) << stem << "_mean";
            EXPECT_LE(var_rel, kVarRtol) << stem << "_var";
        }
    }

    genrekit::Stft stft_;
    genrekit::ComplexSpectrogram X_;
    genrekit::Spectrogram mag_;
};

TEST_P(HpssGolden, WaveformsMatchLibrosa) {
    genrekit::Hpss hpss;
    const auto& w = hpss.waveforms(X_, mag_, y_);
    check_waveforms(w, "residual");
    check_features(w, "residual");
}

TEST_P(HpssGolden, WaveformsWithTwoInverseStftsMatchLibrosa) {
    genrekit::Hpss hpss({.percussive_from_residual = false});
    const auto& w = hpss.waveforms(X_, mag_, y_);
    check_waveforms(w, "two istfts");
    check_features(w, "two istfts");
}

TEST_P(HpssGolden, ReusedObjectGivesIdenticalOutput) {
    genrekit::Hpss hpss;
    const auto first = hpss.waveforms(X_, mag_, y_);
    const auto& again = hpss.waveforms(X_, mag_, y_);
    EXPECT_EQ(first.harmonic, again.harmonic);
    EXPECT_EQ(first.percussive, again.percussive);
}

// The default path forms the masks, the inverse transforms and the normalisation a few frames
// at a time, and the waveforms' sums as their samples are written; the whole-matrix path (two
// inverse STFTs) must give the same harmonic waveform bit for bit, and the sums must be the
// pairwise sums of the returned vectors.
// Every kernel variant, each giving the same waveforms as the first.
TEST_P(HpssGolden, SlicedPathMatchesWholeMatrixPathAndSums) {
    std::vector<float> first_harmonic, first_percussive;
    const int ran = gktest::for_each_isa([&](genrekit::simd::Isa) {
        genrekit::Hpss sliced, whole({.percussive_from_residual = false});
        const auto& a = sliced.waveforms(X_, mag_, y_);
        const auto& b = whole.waveforms(X_, mag_, y_);
        EXPECT_EQ(a.harmonic, b.harmonic);
        ASSERT_TRUE(a.has_sums);
        EXPECT_FALSE(b.has_sums);
        EXPECT_EQ(a.harmonic_sum, genrekit::pairwise_sum(a.harmonic.data(), a.harmonic.size()));
        EXPECT_EQ(a.percussive_sum, genrekit::pairwise_sum(a.percussive.data(), a.percussive.size()));
        if (first_harmonic.empty()) {
            first_harmonic = a.harmonic;
            first_percussive = a.percussive;
        }
        EXPECT_EQ(a.harmonic, first_harmonic);
        EXPECT_EQ(a.percussive, first_percussive);
    });
    EXPECT_GE(ran, 1);
}

INSTANTIATE_TEST_SUITE_P(Tracks, HpssGolden,
                         GK_GOLDEN_TRACKS, gktest::track_name);

// --- exact unit tests --------------------------------------------------------------------------

// ref: scipy.ndimage.median_filter, mode 'reflect' (abcddcba|abcd|dcbaabcd), by brute force.
float naive_median(const std::vector<float>& line, int center, int width) {
    const int n = static_cast<int>(line.size());
    std::vector<float> win;
    for (int i = center - width / 2; i <= center + width / 2; ++i) {
        long m = ((static_cast<long>(i) % (2L * n)) + 2L * n) % (2L * n);
        if (m >= n) m = 2L * n - 1 - m;
        win.push_back(line[static_cast<std::size_t>(m)]);
    }
    std::nth_element(win.begin(), win.begin() + width / 2, win.end());
    return win[static_cast<std::size_t>(width / 2)];
}

genrekit::Spectrogram random_spectrogram(int rows, int cols, unsigned seed, bool ties) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> u(0.0f, 1.0f);
    genrekit::Spectrogram S(rows, cols);
    for (int c = 0; c < cols; ++c)
        for (int r = 0; r < rows; ++r) S(r, c) = ties ? std::floor(u(rng) * 4.0f) : u(rng);
    return S;
}

TEST(MedianFilter, ExactAgainstBruteForce) {
    const int ran = gktest::for_each_isa([&](genrekit::simd::Isa) {
        struct Case {
            int rows, cols, width;
            bool ties;
        };
        for (const Case& c : {Case{1025, 40, 31, false}, Case{37, 100, 31, true}, Case{9, 5, 31, false},
                              Case{3, 1, 31, true}, Case{20, 17, 5, true}, Case{12, 33, 1, false},
                              Case{50, 3, 7, false},
                              // Width 31 runs the sorted-block kernel: lengths around its 16-sample blocks.
                              Case{16, 16, 31, true}, Case{17, 33, 31, false}, Case{40, 47, 31, true},
                              Case{70, 300, 31, false}}) {
            const auto S = random_spectrogram(c.rows, c.cols, static_cast<unsigned>(c.rows * 131 + c.cols), c.ties);
            genrekit::Spectrogram Ht, Pf;
            genrekit::median_filter_time(S, c.width, Ht);
            genrekit::median_filter_frequency(S, c.width, Pf);
            std::size_t bad_t = 0, bad_f = 0;
            for (int r = 0; r < c.rows; ++r) {
                std::vector<float> row(static_cast<std::size_t>(c.cols));
                for (int t = 0; t < c.cols; ++t) row[static_cast<std::size_t>(t)] = S(r, t);
                for (int t = 0; t < c.cols; ++t) bad_t += Ht(r, t) != naive_median(row, t, c.width);
            }
            for (int t = 0; t < c.cols; ++t) {
                std::vector<float> col(S.col(t).data(), S.col(t).data() + c.rows);
                for (int r = 0; r < c.rows; ++r) bad_f += Pf(r, t) != naive_median(col, r, c.width);
            }
            EXPECT_EQ(bad_t, 0u) << c.rows << "x" << c.cols << " width " << c.width << " (time)";
            EXPECT_EQ(bad_f, 0u) << c.rows << "x" << c.cols << " width " << c.width << " (frequency)";
        }
    });
    EXPECT_GE(ran, 1);
}

TEST(Softmask, MatchesLibrosaFormulaAndZeros) {
    genrekit::Spectrogram X(1, 4), R(1, 4), M;
    X << 3.0f, 0.0f, 0.0f, 1.0f;
    R << 4.0f, 2.0f, 0.0f, 0.0f;
    genrekit::softmask(X, R, 2.0f, true, M);
    // (3/4)^2 / ((3/4)^2 + 1) = 0.36; 0; both zero -> split 0.5; 1.
    const float a = (3.0f / 4.0f) * (3.0f / 4.0f);
    EXPECT_EQ(M(0, 0), a / (a + 1.0f));
    EXPECT_EQ(M(0, 1), 0.0f);
    EXPECT_EQ(M(0, 2), 0.5f);
    EXPECT_EQ(M(0, 3), 1.0f);
    genrekit::softmask(X, R, 2.0f, false, M);
    EXPECT_EQ(M(0, 2), 0.0f);
}

// Hpss::masks runs vector kernels for the medians and the soft mask (with two divisions, see
// simd/hpss_mask_kernels.cpp): bit for bit the public median filters and softmask(), on values
// with many ties, zeros, subnormals and infinities, under every kernel variant. (Not NaNs:
// softmask() takes std::max, the kernels a > b ? a : b.)
TEST(Hpss, MaskKernelsMatchScalarReferenceBitForBit) {
    const int rows = 300, cols = 77;
    genrekit::Spectrogram S(rows, cols);
    std::mt19937 rng(11);
    std::uniform_int_distribution<int> pick(0, 99);
    std::uniform_real_distribution<float> u(0.0f, 2.0f);
    const float specials[] = {0.0f, 1e-39f, 1e-38f, std::numeric_limits<float>::min(), 1.0f, 3.0f,
                              std::numeric_limits<float>::max(), std::numeric_limits<float>::infinity(),
                              2.5f};
    for (int t = 0; t < cols; ++t)
        for (int r = 0; r < rows; ++r) {
            const int k = pick(rng);
            // Runs of one special value in places, so that the medians take them too.
            const int zone = (r / 40 + t / 20) % 6;
            S(r, t) = zone == 0 ? specials[(t / 7) % 9] : (k < 25 ? specials[k % 9] : u(rng));
        }
    const int ran = gktest::for_each_isa([&](genrekit::simd::Isa) {
        genrekit::Hpss hpss;
        genrekit::Spectrogram mh, mp, H, P, rh, rp;
        hpss.masks(S, mh, mp);
        genrekit::median_filter_time(S, 31, H);
        genrekit::median_filter_frequency(S, 31, P);
        genrekit::softmask(H, P, 2.0f, true, rh);
        genrekit::softmask(P, H, 2.0f, true, rp);
        std::size_t bad = 0;
        for (Eigen::Index i = 0; i < S.size(); ++i) {
            bad += std::memcmp(mh.data() + i, rh.data() + i, sizeof(float)) != 0;
            bad += std::memcmp(mp.data() + i, rp.data() + i, sizeof(float)) != 0;
        }
        EXPECT_EQ(bad, 0u);
        // Margins above 1: the references scaled, no split of zeros.
        genrekit::Hpss with_margins({.margin_harmonic = 2.0f, .margin_percussive = 3.0f});
        with_margins.masks(S, mh, mp);
        genrekit::softmask(H, P * 2.0f, 2.0f, false, rh);
        genrekit::softmask(P, H * 3.0f, 2.0f, false, rp);
        bad = 0;
        for (Eigen::Index i = 0; i < S.size(); ++i) {
            bad += std::memcmp(mh.data() + i, rh.data() + i, sizeof(float)) != 0;
            bad += std::memcmp(mp.data() + i, rp.data() + i, sizeof(float)) != 0;
        }
        EXPECT_EQ(bad, 0u);
    });
    EXPECT_GE(ran, 1);
}

// n samples of amp * sin(step * i) plus Gaussian noise (sd 0.1) from seed.
std::vector<float> noisy_sine(std::size_t n, float amp, float step, unsigned seed) {
    std::vector<float> y(n);
    std::mt19937 rng(seed);
    std::normal_distribution<float> g(0.0f, 0.1f);
    for (std::size_t i = 0; i < n; ++i) y[i] = amp * std::sin(step * static_cast<float>(i)) + g(rng);
    return y;
}

TEST(Hpss, MasksSumToOneAndDecomposeIsConsistent) {
    const auto y = noisy_sine(22050, 0.3f, 0.05f, 7);
    genrekit::Stft stft;
    const auto X = stft.forward(y);
    const auto mag = genrekit::magnitude(X);
    genrekit::Hpss hpss;
    genrekit::Spectrogram mh, mp;
    hpss.masks(mag, mh, mp);
    EXPECT_LE(((mh + mp).array() - 1.0f).abs().maxCoeff(), 2e-7f);
    const auto d = hpss.decompose(X, mag);
    EXPECT_LE((d.harmonic + d.percussive - X).cwiseAbs().maxCoeff(), 1e-6f * mag.maxCoeff());
}

TEST(Hpss, VectorisedInverseStftAgreesWithKissFft) {
    // waveforms() inverts with its own 8-frames-at-once FFT; Stft::inverse_no_length uses KissFFT.
    const auto y = noisy_sine(22050 * 2 + 123, 0.4f, 0.03f, 11);
    genrekit::Stft stft;
    const auto X = stft.forward(y);
    const auto mag = genrekit::magnitude(X);
    genrekit::Hpss hpss({.percussive_from_residual = false});
    const auto w = hpss.waveforms(X, mag, y);
    const auto d = hpss.decompose(X, mag);
    for (const auto& [got, spec] : {std::pair{&w.harmonic, &d.harmonic}, std::pair{&w.percussive, &d.percussive}}) {
        const auto ref = stft.inverse_no_length(*spec);
        double worst = 0, peak = 0;
        for (std::size_t i = 0; i < y.size(); ++i) {
            const double want = i < ref.size() ? ref[i] : 0.0;
            worst = std::max(worst, std::abs((*got)[i] - want));
            peak = std::max(peak, std::abs(want));
        }
        std::cout << "[vectorised istft vs KissFFT, atol 1e-6 x peak] worst abs diff " << worst << " (peak " << peak << ")\n";
        EXPECT_LE(worst, 1e-6 * peak);
    }
}

// The sliced path (strips of the time median, sliding overlap-add, streamed sums) against the
// whole-matrix path at other STFT sizes: bins not a multiple of the strips, fewer bins than lanes.
TEST(Hpss, SlicedPathMatchesWholeMatrixPathAtOtherSizes) {
    const auto y = noisy_sine(20000, 0.3f, 0.03f, 5);
    const int ran = gktest::for_each_isa([&](genrekit::simd::Isa) {
        for (const int n_fft : {16, 64, 512, 1024}) {
            const genrekit::StftParams sp{.n_fft = n_fft, .hop = n_fft / 4};
            genrekit::Stft stft(sp);
            const auto X = stft.forward(y);
            const auto mag = genrekit::magnitude(X);
            genrekit::Hpss sliced({}, sp), whole({.percussive_from_residual = false}, sp);
            const auto& a = sliced.waveforms(X, mag, y);
            const auto& b = whole.waveforms(X, mag, y);
            EXPECT_EQ(a.harmonic, b.harmonic) << "n_fft " << n_fft;
            ASSERT_TRUE(a.has_sums);
            EXPECT_EQ(a.harmonic_sum, genrekit::pairwise_sum(a.harmonic.data(), a.harmonic.size())) << "n_fft " << n_fft;
            EXPECT_EQ(a.percussive_sum, genrekit::pairwise_sum(a.percussive.data(), a.percussive.size()))
                << "n_fft " << n_fft;
        }
    });
    EXPECT_GE(ran, 1);
}

TEST(Hpss, SilenceAndShortClipsGiveFiniteOutput) {
    for (const std::size_t n : {std::size_t{22050 * 3}, std::size_t{66149}, std::size_t{5001}, std::size_t{1000}, std::size_t{300}, std::size_t{1}}) {
        for (const bool silent : {true, false}) {
            std::vector<float> y(n, 0.0f);
            if (!silent)
                for (std::size_t i = 0; i < n; ++i) y[i] = 0.5f * std::sin(0.2f * static_cast<float>(i));
            genrekit::Stft stft;
            const auto X = stft.forward(y);
            genrekit::Hpss hpss;
            const auto& w = hpss.waveforms(X, genrekit::magnitude(X), y);
            ASSERT_EQ(w.harmonic.size(), n);
            ASSERT_EQ(w.percussive.size(), n);
            for (std::size_t i = 0; i < n; ++i) {
                ASSERT_TRUE(std::isfinite(w.harmonic[i]) && std::isfinite(w.percussive[i])) << n << " samples, at " << i;
                if (silent) {
                    ASSERT_TRUE(w.harmonic[i] == 0.0f && w.percussive[i] == 0.0f) << n << " samples, at " << i;
                }
            }
            ASSERT_TRUE(w.has_sums);
            EXPECT_EQ(w.harmonic_sum, genrekit::pairwise_sum(w.harmonic.data(), n)) << n << " samples";
            EXPECT_EQ(w.percussive_sum, genrekit::pairwise_sum(w.percussive.data(), n)) << n << " samples";
            // istft without length covers hop*(T-1) samples: fewer than one hop gives all zeros.
            if (n < 512) {
                for (std::size_t i = 0; i < n; ++i) ASSERT_EQ(w.harmonic[i], 0.0f);
            }
        }
    }
}

TEST(Hpss, RejectsBadParametersByName) {
    auto message = [](const genrekit::HpssParams& p) -> std::string {
        try {
            genrekit::Hpss h(p);
        } catch (const genrekit::Error& e) {
            return e.what();
        }
        return "";
    };
    EXPECT_NE(message({.kernel_harmonic = 30}).find("kernel_harmonic"), std::string::npos);
    EXPECT_NE(message({.kernel_percussive = 0}).find("kernel_percussive"), std::string::npos);
    EXPECT_NE(message({.power = -1.0f}).find("power"), std::string::npos);
    EXPECT_NE(message({.margin_harmonic = 0.5f}).find("margin_harmonic"), std::string::npos);
    genrekit::Spectrogram S(4, 4), out;
    S.setZero();
    EXPECT_THROW(genrekit::median_filter_time(S, 4, out), genrekit::Error);
    genrekit::Hpss hpss;
    genrekit::Stft stft;
    std::vector<float> y(5000, 0.1f);
    const auto X = stft.forward(y);
    std::vector<float> other(9000, 0.1f);
    EXPECT_THROW(hpss.waveforms(X, genrekit::magnitude(X), other), genrekit::Error);
}

TEST(Istft, NoLengthTrimsBothEnds) {
    std::vector<float> y(22050);
    for (std::size_t i = 0; i < y.size(); ++i) y[i] = 0.5f * std::sin(0.01f * static_cast<float>(i));
    genrekit::Stft stft;
    const auto X = stft.forward(y);
    const auto z = stft.inverse_no_length(X);
    ASSERT_EQ(z.size(), 512 * static_cast<std::size_t>(X.cols() - 1));
    const auto with_length = stft.inverse(X, y.size());
    for (std::size_t i = 0; i < z.size(); ++i) ASSERT_EQ(z[i], with_length[i]) << i;
}

}  // namespace
