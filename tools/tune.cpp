// `genrekit tune --config CFG --grid key=v1,v2 [--grid ...] --cv K [--csv F] [--json F]`:
// a grid search by K-fold cross-validation; prints the configs ranked by mean accuracy.
#include <iostream>

#include "genrekit/atomic_file.hpp"
#include "genrekit/tune.hpp"
#include "progress.hpp"
#include "tools.hpp"

namespace genrekit::tools {
namespace {

struct Args {
    std::string config, data, groups, csv, json;
    std::vector<std::string> grid, sets;
    int cv = 5;
    bool quiet = false;
};

int run(const Args& a) {
    std::vector<GridAxis> grid;
    for (const auto& g : a.grid) grid.push_back(parse_grid_axis(g));
    const ConfigMaker make = [&](const std::vector<std::string>& combo) {
        std::vector<std::string> sets = a.sets;
        sets.insert(sets.end(), combo.begin(), combo.end());
        TrainConfig cfg = load_train_config(a.config, sets);
        if (!a.data.empty()) set_data_path(cfg, a.data);
        if (!a.groups.empty()) set_group_file(cfg, a.groups);
        return cfg;
    };
    // The plan, in epochs, for the ETA (early stopping only makes it shorter).
    double planned = 0;
    std::vector<int> epochs;
    for (const auto& c : grid_configs(make, grid)) {
        planned += static_cast<double>(a.cv) * c.ensemble.members * c.epochs;
        epochs.push_back(c.epochs);
    }
    ProgressLine progress(!a.quiet);
    EpochCount count(planned);
    std::size_t combo = 0, combos = 0;
    int fold = 0;
    TuneCallbacks cb;
    cb.on_config = [&](std::size_t c, std::size_t n) {
        combo = c;
        combos = n;
        fold = 0;
    };
    cb.on_fold = [&](int f, const TrainResult&) { fold = f + 1; };
    cb.on_epoch = [&](const EpochLog& e) {
        const double f = count.fraction(e.epoch, epochs[combo]);
        progress.show("config " + std::to_string(combo + 1) + "/" + std::to_string(combos) + "  fold " + std::to_string(fold + 1) + "/" +
                      std::to_string(a.cv) + "  epoch " + std::to_string(e.epoch) + "/" + std::to_string(epochs[combo]) + "  " + progress.timing(f));
    };
    cb.on_message = [&](const std::string& m) {
        if (!a.quiet) progress.message(m);
    };
    const TuneReport r = tune(make, grid, a.cv, cb);
    progress.clear();
    std::cout << format_tune_table(r) << std::flush;
    if (!a.csv.empty()) write_file_atomic(a.csv, tune_csv(r));
    if (!a.json.empty()) write_file_atomic(a.json, tune_json(r).dump(2) + "\n");
    if (!a.quiet && !(a.csv.empty() && a.json.empty()))
        std::cerr << "wrote" << (a.csv.empty() ? "" : " " + a.csv) << (a.json.empty() ? "" : " " + a.json) << " in " << format_duration(progress.elapsed())
                  << "\n";
    return kExitOk;
}

AutoRegister reg([](CLI::App& app) {
    auto args = std::make_shared<Args>();
    auto* sub = app.add_subcommand("tune", "Grid search over config keys by K-fold cross-validation");
    sub->add_option("--config", args->config, "Training config (JSON)")->required()->check(CLI::ExistingFile);
    sub->add_option("--grid", args->grid, "A config key and its values, e.g. --grid front_end.n_mels=64,128 (repeatable)")->required();
    sub->add_option("--cv", args->cv, "Folds of the cross-validation")->capture_default_str()->check(CLI::Range(2, 1000));
    sub->add_option("--data", args->data, "Feature CSV, or for spectrogram configs an audio folder");
    sub->add_option("--set", args->sets, "Override a config key for every combination (repeatable)");
    sub->add_option("--groups", args->groups, "File of track,group lines: each fold keeps a group on one side")->check(CLI::ExistingFile);
    sub->add_option("--csv", args->csv, "Also write the ranked table as CSV");
    sub->add_option("--json", args->json, "Also write the ranked results as JSON");
    sub->add_flag("-q,--quiet", args->quiet, "No progress line or data summary");
    sub->footer("Exit codes: 0 done; 1 bad config, grid key or data; 2 usage.");
    set_runner(sub, [args] { return run(*args); });
}, kOrderTrain + 1);

}  // namespace
}  // namespace genrekit::tools
