#include "tools.hpp"

#include <map>

namespace genrekit::tools {

std::vector<std::pair<int, Registrar>>& registry() {
    static std::vector<std::pair<int, Registrar>> r;
    return r;
}

namespace {
std::map<CLI::App*, Runner>& runners() {
    static std::map<CLI::App*, Runner> r;
    return r;
}
}  // namespace

void set_runner(CLI::App* sub, Runner run) { runners()[sub] = std::move(run); }

int run_selected(CLI::App& app) {
    for (CLI::App* sub : app.get_subcommands()) {
        auto it = runners().find(sub);
        if (it != runners().end()) return it->second();
    }
    return kExitUsage;
}

}  // namespace genrekit::tools
