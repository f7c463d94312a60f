// `genrekit train --config CFG [--data CSV] [--out MODEL] [--set k=v ...]`:
// trains a feature-CSV classifier, prints one line per epoch and writes the model
// (safetensors) plus its epoch log <MODEL>.log.csv.
#include <cstdio>
#include <iostream>

#include "genrekit/cnn.hpp"
#include "genrekit/train.hpp"
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
        if (is_spectrogram_config(args.config)) {  // a CNN on spectrograms of audio folders (src/cnn.cpp)
            CnnConfig c = load_cnn_config(args.config, args.sets);
            if (!args.data.empty()) c.audio = {args.data};
            if (args.cv > 0) {
                const CnnCrossValidation cv = cross_validate_cnn(c, args.cv, [](int fold, const CnnTrainResult& r) {
                    std::cout << "fold " << fold + 1 << ": train " << r.train_tracks << ", valid " << r.valid_tracks << ", test " << r.test_tracks
                              << " tracks, test " << r.metrics["test"].dump() << "\n" << std::flush;
                });
                std::printf("%d-fold CV track accuracy: %.4f +- %.4f (mean +- sd over folds; sample sd %.4f)\n", cv.k, cv.mean, cv.sd, cv.sd_sample);
                return kExitOk;
            }
            CnnTrainResult r = train_cnn(c, [](const EpochLog& e) { if (!args.quiet) std::cout << format_epoch_line(e) << "\n" << std::flush; },
                                         [](const std::string& m) { std::cout << m << "\n" << std::flush; });
            r.model.save(args.out);
            write_epoch_log_csv(args.out + ".log.csv", r.history);
            std::cout << "split: train " << r.train_tracks << ", valid " << r.valid_tracks << ", test " << r.test_tracks << " tracks\n";
            std::cout << "metrics: " << r.metrics.dump() << "\n";
            std::cout << "wrote " << args.out << " and " << args.out << ".log.csv\n";
            return kExitOk;
        }
        auto sets = args.sets;
        TrainConfig cfg = load_train_config(args.config, sets);
        if (!args.data.empty()) cfg.data.csv = args.data;
        const FeatureTable table = load_training_table(cfg);
        std::cout << "data: " << table.path << " (" << table.rows() << " rows, " << table.feature_columns.size() << " features, sha256 "
                  << table.sha256.substr(0, 16) << ")\n";
        if (args.cv > 0) {
            const CrossValidation cv = cross_validate(cfg, table, args.cv, [](int fold, const TrainResult& r) {
                std::cout << "fold " << fold + 1 << ": train " << r.split.train.size() << ", valid " << r.split.valid.size() << ", test "
                          << r.split.test.size() << " rows, test " << r.metrics["test"].dump() << "\n" << std::flush;
            });
            std::printf("%d-fold CV accuracy: %.4f +- %.4f (mean +- sd over folds)\n", cv.k, cv.mean, cv.sd);
            return kExitOk;
        }
        TrainResult r = train_model(cfg, table, [](const EpochLog& e) {
            if (!args.quiet) std::cout << format_epoch_line(e) << "\n" << std::flush;
        });
        std::cout << "split: train " << r.split.train.size() << ", valid " << r.split.valid.size() << ", test " << r.split.test.size()
                  << " rows" << (r.split.unassigned ? ", " + std::to_string(r.split.unassigned) + " rows in no list (unused)" : std::string()) << "\n";
        r.model.save(args.out);
        write_epoch_log_csv(args.out + ".log.csv", r.history);
        std::cout << "metrics: " << r.metrics.dump() << "\n";
        std::cout << "wrote " << args.out << " and " << args.out << ".log.csv\n";
        return kExitOk;
    });
}, kOrderTrain);
}  // namespace
}  // namespace genrekit::tools
