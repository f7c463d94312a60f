// `genrekit merge`: the parts of a sharded featurize run -> the CSV one single run writes.
#include <iostream>

#include "genrekit/shard.hpp"
#include "tools.hpp"

namespace genrekit::tools {
namespace {

struct MergeArgs {
    std::vector<std::string> parts;
    std::string output, manifest;
    bool quiet = false;
};

int run(const MergeArgs& a) {
    const MergeReport report = merge_feature_parts(a.parts, a.output, a.manifest);
    if (!a.quiet || !report.failed.empty())
        std::cerr << "merged " << report.parts << " parts: " << report.files - report.failed.size() << " of " << report.files << " files, "
                  << report.rows << " rows -> " << a.output << "\n";
    if (report.failed.empty()) return kExitOk;
    std::cerr << report.failed.size() << " file(s) have no rows (rerun their shard with --resume to retry them):\n";
    for (const auto& f : report.failed) std::cerr << "  " << f << "\n";
    return kExitPartial;
}

AutoRegister reg([](CLI::App& app) {
    auto args = std::make_shared<MergeArgs>();
    auto* sub = app.add_subcommand("merge", "Join the parts of `featurize --shard K/N` into the CSV of a single run");
    sub->add_option("parts", args->parts, "The part CSVs (each with its PART.shard index beside it), in any order")->required();
    sub->add_option("-o,--output", args->output, "Output CSV; written atomically")->required();
    sub->add_option("--manifest", args->manifest, "Refuse to merge when a file of this manifest (path,label) has no rows");
    sub->add_flag("-q,--quiet", args->quiet, "No summary");
    sub->footer(
        "Exit codes: 0 merged; 1 a part is missing, damaged, from another run, or repeats rows (nothing written);\n"
        "2 usage error; 3 merged, but some files failed in their shard (listed on stderr).");
    set_runner(sub, [args] { return run(*args); });
}, kOrderFeaturize + 1);

}  // namespace
}  // namespace genrekit::tools
