// `genrekit train --config CFG [--data CSV] [--out MODEL] [--set k=v ...]`:
// trains a classifier (on a feature CSV, or on spectrograms of audio folders), prints a table of
// the epochs that improved (every epoch with --verbose) and a progress line with the time left,
// and writes the model (safetensors) plus its epoch log <MODEL>.log.csv and curves <MODEL>.curves.svg.
#include <cmath>
#include <iostream>

#include "genrekit/atomic_file.hpp"
#include "genrekit/distributed.hpp"
#include "genrekit/plot.hpp"
#include "genrekit/train.hpp"
#include "progress.hpp"
#include "genrekit/json_text.hpp"
#include "tools.hpp"

namespace genrekit::tools {
namespace {
struct Args {
    std::string config, data, groups, out = "model.safetensors";
    std::vector<std::string> sets;
    bool quiet = false, verbose = false;
    int cv = 0;
} args;

// The epoch table: every epoch with --verbose, else per member the epochs that improved on the
// monitor (checkpoint.monitor with a validation set; without one the training accuracy, by at
// least 0.02, since the training loss falls almost every epoch) and the last epoch.
class EpochTable {
public:
    EpochTable(const TrainConfig& cfg, bool verbose, ProgressLine& progress) : cfg_(cfg), verbose_(verbose), progress_(progress) {}
    void add(const EpochLog& e) {
        if (e.member != last_.member) finish();
        const bool valid = !std::isnan(e.val_loss);
        const std::string& mon = cfg_.checkpoint.monitor;
        const double v = !valid ? -e.acc : mon == "val_acc" ? -e.val_acc : e.val_loss;  // lower is better
        const bool better = std::isnan(best_) || v < best_ - (valid ? 0.0 : 0.02);
        if (better) best_ = v;
        last_ = e;
        printed_ = false;
        if (verbose_ || better) print(e, verbose_ && better ? "  *" : "");
    }
    // The last epoch of the member, when it was not printed.
    void finish() {
        if (last_.epoch > 0 && !printed_) print(last_, "  (last)");
        best_ = NAN;
    }

private:
    void print(const EpochLog& e, const std::string& tag) {
        progress_.clear();
        if (!header_)
            std::cout << format_epoch_header(cfg_.ensemble.members) << (verbose_ ? "" : "   (epochs that improved " + what_of(e) + ", and the last)") << "\n";
        header_ = printed_ = true;
        std::cout << format_epoch_line(e, cfg_.ensemble.members) << tag << "\n" << std::flush;
    }
    std::string what_of(const EpochLog& e) const { return std::isnan(e.val_loss) ? "acc by 0.02" : cfg_.checkpoint.monitor; }
    const TrainConfig& cfg_;
    bool verbose_, header_ = false, printed_ = false;
    ProgressLine& progress_;
    EpochLog last_{-1};
    double best_ = NAN;
};

std::string epoch_status(const TrainConfig& cfg, const EpochLog& e) {
    std::string s = cfg.ensemble.members > 1 ? "member " + std::to_string(e.member + 1) + "/" + std::to_string(cfg.ensemble.members) + "  " : "";
    return s + "epoch " + std::to_string(e.epoch) + "/" + std::to_string(cfg.epochs) + "  ";
}

// Results go to stdout; the progress line (stderr) is cleared before each.
void say(ProgressLine& progress, const std::string& line) {
    progress.clear();
    std::cout << line << "\n" << std::flush;
}

int run_cv(const TrainConfig& cfg) {
    ProgressLine progress(!args.quiet);
    EpochCount count(static_cast<double>(args.cv) * cfg.ensemble.members * cfg.epochs);
    int fold = 0;
    const CrossValidation cv = cross_validate(
        cfg, args.cv,
        [&](int f, const TrainResult& r) {
            fold = f + 1;
            say(progress, "fold " + std::to_string(f + 1) + ": train " + std::to_string(r.split.train.size()) + ", valid " +
                              std::to_string(r.split.valid.size()) + ", test " + std::to_string(r.split.test.size()) + " " + r.unit + ", test " +
                              dump_json(r.metrics["test"]));
        },
        [&](const std::string& m) { say(progress, m); },
        [&](const EpochLog& e) {
            const double f = count.fraction(e.epoch, cfg.epochs);
            progress.show("fold " + std::to_string(fold + 1) + "/" + std::to_string(args.cv) + "  " + epoch_status(cfg, e) + progress.timing(f));
        });
    say(progress, "folds " + cv.grouping);
    std::cout << format_cv_line(cv) << "\n";
    return kExitOk;
}

AutoRegister reg([](CLI::App& app) {
    auto* sub = app.add_subcommand("train", "Train a genre classifier on a feature CSV (see configs/*.json)");
    sub->add_option("--config", args.config, "Training config (JSON)")->required()->check(CLI::ExistingFile);
    sub->add_option("--data", args.data, "Feature CSV (overrides data.csv); for spectrogram configs an audio folder (overrides data.audio)");
    sub->add_option("--out", args.out, "Model file to write (safetensors)")->capture_default_str();
    sub->add_option("--set", args.sets, "Override a config key, e.g. --set optimizer.lr=0.001 (repeatable)");
    sub->add_option("--groups", args.groups, "File of track,group lines: splits and --cv keep each group on one side (split.group_file)")
        ->check(CLI::ExistingFile);
    sub->add_flag("--quiet", args.quiet, "Print only the summary");
    sub->add_flag("--verbose", args.verbose, "Print every epoch (default: the epochs that improved)");
    sub->add_option("--cv", args.cv, "Stratified K-fold cross-validation on the whole CSV instead of the config's split; writes no model")
        ->check(CLI::Range(2, 1000));
    set_runner(sub, [] {
        TrainConfig cfg = load_train_config(args.config, args.sets);
        if (!args.data.empty()) set_data_path(cfg, args.data);
        if (!args.groups.empty()) set_group_file(cfg, args.groups);
        // Under mpirun every rank trains its share; rank 0 alone speaks and writes the model.
        const bool lead = dist::rank() == 0;
        if (!lead) {
            std::cout.setstate(std::ios::failbit);
            args.quiet = true;
        }
        if (args.cv > 0) return run_cv(cfg);
        ProgressLine progress(!args.quiet);
        EpochTable table(cfg, args.verbose, progress);
        EpochCount count(static_cast<double>(cfg.ensemble.members) * cfg.epochs);
        TrainResult r = train(
            cfg,
            [&](const EpochLog& e) {
                if (args.quiet) return;
                table.add(e);
                progress.show(epoch_status(cfg, e) + progress.timing(count.fraction(e.epoch, cfg.epochs)));
            },
            [&](const std::string& m) {
                if (!args.quiet) table.finish();  // the member's last epoch before "member done"
                say(progress, m);
            });
        progress.clear();
        if (!args.quiet) table.finish();
        std::cout << format_split_line(r) << "\n";
        if (!lead) return kExitOk;
        r.model.save(args.out);
        write_epoch_log_csv(args.out + ".log.csv", r.history);
        write_file_atomic(args.out + ".curves.svg", training_curves_svg(r.history, curve_marks(r), args.out));
        std::cout << "metrics: " << dump_json(r.metrics) << "\n";
        std::cout << "wrote " << args.out << ", " << args.out << ".log.csv and " << args.out << ".curves.svg\n";
        return kExitOk;
    });
}, kOrderTrain);
}  // namespace
}  // namespace genrekit::tools
