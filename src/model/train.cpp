#include "genrekit/train.hpp"

#include <cmath>
#include <cstdio>
#include <set>
#include <sstream>

#include "data_source.hpp"
#include "genrekit/atomic_file.hpp"
#include "genrekit/error.hpp"
#include "trainer.hpp"

namespace genrekit {

using json = nlohmann::json;

namespace {

TrainResult train_on(const TrainConfig& cfg, const detail::DataSource& data, const EpochCallback& on_epoch, const MessageCallback& on_message) {
    const Split split = data.split(cfg.split);
    if (split.train.empty()) throw Error(data.source() + ": the training set is empty (check the split configuration and the file names)");
    std::set<int> train_classes;
    for (auto i : split.train) train_classes.insert(data.item_class(i));
    if (train_classes.size() < 2)
        throw Error(data.source() + ": the training set has only one class ('" + data.labels()[static_cast<std::size_t>(*train_classes.begin())] +
                    "'); a classifier needs at least two");
    if (split.valid.empty() && (cfg.early_stopping.enabled || cfg.reduce_lr_on_plateau.enabled || cfg.checkpoint.keep_best))
        throw Error("config: early_stopping, reduce_lr_on_plateau and checkpoint.keep_best monitor the validation set, but the split has none "
                    "(set split.valid > 0 or split.valid_lists)");

    const FrontEnd fe = data.fit_front_end(cfg, split);
    // A final dense layer without "units" gets one unit per class.
    json layers = cfg.layers;
    if (layers.is_array() && !layers.empty() && layers.back().is_object() && layers.back().value("type", "") == "dense" &&
        !layers.back().contains("units"))
        layers.back()["units"] = data.labels().size();
    Model(layers, data.labels(), fe, 1);  // checks the architecture before any training
    const Split mine = data.share(split);  // this process's items (all of them without mpirun)
    const detail::TrainingSet set = data.examples(cfg, fe, mine);
    detail::TrainedNetworks nets = detail::train_networks(cfg, layers, fe.input_shape(), set, on_epoch, on_message);

    Model model(layers, data.labels(), fe, static_cast<int>(nets.params.size()));
    for (std::size_t k = 0; k < nets.params.size(); ++k) model.network(static_cast<int>(k)).restore(nets.params[k]);
    json m = json::object();
    m["best_epoch"] = nets.best_epoch;
    m["epochs_run"] = nets.history.size();
    const auto& e = cfg.ensemble;
    if (e.members > 1 || e.checkpoints > 1)  // kept_epochs: per seed, the epoch of each member in file order
        m["ensemble"] = {{"members", e.members}, {"checkpoints", e.checkpoints}, {"networks", nets.params.size()}, {"kept_epochs", nets.kept_epochs},
                         {"kept_by", e.checkpoints == 1 ? std::string("single") : !split.valid.empty() ? cfg.checkpoint.monitor : std::string("last")}};
    m["train"] = detail::sum_scores(data.score(model, mine.train));
    if (!split.valid.empty()) m["valid"] = detail::sum_scores(data.score(model, mine.valid));
    if (!split.test.empty()) m["test"] = detail::sum_scores(data.score(model, mine.test));
    model.info()["config"] = stored_config(cfg);
    model.info()["metrics"] = m;
    model.info()["training_data"] = data.provenance(split, set);
    return TrainResult{std::move(model), std::move(nets.history), split, data.unit(), nets.best_epoch, m};
}

}  // namespace

namespace detail {
CrossValidation cross_validate_on(const TrainConfig& cfg, const DataSource& data, int k, const FoldCallback& on_fold, const EpochCallback& on_epoch) {
    CrossValidation cv;
    cv.k = k;
    cv.measure = std::string(data.unit()) == "tracks" ? "track accuracy" : "accuracy";
    for (int fold = 0; fold < k; ++fold) {
        const TrainConfig fc = cv_fold_config(cfg, k, fold);
        const TrainResult r = train_on(fc, data, on_epoch, {});
        if (fold == 0) cv.grouping = describe_grouping(fc.split, r.split);
        const json& test = r.metrics.at("test");
        cv.accuracy.push_back(test.contains("track_accuracy") ? test["track_accuracy"].get<double>() : test["accuracy"].get<double>());
        cv.test_items.push_back(r.split.test.size());
        if (on_fold) on_fold(fold, r);
    }
    const FoldSpread spread = fold_spread(cv.accuracy);
    cv.mean = spread.mean;
    cv.sd = spread.sd;
    cv.sd_sample = spread.sd_sample;
    return cv;
}
}  // namespace detail

FeatureTable load_training_table(const TrainConfig& cfg) {
    if (cfg.data.csv.empty()) throw Error("config: data.csv is empty (give --data CSV or set data.csv)");
    CsvReadOptions o;
    o.label_column = cfg.data.label_column;
    o.file_column = cfg.data.file_column;
    o.feature_columns = cfg.data.feature_columns;
    o.exclude = cfg.data.exclude_columns;
    o.group_column = cfg.split.group_column;
    return read_feature_csv(cfg.data.csv, o);
}

TrainResult train(const TrainConfig& cfg, const EpochCallback& on_epoch, const MessageCallback& on_message) {
    const auto data = detail::DataSource::load(cfg);
    if (on_message) on_message(data->describe());
    return train_on(cfg, *data, on_epoch, on_message);
}

TrainResult train(const TrainConfig& cfg, const FeatureTable& table, const EpochCallback& on_epoch, const MessageCallback& on_message) {
    if (cfg.spectrogram) throw Error("train: a spectrogram config trains on audio, not on a feature table");
    const auto data = detail::DataSource::of_table(cfg, table);
    return train_on(cfg, *data, on_epoch, on_message);
}

std::string format_split_line(const TrainResult& r) {
    const std::string unassigned = r.split.unassigned ? ", " + std::to_string(r.split.unassigned) + " " + r.unit + " in no list (unused)" : "";
    return "split: train " + std::to_string(r.split.train.size()) + ", valid " + std::to_string(r.split.valid.size()) + ", test " +
           std::to_string(r.split.test.size()) + " " + r.unit + unassigned;
}

TrainConfig cv_fold_config(const TrainConfig& cfg, int k, int fold) {
    if (k < 2) throw Error("--cv: K must be >= 2, got " + std::to_string(k));
    TrainConfig c = cfg;
    c.split.kind = "kfold";
    c.split.k = k;
    c.split.fold = fold;
    c.split.stratified = true;
    c.split.test = 0;
    const bool needs_valid = cfg.early_stopping.enabled || cfg.reduce_lr_on_plateau.enabled || cfg.checkpoint.keep_best;
    c.split.valid = needs_valid ? (cfg.split.kind != "lists" && cfg.split.valid > 0 ? cfg.split.valid : 0.1) : 0.0;
    if (c.spectrogram)  // the document stored in the model says which fold it is
        c.resolved["split"] = {{"kind", "kfold"}, {"k", k}, {"fold", fold}, {"valid", c.split.valid}, {"seed", c.split.seed}};
    return c;
}

FoldSpread fold_spread(const std::vector<double>& accuracy) {
    FoldSpread s;
    const auto k = static_cast<double>(accuracy.size());
    if (accuracy.empty()) return s;
    double sum = 0, ss = 0;
    for (double a : accuracy) sum += a;
    s.mean = sum / k;
    for (double a : accuracy) ss += (a - s.mean) * (a - s.mean);
    s.sd = std::sqrt(ss / k);
    s.sd_sample = accuracy.size() > 1 ? std::sqrt(ss / (k - 1)) : 0.0;
    return s;
}

CrossValidation cross_validate(const TrainConfig& cfg, int k, const FoldCallback& on_fold, const MessageCallback& on_message,
                               const EpochCallback& on_epoch) {
    if (k < 2) throw Error("--cv: k must be >= 2");
    const auto data = detail::DataSource::load(cfg);
    if (on_message) on_message(data->describe());
    return detail::cross_validate_on(cfg, *data, k, on_fold, on_epoch);
}

CrossValidation cross_validate(const TrainConfig& cfg, const FeatureTable& table, int k, const FoldCallback& on_fold) {
    const auto data = detail::DataSource::of_table(cfg, table);
    return detail::cross_validate_on(cfg, *data, k, on_fold, {});
}

std::string format_cv_line(const CrossValidation& cv) {
    char buf[256];
    std::snprintf(buf, sizeof buf, "%d-fold CV %s: %.4f +- %.4f (mean +- sd over folds; sample sd %.4f)", cv.k, cv.measure.c_str(), cv.mean, cv.sd,
                  cv.sd_sample);
    return buf;
}

std::string format_epoch_header(int members) {
    return std::string(members > 1 ? "member " : "") + "epoch    loss     acc  val_loss  val_acc        lr  seconds";
}

std::string format_epoch_line(const EpochLog& e, int members) {
    char buf[256];
    const int n = members > 1 ? std::snprintf(buf, sizeof buf, "%6d ", e.member + 1) : 0;
    std::snprintf(buf + n, sizeof buf - static_cast<std::size_t>(n), "%5d  %6.4f  %6.4f  %8.4f  %7.4f  %8.3g  %7.2f", e.epoch, e.loss, e.acc, e.val_loss,
                  e.val_acc, e.lr, e.seconds);
    return buf;
}

void write_epoch_log_csv(const std::string& path, const std::vector<EpochLog>& history) {
    std::ostringstream s;
    s << "epoch,loss,acc,val_loss,val_acc,lr,seconds\n";
    for (const auto& e : history)
        s << e.epoch << ',' << format_number(e.loss) << ',' << format_number(e.acc) << ',' << (std::isnan(e.val_loss) ? "" : format_number(e.val_loss))
          << ',' << (std::isnan(e.val_acc) ? "" : format_number(e.val_acc)) << ',' << format_number(e.lr) << ',' << format_number(e.seconds) << '\n';
    write_file_atomic(path, s.str());
}

}  // namespace genrekit
