// Helpers shared by the test programs: locating ../shared, and golden
// comparisons that state their tolerance and report the worst difference.
#pragma once

#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "genrekit/npy.hpp"
#include "genrekit/stft.hpp"

namespace gktest {

// GENREKIT_SHARED, else ../shared beside the project root; nullopt when absent.
std::optional<std::string> shared_dir();
std::string source_dir();

// Skips the current test with a clear reason when the shared data is absent.
#define GK_REQUIRE_SHARED(var)                                                                      \
    const auto var##_opt = gktest::shared_dir();                                                    \
    if (!var##_opt) GTEST_SKIP() << "shared data not found: set GENREKIT_SHARED or place it at ../shared"; \
    const std::string var = *var##_opt

std::string golden_dir(const std::string& shared, const std::string& track);

// The three tracks with golden librosa arrays, for value-parameterised tests:
//   INSTANTIATE_TEST_SUITE_P(Tracks, MyGolden, GK_GOLDEN_TRACKS, gktest::track_name);
struct Track {
    const char* name;   // "blues.00000"
    const char* genre;  // "blues"
};
#define GK_GOLDEN_TRACKS                                                                       \
    ::testing::Values(gktest::Track{"blues.00000", "blues"}, gktest::Track{"metal.00000", "metal"}, \
                      gktest::Track{"classical.00000", "classical"})
std::string track_name(const ::testing::TestParamInfo<Track>& info);
// <shared>/data/gtzan-dev/genres_original/<genre>/<name>.wav
std::string track_wav(const std::string& shared, const Track& t);

// The fixture of the golden-track tests: skips when the shared data is absent, else loads the
// track's audio (y_) and golden manifest.json (manifest_) and names its golden directory (dir_).
// A suite's own SetUp calls GoldenTrack::SetUp() first and returns if IsSkipped().
class GoldenTrack : public ::testing::TestWithParam<Track> {
protected:
    void SetUp() override;
    std::string dir_;
    std::vector<float> y_;
    nlohmann::json manifest_;
};

struct Worst {
    double abs_err = 0, rel_err = 0;  // the largest normalised error and its parts
    double score = 0;                 // max over elements of |a-b| / (atol + rtol*|b|)
    std::size_t row = 0, col = 0;
    double got = 0, want = 0;
    std::size_t compared = 0;
    std::string describe() const;
};

// Compares `got` (rows x cols, column-major as Eigen stores it) with a golden
// row-major .npy array. An element passes when |got - want| <= atol + rtol*|want|.
// Elements whose golden magnitude is below `skip_below` are not compared.
Worst compare(const Eigen::MatrixXf& got, const genrekit::NpyArray& want, double rtol, double atol,
              double skip_below = -1.0);
Worst compare(const std::vector<float>& got, const genrekit::NpyArray& want, double rtol, double atol,
              double skip_below = -1.0);

// Loads a golden 1-D array into a float vector (e.g. the audio y of a track).
std::vector<float> to_floats(const genrekit::NpyArray& a);

// A feature CSV (Kaggle schema): header names, and per row its filename, numbers and label.
struct CsvRows {
    std::vector<std::string> header;  // every column, filename first
    std::vector<std::string> filenames, labels;
    std::vector<std::vector<double>> values;  // columns between filename and label
    int column(const std::string& name) const;  // index into values rows, -1 if absent
};
CsvRows read_feature_csv(const std::string& path);
// The same as filename -> (column -> value).
std::map<std::string, std::map<std::string, double>> read_feature_map(const std::string& path);

// Runs the genrekit executable with `args` (shell words), capturing stdout, stderr and the exit code.
struct CliResult {
    int code = -1;
    std::string out, err;
};
CliResult run_genrekit(const std::string& args);
CliResult run_command(const std::string& command);  // any shell command, the same way

// <tmp>/genrekit_<suite>_<pid>/<name>, created if missing (emptied first when `fresh`): one
// folder per test process, so tests that CTest runs in parallel never share files.
std::filesystem::path scratch_dir(const std::string& suite, const std::string& name, bool fresh = false);

// A fresh temporary folder <tmp>/genrekit_<name>_<pid> holding the small synthetic labelled
// dataset the CLI tests train spectrogram models on (5 clips of 3 s per style) under "audio".
std::string make_synth_fixture(const std::string& name);

// The message of the genrekit::Error that f throws; a test failure (and "") when it throws none.
std::string expect_error(const std::function<void()>& f);

}  // namespace gktest
