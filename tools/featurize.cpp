// `genrekit featurize`: audio files/folders -> Kaggle-schema GTZAN feature CSV.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <iostream>
#include <optional>

#include "genrekit/atomic_file.hpp"
#include "genrekit/featurize.hpp"
#include "tools.hpp"

namespace genrekit::tools {
namespace {

struct FeaturizeArgs {
    std::vector<std::string> inputs;
    std::string output;
    std::string mode = "30s";
    double segment = 0, hop = 0;
    std::string label, manifest;
    int jobs = 0;
    bool quiet = false, strict = false;
};

// A one-line progress display on a terminal: done/total, files per second, time left.
class Progress {
public:
    explicit Progress(bool enabled) : enabled_(enabled && ::isatty(STDERR_FILENO)), start_(clock::now()) {}
    void update(std::size_t done, std::size_t total) {
        if (!enabled_) return;
        const double secs = std::chrono::duration<double>(clock::now() - start_).count();
        const double rate = secs > 0 ? static_cast<double>(done) / secs : 0;
        const double left = rate > 0 ? static_cast<double>(total - done) / rate : 0;
        std::fprintf(stderr, "\r%zu/%zu files, %.1f files/s, %.0f s left   ", done, total, rate, left);
        if (done == total) std::fprintf(stderr, "\n");
    }
    void message(const std::string& line) {
        if (enabled_) std::fprintf(stderr, "\r%*s\r", 60, "");
        std::fprintf(stderr, "%s\n", line.c_str());
    }

private:
    using clock = std::chrono::steady_clock;
    bool enabled_;
    clock::time_point start_;
};

int run(const FeaturizeArgs& a) {
    BatchOptions opt;
    if (a.segment > 0) {
        opt.segments = {SegmentMode::Sliding, a.segment, a.hop > 0 ? a.hop : a.segment};
    } else if (a.mode == "3s") {
        opt.segments.mode = SegmentMode::Kaggle3s;
    } else if (a.mode != "30s") {
        std::cerr << "genrekit featurize: --mode must be 30s or 3s (or use --segment/--hop)\n";
        return kExitUsage;
    }
    opt.jobs = a.jobs;
    opt.strict = a.strict;
    std::vector<std::string> unreadable;  // paths the folder walk could not read: reported with the failures
    const auto inputs =
        collect_inputs(a.inputs, a.label.empty() ? std::nullopt : std::optional<std::string>(a.label), a.manifest, &unreadable);
    for (const auto& u : unreadable) std::cerr << u << "\n";
    if (inputs.empty()) {
        std::cerr << "genrekit featurize: no audio files found (extensions: wav au aiff aif flac ogg mp3)\n";
        return kExitFailure;
    }
    if (a.strict && !unreadable.empty()) {
        std::cerr << "genrekit featurize: stopped at the first failure (--strict); no output written\n";
        return kExitFailure;
    }
    Progress progress(!a.quiet);
    opt.progress = [&](std::size_t done, std::size_t total) { progress.update(done, total); };
    opt.on_message = [&](const std::string& line) { progress.message(line); };

    std::optional<AtomicFile> file;
    if (!a.output.empty() && a.output != "-") file.emplace(a.output);
    std::ostream& out = file ? file->stream() : std::cout;
    out << feature_csv_header();
    BatchReport report = featurize_batch(inputs, opt, [&](const FeatureRow& row) { out << feature_csv_row(row); });
    report.files += unreadable.size();
    report.failures.insert(report.failures.begin(), unreadable.begin(), unreadable.end());

    if (report.stopped_early) {
        std::cerr << "genrekit featurize: stopped at the first failure (--strict); no output written\n";
        return kExitFailure;
    }
    if (report.rows == 0) {
        std::cerr << "genrekit featurize: no rows produced" << (file ? "; " + a.output + " not written" : std::string()) << "\n";
        for (const auto& f : report.failures) std::cerr << "  " << f << "\n";
        return kExitFailure;
    }
    if (file) file->commit();
    if (!a.quiet || !report.failures.empty())
        std::cerr << "featurized " << report.files - report.failures.size() << " of " << report.files << " files, "
                  << report.rows << " rows" << (file ? " -> " + a.output : std::string()) << "\n";
    if (!report.failures.empty()) {
        std::cerr << report.failures.size() << " file(s) failed:\n";
        for (const auto& f : report.failures) std::cerr << "  " << f << "\n";
        return report.failures.size() == report.files ? kExitFailure : kExitPartial;
    }
    return kExitOk;
}

AutoRegister reg([](CLI::App& app) {
    auto args = std::make_shared<FeaturizeArgs>();
    auto* sub = app.add_subcommand("featurize", "Compute the GTZAN feature set (Kaggle CSV schema) from audio files");
    sub->add_option("inputs", args->inputs, "Audio files and folders (searched recursively)");
    sub->add_option("-o,--output", args->output, "Output CSV (default: stdout); written atomically");
    sub->add_option("--mode", args->mode, "30s: one row per file; 3s: Kaggle's ten 3-second segments per track")
        ->check(CLI::IsMember({"30s", "3s"}));
    sub->add_option("--segment", args->segment, "Segment length in seconds (overrides --mode)")->check(CLI::PositiveNumber);
    sub->add_option("--hop", args->hop, "Seconds between segment starts (default: --segment)")->check(CLI::PositiveNumber);
    sub->add_option("--label", args->label, "Label every row with this label (default: the file's folder name)");
    sub->add_option("--manifest", args->manifest, "CSV of path,label rows (paths relative to the manifest)");
    sub->add_option("-j,--jobs", args->jobs, "Parallel jobs (default: every core)")->check(CLI::Range(0, 256));
    sub->add_flag("-q,--quiet", args->quiet, "No progress line or summary");
    sub->add_flag("--strict", args->strict, "Stop at the first file that fails");
    sub->footer(
        "Exit codes: 0 every file featurized; 1 nothing usable (bad arguments, all files failed, --strict stop);\n"
        "2 usage error; 3 some files failed (each listed on stderr, the others are in the output).");
    set_runner(sub, [args] {
        if (args->inputs.empty() && args->manifest.empty()) {
            std::cerr << "genrekit featurize: give audio files/folders or --manifest\n";
            return kExitUsage;
        }
        return run(*args);
    });
}, kOrderFeaturize);

}  // namespace
}  // namespace genrekit::tools
