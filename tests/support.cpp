#include "support.hpp"

#include "genrekit/audio.hpp"
#include "genrekit/error.hpp"
#include "genrekit/synth.hpp"

#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace gktest {

std::string source_dir() {
    if (const char* env = std::getenv("GENREKIT_SOURCE_DIR")) return env;
    return GENREKIT_SOURCE_DIR;
}

std::optional<std::string> shared_dir() {
    namespace fs = std::filesystem;
    if (const char* env = std::getenv("GENREKIT_SHARED"); env && *env) {
        if (fs::is_directory(env)) return std::string(env);
        return std::nullopt;
    }
    const fs::path p = fs::path(source_dir()) / ".." / "shared";
    if (fs::is_directory(p / "data")) return fs::weakly_canonical(p).string();
    return std::nullopt;
}

std::string golden_dir(const std::string& shared, const std::string& track) {
    return shared + "/golden/librosa-0.7.2/" + track;
}

std::string track_name(const ::testing::TestParamInfo<Track>& info) { return info.param.genre; }

std::string track_wav(const std::string& shared, const Track& t) {
    return shared + "/data/gtzan-dev/genres_original/" + t.genre + "/" + t.name + ".wav";
}

void GoldenTrack::SetUp() {
    const auto shared = shared_dir();
    if (!shared) GTEST_SKIP() << "shared data not found: set GENREKIT_SHARED or place it at ../shared";
    dir_ = golden_dir(*shared, GetParam().name);
    y_ = genrekit::load_audio(track_wav(*shared, GetParam())).samples;
    std::ifstream in(dir_ + "/manifest.json");
    manifest_ = nlohmann::json::parse(in);
}

std::string Worst::describe() const {
    std::ostringstream s;
    s.precision(9);
    s << "worst at [" << row << "," << col << "]: got " << got << " want " << want << " (abs err " << abs_err
      << ", rel err " << rel_err << ", " << score << " x tolerance) over " << compared << " values";
    return s.str();
}

namespace {
template <typename Get>
Worst compare_impl(std::size_t rows, std::size_t cols, Get get, const genrekit::NpyArray& want, double rtol,
                   double atol, double skip_below) {
    Worst w;
    for (std::size_t r = 0; r < rows; ++r)
        for (std::size_t c = 0; c < cols; ++c) {
            const double g = get(r, c);
            const double e = want.data[r * cols + c];
            if (std::abs(e) < skip_below) continue;
            ++w.compared;
            const double err = std::abs(g - e);
            const double score = std::isfinite(g) ? err / (atol + rtol * std::abs(e)) : INFINITY;
            if (score > w.score || w.compared == 1) {
                w.score = score;
                w.abs_err = err;
                w.rel_err = e != 0 ? err / std::abs(e) : err;
                w.row = r;
                w.col = c;
                w.got = g;
                w.want = e;
            }
        }
    return w;
}
}  // namespace

Worst compare(const Eigen::MatrixXf& got, const genrekit::NpyArray& want, double rtol, double atol, double skip_below) {
    const std::size_t rows = want.shape.size() == 1 ? 1 : want.shape[0];
    const std::size_t cols = want.shape.size() == 1 ? want.shape[0] : want.shape[1];
    EXPECT_EQ(static_cast<std::size_t>(got.rows()), rows) << "row count differs from golden";
    EXPECT_EQ(static_cast<std::size_t>(got.cols()), cols) << "column count differs from golden";
    if (static_cast<std::size_t>(got.rows()) != rows || static_cast<std::size_t>(got.cols()) != cols) return Worst{1e300};
    return compare_impl(rows, cols, [&](std::size_t r, std::size_t c) { return static_cast<double>(got(static_cast<Eigen::Index>(r), static_cast<Eigen::Index>(c))); }, want, rtol, atol, skip_below);
}

Worst compare(const std::vector<float>& got, const genrekit::NpyArray& want, double rtol, double atol, double skip_below) {
    EXPECT_EQ(got.size(), want.data.size()) << "length differs from golden";
    if (got.size() != want.data.size()) return Worst{1e300};
    return compare_impl(1, got.size(), [&](std::size_t, std::size_t c) { return static_cast<double>(got[c]); }, want, rtol, atol, skip_below);
}

int CsvRows::column(const std::string& name) const {
    for (std::size_t i = 1; i + 1 < header.size(); ++i)
        if (header[i] == name) return static_cast<int>(i - 1);
    return -1;
}

CsvRows read_feature_csv(const std::string& path) {
    std::ifstream in(path);
    CsvRows rows;
    std::string line;
    auto split = [](const std::string& l) {
        std::vector<std::string> cells;
        std::stringstream ss(l);
        std::string cell;
        while (std::getline(ss, cell, ',')) cells.push_back(cell);
        return cells;
    };
    if (!std::getline(in, line)) return rows;
    rows.header = split(line);
    while (std::getline(in, line)) {
        if (line.empty()) continue;
        auto cells = split(line);
        rows.filenames.push_back(cells.front());
        rows.labels.push_back(cells.back());
        std::vector<double> v;
        for (std::size_t i = 1; i + 1 < cells.size(); ++i) v.push_back(std::stod(cells[i]));
        rows.values.push_back(std::move(v));
    }
    return rows;
}

std::map<std::string, std::map<std::string, double>> read_feature_map(const std::string& path) {
    const CsvRows csv = read_feature_csv(path);
    std::map<std::string, std::map<std::string, double>> rows;
    for (std::size_t r = 0; r < csv.filenames.size(); ++r)
        for (std::size_t c = 0; c < csv.values[r].size(); ++c) rows[csv.filenames[r]][csv.header[c + 1]] = csv.values[r][c];
    return rows;
}

CliResult run_genrekit(const std::string& args) { return run_command(std::string(GENREKIT_BINARY) + " " + args); }

CliResult run_command(const std::string& command) {
    namespace fs = std::filesystem;
    static int calls = 0;
    const fs::path err_file = fs::temp_directory_path() / ("gk_err_" + std::to_string(::getpid()) + "_" + std::to_string(calls++));
    const std::string cmd = command + " 2>" + err_file.string();
    CliResult r;
    FILE* p = ::popen(cmd.c_str(), "r");
    char buf[4096];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.out.append(buf, n);
    const int status = ::pclose(p);
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    std::ifstream e(err_file);
    std::stringstream ss;
    ss << e.rdbuf();
    r.err = ss.str();
    fs::remove(err_file);
    return r;
}

std::vector<float> to_floats(const genrekit::NpyArray& a) { return {a.data.begin(), a.data.end()}; }

std::string expect_error(const std::function<void()>& f) {
    try {
        f();
    } catch (const genrekit::Error& e) {
        return e.what();
    }
    ADD_FAILURE() << "expected genrekit::Error";
    return "";
}

std::filesystem::path scratch_dir(const std::string& suite, const std::string& name, bool fresh) {
    namespace fs = std::filesystem;
    const fs::path d = fs::temp_directory_path() / ("genrekit_" + suite + "_" + std::to_string(::getpid())) / name;
    if (fresh) fs::remove_all(d);
    fs::create_directories(d);
    return d;
}

std::string make_synth_fixture(const std::string& name) {
    namespace fs = std::filesystem;
    const fs::path dir = fs::temp_directory_path() / ("genrekit_" + name + "_" + std::to_string(::getpid()));
    fs::create_directories(dir);
    genrekit::SynthParams sp;
    sp.clips_per_class = 5;
    sp.seconds = 3.0;
    genrekit::write_synth_dataset((dir / "audio").string(), sp);
    return dir.string();
}

}  // namespace gktest
