// Audio loading: formats, channel mixing, int16 scaling, resampling, partial
// reads, and every file in ../shared/data/bad/ getting what its README says.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <numbers>

#include "genrekit/audio.hpp"
#include "genrekit/error.hpp"
#include "support.hpp"

namespace fs = std::filesystem;

namespace {

std::vector<float> tone(int sr, double seconds, double hz, float amp = 0.5f) {
    std::vector<float> y(static_cast<std::size_t>(sr * seconds));
    for (std::size_t i = 0; i < y.size(); ++i)
        y[i] = amp * static_cast<float>(std::sin(2 * std::numbers::pi * hz * static_cast<double>(i) / sr));
    return y;
}

fs::path temp_dir() {
    const fs::path d = fs::temp_directory_path() / ("genrekit_test_audio_" + std::to_string(::getpid()));
    fs::create_directories(d);
    return d;
}

std::string load_error(const std::string& path) {
    try {
        genrekit::load_audio(path);
    } catch (const genrekit::Error& e) {
        return e.what();
    }
    return "";
}

// Correlation-free similarity: RMS of the difference relative to the signal's RMS.
double relative_rms_error(const std::vector<float>& a, const std::vector<float>& b, std::size_t skip) {
    double num = 0, den = 0;
    for (std::size_t i = skip; i + skip < std::min(a.size(), b.size()); ++i) {
        num += (a[i] - b[i]) * (a[i] - b[i]);
        den += b[i] * b[i];
    }
    return std::sqrt(num / den);
}

class AudioFormats : public ::testing::TestWithParam<std::string> {};

TEST_P(AudioFormats, RoundTripsAToneThroughEveryFormat) {
    const auto dir = temp_dir();
    const auto y = tone(22050, 1.0, 440.0);
    const std::string path = (dir / ("tone." + GetParam())).string();
    genrekit::save_audio(path, y, 22050);
    const auto a = genrekit::load_audio(path);
    EXPECT_EQ(a.sample_rate, 22050);
    // Lossy codecs add encoder delay/padding; compare the common part, away from the edges.
    const bool lossy = GetParam() == "mp3" || GetParam() == "ogg";
    ASSERT_GE(a.samples.size(), y.size() * 9 / 10) << path;
    if (!lossy) {
        ASSERT_EQ(a.samples.size(), y.size());
        double worst = 0;
        for (std::size_t i = 0; i < y.size(); ++i) worst = std::max(worst, static_cast<double>(std::abs(a.samples[i] - y[i])));
        std::cout << "[" << GetParam() << " atol 1/32768] worst abs diff " << worst << "\n";
        EXPECT_LE(worst, 1.0 / 32768 + 1e-7);
    } else {
        double energy = 0;
        for (float v : a.samples) energy += v * v;
        const double rms = std::sqrt(energy / static_cast<double>(a.samples.size()));
        std::cout << "[" << GetParam() << "] decoded " << a.samples.size() << " samples, rms " << rms << " (tone rms 0.354)\n";
        EXPECT_NEAR(rms, 0.5 / std::sqrt(2.0), 0.05);
    }
    fs::remove_all(dir);
}

INSTANTIATE_TEST_SUITE_P(Formats, AudioFormats, ::testing::Values("wav", "au", "aiff", "flac", "ogg", "mp3"));

TEST(Audio, StereoIsAveragedAndInt16ScaledBy32768) {
    const auto dir = temp_dir();
    // Interleaved stereo: left 0.5, right -0.25 (both exact in int16).
    std::vector<float> st(2000);
    for (std::size_t i = 0; i < st.size(); i += 2) {
        st[i] = 0.5f;
        st[i + 1] = -0.25f;
    }
    const std::string path = (dir / "stereo.wav").string();
    genrekit::save_audio(path, st, 22050, 2);
    const auto a = genrekit::load_audio(path);
    ASSERT_EQ(a.samples.size(), 1000u);
    for (float v : a.samples) ASSERT_FLOAT_EQ(v, 0.125f);
    genrekit::LoadParams keep;
    keep.mono = false;
    const auto b = genrekit::load_audio(path, keep);
    EXPECT_EQ(b.channels, 2);
    EXPECT_EQ(b.samples.size(), 2000u);
    fs::remove_all(dir);
}

TEST(Audio, ResamplesWithCeilLengthAndKeepsTheTone) {
    const auto dir = temp_dir();
    const auto y44 = tone(44100, 2.0, 1000.0);
    const std::string path = (dir / "tone44.flac").string();
    genrekit::save_audio(path, y44, 44100);
    const auto a = genrekit::load_audio(path);
    EXPECT_EQ(a.native_rate, 44100);
    EXPECT_EQ(a.sample_rate, 22050);
    EXPECT_EQ(a.samples.size(), 44100u);  // ceil(88200 * 22050 / 44100)
    const auto expect = tone(22050, 2.0, 1000.0);
    const double err = relative_rms_error(a.samples, expect, 2000);
    std::cout << "[resample 44.1k->22.05k, tol 1e-3 rel rms] " << err << "\n";
    EXPECT_LT(err, 1e-3);
    fs::remove_all(dir);
}

TEST(Audio, OffsetAndDurationReadOnlyAWindow) {
    const auto dir = temp_dir();
    std::vector<float> ramp(22050 * 4);
    for (std::size_t i = 0; i < ramp.size(); ++i) ramp[i] = static_cast<float>(static_cast<int>(i % 20000) - 10000) / 32768.f;
    const std::string path = (dir / "ramp.wav").string();
    genrekit::save_audio(path, ramp, 22050);
    genrekit::LoadParams p;
    p.offset = 1.5;
    p.duration = 1.0;
    const auto a = genrekit::load_audio(path, p);
    ASSERT_EQ(a.samples.size(), 22050u);
    for (std::size_t i = 0; i < a.samples.size(); i += 997) ASSERT_FLOAT_EQ(a.samples[i], ramp[33075 + i]) << i;
    p.offset = 10.0;
    EXPECT_THROW(genrekit::load_audio(path, p), genrekit::Error);
    p.offset = -1;
    EXPECT_THROW(genrekit::load_audio(path, p), genrekit::Error);
    fs::remove_all(dir);
}

TEST(Audio, MissingFileAndDirectoryAreClearErrors) {
    EXPECT_NE(load_error("/nonexistent/x.wav").find("no such file"), std::string::npos);
    EXPECT_NE(load_error(fs::temp_directory_path().string()).find("directory"), std::string::npos);
}

TEST(Audio, GtzanAuDecodesLikeTheWavCopies) {
    GK_REQUIRE_SHARED(shared);
    const auto a = genrekit::load_audio(shared + "/data/gtzan-dev/genres_original/jazz/jazz.00010.au");
    EXPECT_EQ(a.sample_rate, 22050);
    EXPECT_GT(a.samples.size(), 600000u);
}

// ../shared/data/bad/README.md: what each file must get.
struct BadCase {
    const char* file;
    const char* expect;  // substring of the error, or "" when the file must load
};

class BadFiles : public ::testing::TestWithParam<BadCase> {};

TEST_P(BadFiles, GetWhatTheReadmeSays) {
    GK_REQUIRE_SHARED(shared);
    const std::string path = shared + "/data/bad/" + GetParam().file;
    const std::string err = load_error(path);
    std::cout << "[" << GetParam().file << "] " << (err.empty() ? "loaded" : err) << "\n";
    if (std::string(GetParam().expect).empty()) {
        EXPECT_EQ(err, "");
        const auto a = genrekit::load_audio(path);
        for (float v : a.samples) ASSERT_TRUE(std::isfinite(v));
    } else {
        EXPECT_NE(err.find(GetParam().expect), std::string::npos) << err;
        EXPECT_EQ(err.find('\n'), std::string::npos) << "error must be one line";
        EXPECT_EQ(err.rfind(path, 0), 0u) << "error must name the file";
    }
}

INSTANTIATE_TEST_SUITE_P(
    SharedBad, BadFiles,
    ::testing::Values(BadCase{"lfs_pointer.wav", "Git LFS pointer"}, BadCase{"truncated_header.wav", "truncated"},
                      BadCase{"truncated_data.wav", "truncated"}, BadCase{"empty.wav", "empty"},
                      BadCase{"not_audio.wav", "not audio"}, BadCase{"zero_samples.wav", "no audio"},
                      BadCase{"silence_30s.wav", ""}, BadCase{"short_0.5s.wav", ""},
                      BadCase{"nan_float.wav", "NaN"}, BadCase{"absurd_sizes.wav", "4294967280 bytes"},
                      BadCase{"random_bytes.flac", "not a readable audio file"}),
    [](const auto& test_info) {
        std::string n = test_info.param.file;
        for (char& c : n)
            if (!std::isalnum(static_cast<unsigned char>(c))) c = '_';
        return n;
    });

}  // namespace
