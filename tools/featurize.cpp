// `genrekit featurize`: audio files/folders -> Kaggle-schema GTZAN feature CSV.
#include <algorithm>
#include <cstdio>
#include <iostream>
#include <optional>

#include "genrekit/atomic_file.hpp"
#include "genrekit/error.hpp"
#include "genrekit/featurize.hpp"
#include "genrekit/shard.hpp"
#include "progress.hpp"
#include "input_options.hpp"
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
    std::string shard;    // "K/N"
    bool resume = false;
    InputOptions input;
};

// --shard / --resume: the files of this shard go through a journal (<out>.partial) that a
// killed run resumes; the output is assembled in input order at the end.
int run_journaled(const FeaturizeArgs& a, BatchOptions& opt, const std::vector<InputFile>& all) {
    const bool sharded = !a.shard.empty();
    const Shard shard = sharded ? Shard::parse(a.shard) : Shard{};
    std::vector<std::size_t> mine;
    if (sharded) {
        mine = plan_shard(input_sizes(all), shard);
    } else {
        for (std::size_t i = 0; i < all.size(); ++i) mine.push_back(i);
    }
    FeatureJournal journal(a.output, run_identity(all, opt, shard), a.resume);
    std::vector<InputFile> todo;
    std::vector<std::size_t> todo_index;
    for (std::size_t i : mine)
        if (!journal.done(i)) {
            todo.push_back(all[i]);
            todo_index.push_back(i);
        }
    if (!a.quiet && journal.done_count() > 0)
        std::cerr << "resuming " << FeatureJournal::path_for(a.output) << ": " << journal.done_count() << " of " << mine.size()
                  << " files already done\n";
    std::string rows;
    std::size_t n_rows = 0;
    std::string journal_error;
    opt.on_file_done = [&](std::size_t i, bool failed) {
        try {
            if (journal_error.empty())
                journal.record(todo_index[i], failed ? FileStatus::Failed : n_rows > 0 ? FileStatus::Ok : FileStatus::Short, todo[i].rel, rows,
                               n_rows);
        } catch (const Error& e) {
            journal_error = e.what();  // reported below; a worker thread must not throw
        }
        rows.clear();
        n_rows = 0;
    };
    const BatchReport report = featurize_batch(todo, opt, [&](const FeatureRow& row) {
        rows += feature_csv_row(row);
        ++n_rows;
    });
    if (!journal_error.empty()) throw Error(journal_error);
    if (report.stopped_early) {
        std::cerr << "genrekit featurize: stopped at the first failure (--strict); " << a.output << " not written; --resume continues from "
                  << FeatureJournal::path_for(a.output) << "\n";
        return kExitFailure;
    }
    const auto summary = journal.summary();
    // A shard's part is written even when empty (merge needs every part); a whole run without a
    // single row is a failure, as without a journal.
    if (!sharded && summary.rows == 0) {
        journal.discard();
        std::cerr << "genrekit featurize: no rows produced; " << a.output << " not written\n";
        for (const auto& f : report.failures) std::cerr << "  " << f << "\n";
        return kExitFailure;
    }
    journal.commit(sharded);
    if (!a.quiet || !report.failures.empty())
        std::cerr << "featurized " << mine.size() - summary.failed << " of " << mine.size() << " files"
                  << (sharded ? " (shard " + shard.describe() + " of " + std::to_string(all.size()) + ")" : std::string()) << ", "
                  << summary.rows << " rows -> " << a.output << "\n";
    if (!report.failures.empty()) {
        std::cerr << report.failures.size() << " file(s) failed (--resume retries them):\n";
        for (const auto& f : report.failures) std::cerr << "  " << f << "\n";
        return kExitPartial;
    }
    return kExitOk;
}

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
    opt.segments.clip.policy = a.input.clip_policy();
    std::vector<std::string> unreadable;  // paths the folder walk could not read: reported with the failures
    auto inputs =
        collect_inputs(a.inputs, a.label.empty() ? std::nullopt : std::optional<std::string>(a.label), a.manifest, &unreadable);
    a.input.apply(inputs);
    for (const auto& u : unreadable) std::cerr << u << "\n";
    if (inputs.empty()) {
        std::cerr << "genrekit featurize: no audio files found (extensions: wav au aiff aif flac ogg mp3)\n";
        return kExitFailure;
    }
    if (a.strict && !unreadable.empty()) {
        std::cerr << "genrekit featurize: stopped at the first failure (--strict); no output written\n";
        return kExitFailure;
    }
    ProgressLine progress(!a.quiet);
    opt.progress = [&](std::size_t done, std::size_t total) {
        const double rate = static_cast<double>(done) / std::max(progress.elapsed(), 1e-9);
        char buf[64];
        std::snprintf(buf, sizeof buf, "%zu/%zu files, %.1f files/s, ", done, total, rate);
        progress.show(buf + progress.timing(static_cast<double>(done) / static_cast<double>(total)));
        if (done == total) progress.clear();
    };
    opt.on_message = [&](const std::string& line) { progress.message(line); };
    if (!a.shard.empty() || a.resume) {
        const int rc = run_journaled(a, opt, inputs);  // the unreadable paths were listed above
        return rc == kExitOk && !unreadable.empty() ? kExitPartial : rc;
    }

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
    sub->add_option("inputs", args->inputs, "Audio files and folders (searched recursively); '-' reads standard input");
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
    sub->add_option("--shard", args->shard,
                    "K/N: featurize only the K-th of N parts of the sorted inputs, balanced by file size (K from 0 to N-1); "
                    "writes OUTPUT and OUTPUT.shard for `genrekit merge`");
    sub->add_flag("--resume", args->resume,
                  "Journal the run in OUTPUT.partial, and continue the journal an interrupted run left there");
    args->input.add_to(sub);
    sub->footer(
        "Exit codes: 0 every file featurized; 1 nothing usable (bad arguments, all files failed, --strict stop);\n"
        "2 usage error; 3 some files failed (each listed on stderr, the others are in the output).");
    set_runner(sub, [args] {
        if (args->inputs.empty() && args->manifest.empty()) {
            std::cerr << "genrekit featurize: give audio files/folders or --manifest\n";
            return kExitUsage;
        }
        if ((!args->shard.empty() || args->resume) && (args->output.empty() || args->output == "-")) {
            std::cerr << "genrekit featurize: --shard and --resume need -o FILE\n";
            return kExitUsage;
        }
        if (!args->shard.empty()) try {
                Shard::parse(args->shard);
            } catch (const Error& e) {
                std::cerr << "genrekit featurize: " << e.what() << "\n";
                return kExitUsage;
            }
        return run(*args);
    });
}, kOrderFeaturize);

}  // namespace
}  // namespace genrekit::tools
