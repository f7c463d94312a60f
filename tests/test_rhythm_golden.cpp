// Golden tests of the onset envelope, tempo and beats against librosa 0.7.2's
// beat_track (../shared/golden/librosa-0.7.2/<track>/ and the Kaggle features_30_sec.csv).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iostream>
#include <map>
#include <random>
#include <nlohmann/json.hpp>
#include <sstream>

#include "genrekit/audio.hpp"
#include "genrekit/error.hpp"
#include "genrekit/mel.hpp"
#include "genrekit/rhythm.hpp"
#include "genrekit/stft.hpp"
#include "kernel_variants.hpp"
#include "support.hpp"

namespace {

// The pipeline's mel_db: power_to_db(MelFilterbank().apply(power(stft(y)))).
genrekit::Spectrogram mel_db_of(const std::vector<float>& y) {
    genrekit::Stft stft;
    genrekit::MelFilterbank mel;
    return genrekit::power_to_db(mel.apply(genrekit::power(stft.forward(y))));
}

genrekit::Spectrogram to_matrix(const genrekit::NpyArray& a) {
    genrekit::Spectrogram M(static_cast<Eigen::Index>(a.rows()), static_cast<Eigen::Index>(a.cols()));
    for (std::size_t r = 0; r < a.rows(); ++r)
        for (std::size_t c = 0; c < a.cols(); ++c) M(static_cast<Eigen::Index>(r), static_cast<Eigen::Index>(c)) = static_cast<float>(a.at(r, c));
    return M;
}

// The best score's lead over the runner-up: how far the tempo is from a tie.
double tempo_margin(const std::vector<double>& score) {
    std::size_t best = 0;
    for (std::size_t k = 0; k < score.size(); ++k)
        if (score[k] > score[best]) best = k;
    double second = -INFINITY;
    for (std::size_t k = 0; k < score.size(); ++k)
        if (k != best) second = std::max(second, score[k]);
    return score[best] - second;
}

class RhythmGolden : public gktest::GoldenTrack {
protected:
    void SetUp() override {
        GoldenTrack::SetUp();
        if (IsSkipped()) return;
        mel_db_ = mel_db_of(y_);
    }
    genrekit::Spectrogram mel_db_;
};

// From librosa's own mel_db the onset stage is float32 arithmetic done the same way: equal to
// within one float32 rounding.
TEST_P(RhythmGolden, OnsetFromGoldenMelDbIsExact) {
    const auto golden_db = to_matrix(genrekit::read_npy(dir_ + "/mel_db.npy"));
    const auto env = genrekit::onset_strength(golden_db);
    const auto w = gktest::compare(env, genrekit::read_npy(dir_ + "/onset_env.npy"), 1e-6, 1e-6);
    std::cout << "[onset_env from golden mel_db, rtol 1e-6 + atol 1e-6] " << w.describe() << "\n";
    EXPECT_LE(w.score, 1.0) << w.describe();
    const auto env_mean = genrekit::onset_strength(golden_db, {.aggregate = genrekit::OnsetAggregate::Mean});
    const auto wm = gktest::compare(env_mean, genrekit::read_npy(dir_ + "/onset_env_mean_agg.npy"), 1e-6, 1e-6);
    std::cout << "[onset_env_mean_agg from golden mel_db, rtol 1e-6 + atol 1e-6] " << wm.describe() << "\n";
    EXPECT_LE(wm.score, 1.0) << wm.describe();
}

// From our mel_db (which agrees with librosa's to 1e-3 dB, see test_spectral_golden) the
// envelope, a median or mean of dB differences, agrees to well under that (measured worst
// 5.3e-5 dB, classical.00000).
constexpr double kOnsetAtol = 5e-4;

TEST_P(RhythmGolden, OnsetEnvelope) {
    const auto env = genrekit::onset_strength(mel_db_);
    const auto w = gktest::compare(env, genrekit::read_npy(dir_ + "/onset_env.npy"), 0.0, kOnsetAtol);
    std::cout << "[onset_env " << GetParam().name << ", atol " << kOnsetAtol << "] " << w.describe() << "\n";
    EXPECT_LE(w.score, 1.0) << w.describe();
    const auto env_mean = genrekit::onset_strength(mel_db_, {.aggregate = genrekit::OnsetAggregate::Mean});
    const auto wm = gktest::compare(env_mean, genrekit::read_npy(dir_ + "/onset_env_mean_agg.npy"), 0.0, kOnsetAtol);
    std::cout << "[onset_env_mean_agg " << GetParam().name << ", atol " << kOnsetAtol << "] " << wm.describe() << "\n";
    EXPECT_LE(wm.score, 1.0) << wm.describe();
}

// The fast mean tempogram against the direct O(T N^2) double-precision tempogram.
// Every kernel variant, each giving the same bits as the first.
TEST_P(RhythmGolden, MeanTempogramMatchesDirectSums) {
    const auto env = gktest::to_floats(genrekit::read_npy(dir_ + "/onset_env.npy"));
    genrekit::TempoEstimator est;
    const Eigen::VectorXd direct = genrekit::tempogram(env, est.params().win_length()).rowwise().mean();
    std::vector<double> first;
    const int ran = gktest::for_each_isa([&](genrekit::simd::Isa) {
        const auto fast = est.mean_tempogram(env);
        if (first.empty()) first = fast;
        EXPECT_EQ(fast, first);
        ASSERT_EQ(fast.size(), static_cast<std::size_t>(direct.size()));
        double worst = 0;
        std::size_t at = 0;
        for (std::size_t k = 0; k < fast.size(); ++k) {
            const double e = std::abs(fast[k] - direct[static_cast<Eigen::Index>(k)]);
            if (e > worst) worst = e, at = k;
        }
        std::cout << "[mean tempogram fast vs direct, atol 1e-12] worst abs diff " << worst << " at lag " << at << "\n";
        EXPECT_LT(worst, 1e-12);
    });
    EXPECT_GE(ran, 1);
}

TEST_P(RhythmGolden, TempoExact) {
    const double want = manifest_["tempo"].get<double>();
    genrekit::TempoEstimator est;
    // From librosa's envelope: isolates the tempo stage.
    const auto golden_env = gktest::to_floats(genrekit::read_npy(dir_ + "/onset_env.npy"));
    EXPECT_EQ(est.beat_track_tempo(golden_env), want);
    // End to end from our mel_db.
    const auto env = genrekit::onset_strength(mel_db_);
    const double got = est.beat_track_tempo(env);
    std::cout << "[tempo " << GetParam().name << ", exact] got " << got << " want " << want << ", score margin "
              << tempo_margin(est.tempo_scores(env)) << "\n";
    EXPECT_EQ(got, want);
}

TEST_P(RhythmGolden, Beats) {
    const auto want = genrekit::read_npy(dir_ + "/beats.npy");
    genrekit::TempoEstimator est;
    const auto env = genrekit::onset_strength(mel_db_);
    const auto beats = genrekit::track_beats(env, est.beat_track_tempo(env));
    std::size_t same = 0;
    for (std::size_t i = 0; i < std::min(beats.size(), want.data.size()); ++i) same += beats[i] == static_cast<int>(want.data[i]);
    std::cout << "[beats " << GetParam().name << ", exact] " << beats.size() << " beats vs " << want.data.size() << ", "
              << same << " equal\n";
    ASSERT_EQ(beats.size(), want.data.size());
    EXPECT_EQ(same, beats.size());
    // And from librosa's own envelope.
    const auto golden_env = gktest::to_floats(genrekit::read_npy(dir_ + "/onset_env.npy"));
    const auto beats2 = genrekit::track_beats(golden_env, manifest_["tempo"].get<double>());
    ASSERT_EQ(beats2.size(), want.data.size());
    for (std::size_t i = 0; i < beats2.size(); ++i) EXPECT_EQ(beats2[i], static_cast<int>(want.data[i])) << "beat " << i;
}

INSTANTIATE_TEST_SUITE_P(Tracks, RhythmGolden,
                         GK_GOLDEN_TRACKS, gktest::track_name);

// All 100 dev tracks against the Kaggle CSV's tempo column, which must be equal on every
// track. Files are <genre>/<stem>.wav plus jazz.00010.au standing in for jazz.00009; the CSV
// names its rows <stem>.wav (it has a jazz.00010.wav row), so rows are matched by stem.
TEST(RhythmDev100, TempoEqualsKaggleCsvOnEveryTrack) {
    GK_REQUIRE_SHARED(shared);
    const auto csv = gktest::read_feature_map(shared + "/data/gtzan-dev/features_30_sec.csv");
    std::vector<std::filesystem::path> files;
    for (const auto& e : std::filesystem::recursive_directory_iterator(shared + "/data/gtzan-dev/genres_original"))
        if (e.is_regular_file() && genrekit::is_audio_extension(e.path().string())) files.push_back(e.path());
    std::sort(files.begin(), files.end());
    ASSERT_EQ(files.size(), 100u);
    genrekit::TempoEstimator est;
    int equal = 0, equal_mean_agg = 0;
    double min_margin = INFINITY;
    std::string min_margin_track;
    for (const auto& path : files) {
        const std::string row = path.stem().string() + ".wav";
        ASSERT_TRUE(csv.count(row)) << "no CSV row " << row;
        const double want = csv.at(row).at("tempo");
        const auto mel_db = mel_db_of(genrekit::load_audio(path.string()).samples);
        const auto env = genrekit::onset_strength(mel_db);
        const double got = est.beat_track_tempo(env);
        // The CSV stores the float64 tempo printed in full: compare the values exactly.
        equal += got == want;
        EXPECT_EQ(got, want) << row;
        const double margin = tempo_margin(est.tempo_scores(env));
        if (margin < min_margin) min_margin = margin, min_margin_track = row;
        const auto env_mean = genrekit::onset_strength(mel_db, {.aggregate = genrekit::OnsetAggregate::Mean});
        equal_mean_agg += est.beat_track_tempo(env_mean) == want;
    }
    std::cout << "[tempo on " << files.size() << " dev tracks, exact] " << equal << " equal; smallest score margin "
              << min_margin << " (" << min_margin_track << "); with the mean-aggregated envelope (beat.tempo(y=...)) "
              << equal_mean_agg << " would be equal\n";
}

TEST(RhythmEdgeCases, SilenceAndShortInputs) {
    genrekit::TempoEstimator est;
    // Digital silence: mel_db is constant, the envelope all zero, beat_track's tempo 0.
    const std::vector<float> silence(22050 * 30, 0.f);
    const auto env = genrekit::onset_strength(mel_db_of(silence));
    EXPECT_TRUE(std::all_of(env.begin(), env.end(), [](float v) { return v == 0.f; }));
    EXPECT_EQ(est.beat_track_tempo(env), 0.0);
    EXPECT_TRUE(genrekit::track_beats(env, 120.0).empty());
    // tempo() itself (beat.tempo) has no all-zero check: the prior alone picks the lag nearest 120 BPM.
    EXPECT_NEAR(est.tempo(env), 120.0, 3.0);
    // Envelopes shorter than the autocorrelation window, down to one frame and none.
    for (std::size_t n : {0u, 1u, 2u, 22u, 300u}) {
        std::vector<float> e(n, 0.f);
        for (std::size_t i = 0; i < n; i += 3) e[i] = 1.f + static_cast<float>(i % 5);
        const double t = est.beat_track_tempo(e);
        EXPECT_TRUE(std::isfinite(t)) << n;
        const auto tg = est.mean_tempogram(e);
        EXPECT_TRUE(std::all_of(tg.begin(), tg.end(), [](double v) { return std::isfinite(v); })) << n;
        const auto b = genrekit::track_beats(e, t > 0 ? t : 120.0);
        for (int f : b) EXPECT_TRUE(f >= 0 && static_cast<std::size_t>(f) < n);
    }
    // A mel_db with a single frame, or none.
    EXPECT_EQ(genrekit::onset_strength(genrekit::Spectrogram::Zero(128, 1)).size(), 1u);
    EXPECT_TRUE(genrekit::onset_strength(genrekit::Spectrogram::Zero(128, 0)).empty());
}

TEST(RhythmEdgeCases, ShortToneGivesTempoZeroLikeLibrosa) {
    GK_REQUIRE_SHARED(shared);
    const std::string wav = shared + "/data/bad/short_0.5s.wav";
    if (!std::filesystem::exists(wav)) GTEST_SKIP() << "no " << wav;
    const auto csv = gktest::read_feature_map(shared + "/golden/librosa-0.7.2/edge_cases_30s.csv");
    const auto env = genrekit::onset_strength(mel_db_of(genrekit::load_audio(wav).samples));
    const double got = genrekit::TempoEstimator().beat_track_tempo(env);
    std::cout << "[short_0.5s tempo, exact] got " << got << " want " << csv.at("short_0.5s.wav").at("tempo") << "\n";
    EXPECT_EQ(got, csv.at("short_0.5s.wav").at("tempo"));
}

TEST(RhythmParams, RejectsBadParametersByName) {
    try {
        genrekit::TempoEstimator e({.start_bpm = -1});
        FAIL() << "expected an error";
    } catch (const genrekit::Error& e) {
        EXPECT_NE(std::string(e.what()).find("start_bpm"), std::string::npos) << e.what();
    }
    EXPECT_THROW(genrekit::TempoEstimator({.ac_size = 0.001}), genrekit::Error);
    EXPECT_THROW(genrekit::onset_strength(genrekit::Spectrogram::Zero(4, 4), {.lag = 0}), genrekit::Error);
    EXPECT_THROW(genrekit::track_beats(std::vector<float>{1.f}, 120.0, {.tightness = 0}), genrekit::Error);
}

// The median aggregate against np.median written out (sort, middle values, float32 mean), bit
// for bit, under every kernel variant: 256, 128, 64, 16 and 2 bands go through the 8- or
// 16-frame sorting network (37 frames: a partial last group), 48 and 7 bands through the partial
// sort. Values repeat and many differences are 0.
TEST(OnsetStrength, MedianOverBandsIsNumpysMedianBitForBit) {
    std::mt19937 rng(5);
    std::uniform_int_distribution<int> level(-40, 40);
    const int ran = gktest::for_each_isa([&](genrekit::simd::Isa) {
        for (int bands : {128, 64, 48, 7, 256, 16, 2}) {
            genrekit::Spectrogram S(bands, 37);
            for (Eigen::Index i = 0; i < S.size(); ++i) S.data()[i] = 0.25f * static_cast<float>(level(rng));
            const genrekit::OnsetParams params{.center = false};
            const auto env = genrekit::onset_strength(S, params);
            ASSERT_EQ(env.size(), 37u);
            int mismatches = 0;
            for (Eigen::Index t = 1; t < S.cols(); ++t) {
                std::vector<float> d(static_cast<std::size_t>(bands));
                for (int b = 0; b < bands; ++b) d[static_cast<std::size_t>(b)] = std::max(0.0f, S(b, t) - S(b, t - 1));
                std::sort(d.begin(), d.end());
                const std::size_t h = d.size() / 2;
                const float want = d.size() % 2 ? d[h] : (d[h - 1] + d[h]) / 2.0f;
                // With lag 1 and no centring, column t - 1 of the difference lands at frame t.
                if (env[static_cast<std::size_t>(t)] != want) ++mismatches;
            }
            EXPECT_EQ(env[0], 0.0f);
            std::cout << "[onset median, " << bands << " bands, exact] frames differing: " << mismatches << " of 36\n";
            EXPECT_EQ(mismatches, 0) << bands << " bands";
        }
    });
    EXPECT_GE(ran, 1);
}

TEST(TempoFrequencies, MatchLibrosa) {
    const auto f = genrekit::tempo_frequencies(344, 512, 22050);
    EXPECT_TRUE(std::isinf(f[0]));
    EXPECT_EQ(f[21], 123.046875);  // blues.00000's tempo: lag 21
    EXPECT_EQ(genrekit::TempoParams{}.win_length(), 344);
}

}  // namespace
