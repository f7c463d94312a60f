// The demo dataset generator: deterministic, bounded, and its styles differ in
// ways a classifier can learn (here: brightness and onset density).
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>

#include "genrekit/audio.hpp"
#include "genrekit/error.hpp"
#include "genrekit/mel.hpp"
#include "genrekit/synth.hpp"

namespace {

TEST(Synth, SameSeedSameSamplesDifferentSeedDifferentSamples) {
    for (const auto& style : genrekit::synth_styles()) {
        const auto a = genrekit::synth_clip(style, 7, 3.0, 22050);
        const auto b = genrekit::synth_clip(style, 7, 3.0, 22050);
        const auto c = genrekit::synth_clip(style, 8, 3.0, 22050);
        ASSERT_EQ(a.size(), 66150u);
        EXPECT_EQ(a, b) << style;
        EXPECT_NE(a, c) << style;
        float peak = 0;
        for (float v : a) {
            ASSERT_TRUE(std::isfinite(v));
            peak = std::max(peak, std::abs(v));
        }
        EXPECT_NEAR(peak, 0.8f, 1e-4) << style;
    }
    EXPECT_THROW(genrekit::synth_clip("polka", 1, 1.0, 22050), genrekit::Error);
}

// Mean spectral centroid (Hz) of a clip, from the library's own STFT.
double centroid(const std::vector<float>& y) {
    genrekit::Stft stft;
    const auto mag = genrekit::magnitude(stft.forward(y));
    const auto freqs = genrekit::fft_frequencies(22050, 2048);
    double total = 0;
    for (Eigen::Index t = 0; t < mag.cols(); ++t) {
        double num = 0, den = 1e-12;
        for (Eigen::Index f = 0; f < mag.rows(); ++f) {
            num += freqs[static_cast<std::size_t>(f)] * mag(f, t);
            den += mag(f, t);
        }
        total += num / den;
    }
    return total / static_cast<double>(mag.cols());
}

TEST(Synth, StylesDifferInTimbre) {
    // Ambient sine pads are the darkest; the clipped saws of rock and the
    // hi-hats of electronic are brighter.
    double amb = 0, rock = 0, elec = 0;
    for (std::uint64_t s = 1; s <= 3; ++s) {
        amb += centroid(genrekit::synth_clip("ambient", s, 5.0, 22050));
        rock += centroid(genrekit::synth_clip("rock", s, 5.0, 22050));
        elec += centroid(genrekit::synth_clip("electronic", s, 5.0, 22050));
    }
    std::cout << "[mean centroid Hz] ambient " << amb / 3 << ", rock " << rock / 3 << ", electronic " << elec / 3 << "\n";
    EXPECT_LT(amb, rock);
    EXPECT_LT(amb, elec);
}

TEST(Synth, WritesAFolderPerStyle) {
    const auto dir = std::filesystem::temp_directory_path() / ("genrekit_synth_" + std::to_string(::getpid()));
    genrekit::SynthParams p;
    p.clips_per_class = 2;
    p.seconds = 2;
    const auto files = genrekit::write_synth_dataset(dir.string(), p);
    ASSERT_EQ(files.size(), 8u);
    for (const auto& style : genrekit::synth_styles()) EXPECT_TRUE(std::filesystem::is_directory(dir / style));
    const auto a = genrekit::load_audio(files.front());
    EXPECT_EQ(a.samples.size(), 44100u);
    std::filesystem::remove_all(dir);
}

}  // namespace
