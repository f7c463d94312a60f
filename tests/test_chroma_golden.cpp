// Golden tests of chroma_stft and its tuning estimate against librosa 0.7.2
// (../shared/golden/librosa-0.7.2/<track>/ and the Kaggle features_30_sec.csv).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>

#include "genrekit/audio.hpp"
#include "genrekit/chroma.hpp"
#include "genrekit/error.hpp"
#include "genrekit/stft.hpp"
#include "kernel_variants.hpp"
#include "support.hpp"

namespace {

// np.mean / np.var (ddof 0) over every value, accumulated in double.
std::pair<double, double> mean_var(const Eigen::MatrixXf& X) {
    double s = 0;
    for (Eigen::Index i = 0; i < X.size(); ++i) s += X.data()[i];
    const double mean = s / static_cast<double>(X.size());
    double v = 0;
    for (Eigen::Index i = 0; i < X.size(); ++i) v += (X.data()[i] - mean) * (X.data()[i] - mean);
    return {mean, v / static_cast<double>(X.size())};
}

double rel_err(double got, double want) { return std::abs(got - want) / std::max(std::abs(want), 1e-12); }

class ChromaGolden : public gktest::GoldenTrack {
protected:
    void SetUp() override {
        GoldenTrack::SetUp();
        if (IsSkipped()) return;
        genrekit::Stft stft;
        power_ = genrekit::power(stft.forward(y_));
    }
    genrekit::Spectrogram power_;
};

// The tuning estimate is a histogram bin (a multiple of 0.01): it must be the same bin.
TEST_P(ChromaGolden, TuningEstimateExact) {
    const double want = manifest_["tuning_estimate"].get<double>();
    gktest::for_each_isa([&](genrekit::simd::Isa isa) {  // every variant of the scans
        const double got = genrekit::estimate_tuning(power_);
        std::cout << "[" << genrekit::simd::name(isa) << " tuning " << GetParam().name << "] got " << got << " want "
                  << want << "\n";
        EXPECT_EQ(std::lround(got * 100), std::lround(want * 100));
        EXPECT_EQ(got, want) << "same bin but a different double for the bin edge";
    });
}

TEST(ChromaFilterbank, PeaksAtTheRightPitchClass) {
    // With base_c, row 0 is C and row 9 is A: the bin nearest 440 Hz (bin 41, 441.4 Hz) must weigh
    // A most, and the bin nearest 261.6 Hz (bin 24, 258.4 Hz) C. A tuning of +0.5 bin moves 440 Hz
    // half-way towards G#.
    const auto W = genrekit::chroma_filterbank({}, 0.0);
    ASSERT_EQ(W.rows(), 12);
    ASSERT_EQ(W.cols(), 1025);
    Eigen::Index r = 0;
    W.col(41).maxCoeff(&r);
    EXPECT_EQ(r, 9);
    W.col(24).maxCoeff(&r);
    EXPECT_EQ(r, 0);
    for (Eigen::Index i = 0; i < W.cols(); ++i) {
        EXPECT_TRUE(W.col(i).allFinite());
        EXPECT_GE(W.col(i).minCoeff(), 0.f);
        EXPECT_LE(W.col(i).maxCoeff(), 1.f);
    }
    const auto Wsharp = genrekit::chroma_filterbank({}, 0.49);
    EXPECT_GT(Wsharp(8, 41), W(8, 41));
}

// Chroma: float32 filterbank x float32 power spectrogram, then divided by the frame maximum.
// Our spectrogram comes from a float32 FFT (librosa's from float64, rounded): values agree to
// ~1e-5 relative where they are not tiny; a chroma value is a ratio to the frame maximum, so
// we compare with an absolute tolerance of 1e-5 (chroma values lie in [0, 1]; measured worst
// 1.4e-6 on the three tracks).
constexpr double kChromaAtol = 1e-5;

TEST_P(ChromaGolden, ChromaStft) {
    // Every variant of the projection and the scans: the same bits as the first, each checked.
    genrekit::Spectrogram first;
    gktest::for_each_isa([&](genrekit::simd::Isa isa) {
        genrekit::ChromaStft chroma;
        double tuning = 0;
        const auto C = chroma.apply(power_, &tuning);
        if (first.size() == 0) first = C;
        EXPECT_TRUE(C == first) << genrekit::simd::name(isa) << " differs from the first variant";
        const auto want = genrekit::read_npy(dir_ + "/chroma_stft.npy");
        const auto w = gktest::compare(C, want, 0.0, kChromaAtol);
        std::cout << "[chroma_stft " << GetParam().name << ", atol " << kChromaAtol << "] " << w.describe() << "\n";
        EXPECT_LE(w.score, 1.0) << w.describe();

        const auto [mean, var] = mean_var(C);
        const double want_mean = manifest_["features"]["chroma_stft_mean"].get<double>();
        const double want_var = manifest_["features"]["chroma_stft_var"].get<double>();
        std::cout << "[chroma_stft mean/var " << GetParam().name << ", rtol 1e-5] mean " << mean << " vs " << want_mean
                  << " (rel " << rel_err(mean, want_mean) << "), var " << var << " vs " << want_var << " (rel "
                  << rel_err(var, want_var) << ")\n";
        EXPECT_LE(rel_err(mean, want_mean), 1e-5);
        EXPECT_LE(rel_err(var, want_var), 1e-5);
    });
}

INSTANTIATE_TEST_SUITE_P(Tracks, ChromaGolden,
                         GK_GOLDEN_TRACKS, gktest::track_name);

// The 100 dev tracks: <genre>/<stem>.wav, and jazz.00010.au standing in for jazz.00009. The
// Kaggle CSV names rows <stem>.wav (it has a jazz.00010.wav row), so rows are matched by stem.
std::vector<std::filesystem::path> dev_tracks(const std::string& shared) {
    std::vector<std::filesystem::path> files;
    for (const auto& e : std::filesystem::recursive_directory_iterator(shared + "/data/gtzan-dev/genres_original"))
        if (e.is_regular_file() && genrekit::is_audio_extension(e.path().string())) files.push_back(e.path());
    std::sort(files.begin(), files.end());
    return files;
}

TEST(ChromaDev100, MeanAndVarianceMatchKaggleCsv) {
    GK_REQUIRE_SHARED(shared);
    const auto csv = gktest::read_feature_map(shared + "/data/gtzan-dev/features_30_sec.csv");
    const auto files = dev_tracks(shared);
    ASSERT_EQ(files.size(), 100u);
    genrekit::Stft stft;
    genrekit::ChromaStft chroma;
    double worst_mean = 0, worst_var = 0;
    std::string worst_mean_track, worst_var_track;
    long min_lead = -1;
    std::string min_lead_track;
    int n_ok = 0;
    constexpr double kRtol = 1e-4;
    for (const auto& path : files) {
        const std::string row = path.stem().string() + ".wav";
        ASSERT_TRUE(csv.count(row)) << "no CSV row " << row;
        const auto P = genrekit::power(stft.forward(genrekit::load_audio(path.string()).samples));
        const auto C = chroma.apply(P);
        // How close the tuning histogram is to a tie (a tie broken differently would move every chroma value).
        const long lead = genrekit::tuning_histogram(genrekit::tuning_frequencies(P)).lead();
        if (min_lead < 0 || lead < min_lead) min_lead = lead, min_lead_track = row;
        const auto [mean, var] = mean_var(C);
        const double em = rel_err(mean, csv.at(row).at("chroma_stft_mean"));
        const double ev = rel_err(var, csv.at(row).at("chroma_stft_var"));
        if (em > worst_mean) worst_mean = em, worst_mean_track = row;
        if (ev > worst_var) worst_var = ev, worst_var_track = row;
        n_ok += em <= kRtol && ev <= kRtol;
        EXPECT_LE(em, kRtol) << row << " chroma_stft_mean";
        EXPECT_LE(ev, kRtol) << row << " chroma_stft_var";
    }
    std::cout << "[chroma_stft mean/var on " << files.size() << " dev tracks, rtol " << kRtol << "] " << n_ok
              << " within; worst mean rel err " << worst_mean << " (" << worst_mean_track << "), worst var rel err "
              << worst_var << " (" << worst_var_track << "); smallest lead of the tuning histogram's top bin "
              << min_lead << " peaks (" << min_lead_track << ")\n";
}

TEST(ChromaEdgeCases, SilenceAndShortClipAreFinite) {
    genrekit::Stft stft;
    genrekit::ChromaStft chroma;
    // Digital silence: no peaks, tuning 0, chroma all zero (librosa's features are 0 too).
    const std::vector<float> silence(22050 * 3, 0.f);
    double tuning = 1;
    const auto C0 = chroma.apply(genrekit::power(stft.forward(silence)), &tuning);
    EXPECT_EQ(tuning, 0.0);
    EXPECT_TRUE(C0.allFinite());
    EXPECT_EQ(C0.cwiseAbs().maxCoeff(), 0.f);
    // Shorter than one frame: still finite.
    std::vector<float> tiny(300);
    for (std::size_t i = 0; i < tiny.size(); ++i) tiny[i] = 0.3f * std::sin(0.125f * static_cast<float>(i));
    const auto C1 = chroma.apply(genrekit::power(stft.forward(tiny)));
    EXPECT_TRUE(C1.allFinite());
}

TEST(ChromaEdgeCases, ShortToneMatchesLibrosa) {
    GK_REQUIRE_SHARED(shared);
    const std::string wav = shared + "/data/bad/short_0.5s.wav";
    if (!std::filesystem::exists(wav)) GTEST_SKIP() << "no " << wav;
    const auto csv = gktest::read_feature_map(shared + "/golden/librosa-0.7.2/edge_cases_30s.csv");
    genrekit::Stft stft;
    genrekit::ChromaStft chroma;
    const auto C = chroma.apply(genrekit::power(stft.forward(genrekit::load_audio(wav).samples)));
    ASSERT_TRUE(C.allFinite());
    const auto [mean, var] = mean_var(C);
    const double wm = csv.at("short_0.5s.wav").at("chroma_stft_mean"), wv = csv.at("short_0.5s.wav").at("chroma_stft_var");
    std::cout << "[short_0.5s chroma, rtol 1e-4] mean " << mean << " vs " << wm << ", var " << var << " vs " << wv << "\n";
    EXPECT_LE(rel_err(mean, wm), 1e-4);
    EXPECT_LE(rel_err(var, wv), 1e-4);
}

TEST(ChromaParams, RejectsBadParametersByName) {
    try {
        genrekit::ChromaStft c({.n_chroma = 0});
        FAIL() << "expected an error";
    } catch (const genrekit::Error& e) {
        EXPECT_NE(std::string(e.what()).find("n_chroma"), std::string::npos) << e.what();
    }
    genrekit::ChromaParams p;
    p.tuning_resolution = 0;
    EXPECT_THROW(genrekit::ChromaStft{p}, genrekit::Error);
    EXPECT_THROW(genrekit::pitch_tuning(std::vector<float>{440.f}, 2.0), genrekit::Error);
}

TEST(PitchTuning, RecoversAKnownOffset) {
    // ref: librosa docstring: pitch_tuning(cqt_frequencies(24, 55, tuning=0.25)) == 0.25.
    std::vector<float> f;
    for (int k = 0; k < 24; ++k) f.push_back(static_cast<float>(55.0 * std::pow(2.0, (k + 0.25) / 12.0)));
    EXPECT_NEAR(genrekit::pitch_tuning(f), 0.25, 1e-12);
    EXPECT_EQ(genrekit::pitch_tuning(std::vector<float>{}), 0.0);
}

// tuning_residual's mod 1 by truncation gives numpy.mod's bits (fmod, then the divisor's sign),
// from sub-Hz to huge frequencies and for any bins per octave (large products are integers).
TEST(PitchTuning, ResidualMatchesFmodDefinition) {
    auto reference = [](float f, int bpo) {
        const float octs = static_cast<float>(std::log2(static_cast<double>(f / 27.5f)));
        const float a = static_cast<float>(bpo) * octs;
        float m = std::fmod(a, 1.0f);
        if (m != 0.0f) {
            if (m < 0.0f) m += 1.0f;
        } else {
            m = std::copysign(0.0f, 1.0f);
        }
        if (m >= 0.5f) m -= 1.0f;
        return m;
    };
    std::mt19937 rng(11);
    std::uniform_real_distribution<double> lg(-3.0, 38.0);
    for (int bpo : {1, 12, 24, 36, 1000, 1 << 20, 1 << 26}) {
        for (int i = 0; i < 20000; ++i) {
            const float f = static_cast<float>(std::pow(10.0, lg(rng)));
            const float got = genrekit::tuning_residual(f, bpo), want = reference(f, bpo);
            ASSERT_EQ(std::memcmp(&got, &want, sizeof got), 0) << "f " << f << " bpo " << bpo << ": " << got << " vs " << want;
        }
        for (float f : {27.5f, 55.0f, 440.0f, 27.5f * 1.5f}) {
            const float got = genrekit::tuning_residual(f, bpo), want = reference(f, bpo);
            ASSERT_EQ(std::memcmp(&got, &want, sizeof got), 0) << "f " << f << " bpo " << bpo;
        }
    }
}

// bin_of: the bin [e_j, e_j+1) holding the residual (the last one closed), -1 outside.
TEST(PitchTuning, HistogramBinOfMatchesEdges) {
    const genrekit::TuningHistogram h = genrekit::tuning_histogram(std::vector<float>{}, 0.01, 12);
    auto reference = [&](float r) {
        const double x = r;
        if (!(x >= h.edges.front() && x <= h.edges.back())) return -1;
        for (std::size_t j = 0; j + 1 < h.edges.size(); ++j)
            if (x >= h.edges[j] && (x < h.edges[j + 1] || j + 2 == h.edges.size())) return static_cast<int>(j);
        return -1;
    };
    std::mt19937 rng(5);
    std::uniform_real_distribution<float> u(-0.6f, 0.6f);
    std::vector<float> rs = {-0.5f, 0.5f, -0.0f, 0.0f, std::nextafter(-0.5f, -1.f), std::nextafter(0.5f, 1.f)};
    for (double e : h.edges) {
        const float f = static_cast<float>(e);
        rs.insert(rs.end(), {f, std::nextafter(f, -1.f), std::nextafter(f, 1.f)});
    }
    for (int i = 0; i < 20000; ++i) rs.push_back(u(rng));
    for (float r : rs) ASSERT_EQ(h.bin_of(r), reference(r)) << r;
}

// check_tuning with no noise is estimate_tuning, on any spectrogram (NaN and zeros included):
// its vector column maximum gives the same peaks as piptrack's Eigen maxCoeff, under every
// variant of the scans; with noise, every variant picks the same frames to recompute.
TEST(PitchTuning, CheckTuningWithoutNoiseIsTheEstimate) {
    std::mt19937 rng(9);
    std::uniform_real_distribution<float> u(0.f, 1.f);
    for (int round = 0; round < 20; ++round) {
        genrekit::Spectrogram S(1025, 37);
        for (Eigen::Index i = 0; i < S.size(); ++i) {
            const float v = u(rng);
            S.data()[i] = v * v * v * v * 100.f;
        }
        if (round % 4 == 1) S.col(3).setZero();
        if (round % 4 == 2) S(200, 5) = std::numeric_limits<float>::quiet_NaN();
        if (round % 4 == 3) S.col(7).setConstant(-0.0f);
        const genrekit::TuningParams tp;
        std::vector<int> first_fragile;
        bool first = true;
        gktest::for_each_isa([&](genrekit::simd::Isa isa) {
            const auto check = genrekit::check_tuning(S, tp, 0.f);
            EXPECT_EQ(check.tuning, genrekit::estimate_tuning(S, tp)) << "round " << round;
            EXPECT_TRUE(check.fragile_frames.empty());
            // With noise, the frames to recompute: the same under every variant.
            const auto noisy = genrekit::check_tuning(S, tp, 1e-3f);
            if (first) first_fragile = noisy.fragile_frames;
            first = false;
            EXPECT_EQ(noisy.fragile_frames, first_fragile) << genrekit::simd::name(isa) << " round " << round;
        });
    }
}

}  // namespace
