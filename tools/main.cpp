// genrekit: one executable, one subcommand per tool. Each tools/<name>.cpp
// registers its subcommand; this file only dispatches and maps errors to
// exit codes (documented in README.md). GENREKIT_ISA is read once before any
// subcommand runs, so a bad value is a usage error, not a failure mid-work.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <iostream>
#include <string>
#include <thread>

#include "genrekit/distributed.hpp"
#include "genrekit/error.hpp"
#include "genrekit/instruction_set.hpp"
#include "tools.hpp"

namespace {

// An error under mpirun with several ranks: an agreed one (every rank raised it) ends every rank
// quietly but rank 0, which says why; one on this rank alone ends the whole job (no peer waits
// forever in a collective).
int fail(const std::string& line, int code, bool agreed) {
    if (genrekit::dist::size() == 1) {
        std::cerr << line << "\n";
        return code;
    }
    if (!agreed) genrekit::dist::abort_all(genrekit::dist::rank() == 0 ? line : line + " (rank " + std::to_string(genrekit::dist::rank()) + ")", code);
    if (genrekit::dist::rank() == 0) std::cerr << line << "\n";
    return code;
}

}  // namespace

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
        if (genrekit::dist::launcher_rank() != 0) {  // under mpirun every rank has the same words: rank 0 says it
            std::this_thread::sleep_for(std::chrono::milliseconds(1500));
            return e.get_exit_code() == 0 ? 0 : genrekit::tools::kExitUsage;
        }
        const int code = app.exit(e);
        return code == 0 ? 0 : genrekit::tools::kExitUsage;
    }
    try {
        genrekit::instruction_sets();
    } catch (const genrekit::Error& e) {
        std::cerr << "genrekit: " << e.what() << "\n";
        return genrekit::tools::kExitUsage;
    }
    // Under mpirun only `train` shares its work; anything else would run P times over.
    const std::string command = app.get_subcommands().empty() ? "" : app.get_subcommands()[0]->get_name();
    if (genrekit::dist::launcher_size() > 1 && (!genrekit::dist::built_with_mpi() || command != "train")) {
        if (genrekit::dist::launcher_rank() == 0)
            std::cerr << "genrekit: started by mpirun with " << genrekit::dist::launcher_size() << " processes, but "
                      << (genrekit::dist::built_with_mpi() ? "only `genrekit train` runs on several processes"
                                                          : "this build has no MPI (rebuild with -DGENREKIT_MPI=ON); refusing to run " +
                                                                std::to_string(genrekit::dist::launcher_size()) + " independent copies")
                      << "\n";
        return genrekit::tools::kExitUsage;
    }
    genrekit::dist::Session mpi(&argc, &argv);
    try {
        return genrekit::tools::run_selected(app);
    } catch (const genrekit::dist::AgreedError& e) {
        return fail(std::string("genrekit: ") + e.what(), genrekit::tools::kExitFailure, true);
    } catch (const genrekit::Error& e) {
        return fail(std::string("genrekit: ") + e.what(), genrekit::tools::kExitFailure, false);
    } catch (const std::exception& e) {
        return fail(std::string("genrekit: internal error: ") + e.what(), genrekit::tools::kExitInternal, false);
    }
}
