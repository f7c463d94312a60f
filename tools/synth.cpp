// `genrekit synth`: write the project's own small labelled dataset (the demo's default).
#include <iostream>

#include "genrekit/synth.hpp"
#include "tools.hpp"

namespace genrekit::tools {
namespace {
AutoRegister reg([](CLI::App& app) {
    auto p = std::make_shared<SynthParams>();
    auto out = std::make_shared<std::string>();
    auto* sub = app.add_subcommand("synth", "Generate a labelled demo dataset: <out>/<style>/<style>.<i>.wav, 4 styles");
    sub->add_option("-o,--out", *out, "Output folder")->required();
    sub->add_option("--clips", p->clips_per_class, "Clips per style")->capture_default_str();
    sub->add_option("--seconds", p->seconds, "Seconds per clip")->capture_default_str();
    sub->add_option("--seed", p->seed, "Random seed (same seed, same files)")->capture_default_str();
    set_runner(sub, [p, out] {
        const auto files = write_synth_dataset(*out, *p);
        std::cerr << "wrote " << files.size() << " clips to " << *out << "\n";
        return kExitOk;
    });
});
}  // namespace
}  // namespace genrekit::tools
