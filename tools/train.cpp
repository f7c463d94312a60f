// `genrekit train --config CFG [--data CSV] [--out MODEL] [--set k=v ...]`:
// trains a classifier (on a feature CSV, or on spectrograms of audio folders), prints one line per
// epoch and writes the model (safetensors) plus its epoch log <MODEL>.log.csv.
#include <iostream>

#include "genrekit/train.hpp"
#include "genrekit/json_text.hpp"
#include "tools.hpp"

namespace genrekit::tools {
namespace {
struct Args {
    std::string config, data, out = "model.safetensors";
    std::vector<std::string> sets;
    bool quiet = false;
    int cv = 0;
} args;

AutoRegister reg([](CLI::App& app) {
    auto* sub = app.add_subcommand("train", "Train a genre classifier on a feature CSV (see configs/*.json)");
    sub->add_option("--config", args.config, "Training config (JSON)")->required()->check(CLI::ExistingFile);
    sub->add_option("--data", args.data, "Feature CSV (overrides data.csv); for spectrogram configs an audio folder (overrides data.audio)");
    sub->add_option("--out", args.out, "Model file to write (safetensors)")->capture_default_str();
    sub->add_option("--set", args.sets, "Override a config key, e.g. --set optimizer.lr=0.001 (repeatable)");
    sub->add_flag("--quiet", args.quiet, "Print only the summary");
    sub->add_option("--cv", args.cv, "Stratified K-fold cross-validation on the whole CSV instead of the config's split; writes no model")
        ->check(CLI::Range(2, 1000));
    set_runner(sub, [] {
        TrainConfig cfg = load_train_config(args.config, args.sets);
        if (!args.data.empty()) set_data_path(cfg, args.data);
        auto say = [](const std::string& m) { std::cout << m << "\n" << std::flush; };
        if (args.cv > 0) {
            const CrossValidation cv = cross_validate(cfg, args.cv, [](int fold, const TrainResult& r) {
                std::cout << "fold " << fold + 1 << ": train " << r.split.train.size() << ", valid " << r.split.valid.size() << ", test "
                          << r.split.test.size() << " " << r.unit << ", test " << dump_json(r.metrics["test"]) << "\n" << std::flush;
            }, say);
            std::cout << format_cv_line(cv) << "\n";
            return kExitOk;
        }
        TrainResult r = train(cfg, [](const EpochLog& e) { if (!args.quiet) std::cout << format_epoch_line(e) << "\n" << std::flush; }, say);
        std::cout << format_split_line(r) << "\n";
        r.model.save(args.out);
        write_epoch_log_csv(args.out + ".log.csv", r.history);
        std::cout << "metrics: " << dump_json(r.metrics) << "\n";
        std::cout << "wrote " << args.out << " and " << args.out << ".log.csv\n";
        return kExitOk;
    });
}, kOrderTrain);
}  // namespace
}  // namespace genrekit::tools
