// Subcommand registry for the genrekit executable. Each tool file defines a
// registrar with GENREKIT_TOOL; tools parse arguments, call the library and
// write output, nothing more.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <vector>

namespace genrekit::tools {

// Exit codes shared by every subcommand.
constexpr int kExitOk = 0;
constexpr int kExitFailure = 1;      // bad input: a file, a config, a model (message says which)
constexpr int kExitUsage = 2;        // wrong command-line arguments
constexpr int kExitPartial = 3;      // a batch finished, but some inputs failed (listed at the end)
constexpr int kExitInternal = 70;    // a bug: please report it

using Registrar = std::function<void(CLI::App&)>;
using Runner = std::function<int()>;

// Registrars with their place in `genrekit --help` (lower first).
std::vector<std::pair<int, Registrar>>& registry();
// Records the action of a subcommand; the one the user chose runs after parsing.
void set_runner(CLI::App* sub, Runner run);
int run_selected(CLI::App& app);

// Help order of the subcommands: the pipeline first, helpers after.
constexpr int kOrderFeaturize = 10, kOrderTrain = 20, kOrderEval = 30, kOrderPredict = 40, kOrderOther = 50;

struct AutoRegister {
    explicit AutoRegister(Registrar r, int order = kOrderOther) { registry().emplace_back(order, std::move(r)); }
};

}  // namespace genrekit::tools
