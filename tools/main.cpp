// genrekit: one executable, one subcommand per tool. Each tools/<name>.cpp
// registers its subcommand; this file only dispatches and maps errors to
// exit codes (documented in README.md). GENREKIT_ISA is read once before any
// subcommand runs, so a bad value is a usage error, not a failure mid-work.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <iostream>

#include "genrekit/error.hpp"
#include "genrekit/instruction_set.hpp"
#include "tools.hpp"

int main(int argc, char** argv) {
    CLI::App app{"genrekit: music genre features, training, evaluation and prediction"};
    app.set_version_flag("--version", std::string("genrekit ") + GENREKIT_VERSION);
    app.require_subcommand(1);
    auto& regs = genrekit::tools::registry();
    std::stable_sort(regs.begin(), regs.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
    for (const auto& reg : regs) reg.second(app);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        const int code = app.exit(e);
        return code == 0 ? 0 : genrekit::tools::kExitUsage;
    }
    try {
        genrekit::instruction_sets();
    } catch (const genrekit::Error& e) {
        std::cerr << "genrekit: " << e.what() << "\n";
        return genrekit::tools::kExitUsage;
    }
    try {
        return genrekit::tools::run_selected(app);
    } catch (const genrekit::Error& e) {
        std::cerr << "genrekit: " << e.what() << "\n";
        return genrekit::tools::kExitFailure;
    } catch (const std::exception& e) {
        std::cerr << "genrekit: internal error: " << e.what() << "\n";
        return genrekit::tools::kExitInternal;
    }
}
