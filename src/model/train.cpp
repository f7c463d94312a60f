#include "genrekit/train.hpp"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <set>
#include <sstream>

#include "genrekit/atomic_file.hpp"
#include "genrekit/error.hpp"
#include "genrekit/nn/loss.hpp"
#include "genrekit/nn/optim.hpp"
#include "genrekit/nn/rng.hpp"
#include "nn/thread_pool.hpp"
#include "genrekit/sha256.hpp"

namespace genrekit {

using json = nlohmann::json;

FeatureTable load_training_table(const TrainConfig& cfg) {
    if (cfg.data.csv.empty()) throw Error("config: data.csv is empty (give --data CSV or set data.csv)");
    CsvReadOptions o;
    o.label_column = cfg.data.label_column;
    o.file_column = cfg.data.file_column;
    o.feature_columns = cfg.data.feature_columns;
    o.exclude = cfg.data.exclude_columns;
    return read_feature_csv(cfg.data.csv, o);
}

namespace {

// Normalised features as float columns (F x rows), the layout the network takes.
nn::Mat<float> normalised_columns(const Normalizer& norm, const FeatureTable& t, const std::vector<std::size_t>& rows) {
    nn::Mat<float> x(t.features.cols(), static_cast<Eigen::Index>(rows.size()));
    for (std::size_t i = 0; i < rows.size(); ++i)
        norm.apply(t.features.row(static_cast<Eigen::Index>(rows[i])).data(), x.col(static_cast<Eigen::Index>(i)).data());
    return x;
}

struct LossAcc {
    double loss = NAN, acc = NAN;
};

// Inference-mode loss/accuracy over pre-normalised columns, in chunks.
LossAcc evaluate_columns(nn::Network<float>& net, const nn::Mat<float>& x, const std::vector<std::int32_t>& y) {
    if (x.cols() == 0) return {};
    const Eigen::Index K = nn::shape_size(net.output_shape()), chunk = 256;
    nn::Mat<float> p(K, chunk);
    double loss = 0;
    std::size_t correct = 0;
    for (Eigen::Index c0 = 0; c0 < x.cols(); c0 += chunk) {
        const Eigen::Index n = std::min(chunk, x.cols() - c0);
        auto logits = net.forward(nn::CMatView<float>(x.col(c0).data(), x.rows(), n), {});
        loss += static_cast<double>(nn::softmax_cross_entropy_forward<float>(logits, y.data() + c0, nn::MatView<float>(p.data(), K, n))) *
                static_cast<double>(n);
        for (Eigen::Index i = 0; i < n; ++i) {
            Eigen::Index arg;
            p.col(i).maxCoeff(&arg);
            correct += arg == y[static_cast<std::size_t>(c0 + i)];
        }
    }
    return {loss / static_cast<double>(x.cols()), static_cast<double>(correct) / static_cast<double>(x.cols())};
}

// Whether `now` improves on `best` for a monitor ("val_loss": lower, "val_acc": higher).
bool improves(const std::string& monitor, double now, double best, double min_delta) {
    if (std::isnan(now)) return false;
    if (std::isnan(best)) return true;
    return monitor == "val_acc" ? now > best + min_delta : now < best - min_delta;
}

double monitored(const std::string& monitor, const EpochLog& e) { return monitor == "val_acc" ? e.val_acc : e.val_loss; }

std::string rows_digest(const FeatureTable& t, const std::vector<std::size_t>& rows) {
    Sha256 h;
    for (auto r : rows) {
        h.update(t.files[r].data(), t.files[r].size());
        h.update("\n", 1);
    }
    return h.hex();
}

}  // namespace

json evaluate_rows(const Model& model, const FeatureTable& t, const std::vector<std::size_t>& rows, bool segmented) {
    if (rows.empty()) return json();
    RowMatrixXd raw(static_cast<Eigen::Index>(rows.size()), t.features.cols());
    for (std::size_t i = 0; i < rows.size(); ++i) raw.row(static_cast<Eigen::Index>(i)) = t.features.row(static_cast<Eigen::Index>(rows[i]));
    const RowMatrixXd p = model.predict_proba(raw);
    double loss = 0;
    std::size_t correct = 0;
    std::map<std::string, std::pair<Eigen::RowVectorXd, int>> per_track;
    const auto tracks = track_ids(t.files, segmented);
    for (std::size_t i = 0; i < rows.size(); ++i) {
        const int y = model.label_index(t.labels[rows[i]]);
        if (y < 0) throw Error(t.path + ":" + std::to_string(t.lines[rows[i]]) + ": label '" + t.labels[rows[i]] + "' is not one the model knows");
        const auto row = p.row(static_cast<Eigen::Index>(i));
        loss -= std::log(std::max(row(y), 1e-300));
        Eigen::Index arg;
        row.maxCoeff(&arg);
        correct += arg == y;
        auto& tr = per_track[tracks[rows[i]]];
        if (tr.first.size() == 0) tr = {Eigen::RowVectorXd::Zero(p.cols()), y};
        tr.first += row;
    }
    json j = {{"rows", rows.size()}, {"loss", loss / static_cast<double>(rows.size())},
              {"accuracy", static_cast<double>(correct) / static_cast<double>(rows.size())}};
    if (segmented) {
        std::size_t tc = 0;
        for (const auto& [k, v] : per_track) {
            Eigen::Index arg;
            v.first.maxCoeff(&arg);
            tc += arg == v.second;
        }
        j["tracks"] = per_track.size();
        j["track_accuracy"] = static_cast<double>(tc) / static_cast<double>(per_track.size());
    }
    return j;
}

TrainResult train_model(const TrainConfig& cfg, const FeatureTable& t, const std::function<void(const EpochLog&)>& on_epoch) {
    // Labels: sorted distinct values of the whole table (so a split never changes the class order).
    std::set<std::string> label_set(t.labels.begin(), t.labels.end());
    std::vector<std::string> labels(label_set.begin(), label_set.end());
    std::map<std::string, int> index;
    for (std::size_t i = 0; i < labels.size(); ++i) index[labels[i]] = static_cast<int>(i);
    std::vector<int> classes;
    for (const auto& l : t.labels) classes.push_back(index[l]);

    std::string mode = cfg.front_end.mode;
    if (mode == "auto") mode = detect_front_end_mode(t.files);
    const bool segmented = mode == "3s";
    Split split = make_split(t, classes, cfg.split, segmented);

    if (split.train.empty()) throw Error(t.path + ": the training set is empty (check the split configuration and the file names)");
    std::set<int> train_classes;
    for (auto r : split.train) train_classes.insert(classes[r]);
    if (train_classes.size() < 2)
        throw Error(t.path + ": the training set has only one class ('" + labels[static_cast<std::size_t>(*train_classes.begin())] +
                    "'); a classifier needs at least two");
    const bool has_valid = !split.valid.empty();
    if (!has_valid && (cfg.early_stopping.enabled || cfg.reduce_lr_on_plateau.enabled || cfg.checkpoint.keep_best))
        throw Error("config: early_stopping, reduce_lr_on_plateau and checkpoint.keep_best monitor the validation set, but the split has none "
                    "(set split.valid > 0 or split.valid_lists)");

    Normalizer norm = Normalizer::fit(cfg.normalization, t.features, split.train, t.feature_columns);
    // A final dense layer without "units" gets one unit per class.
    json layers = cfg.layers;
    if (layers.is_array() && !layers.empty() && layers.back().is_object() && layers.back().value("type", "") == "dense" &&
        !layers.back().contains("units"))
        layers.back()["units"] = labels.size();
    json front_end = {{"kind", cfg.front_end.kind}, {"sample_rate", cfg.front_end.sample_rate}, {"mode", mode}};
    Model model(layers, labels, t.feature_columns, norm, front_end);
    auto& net = model.network();

    std::uint64_t sm = cfg.seed;
    nn::Rng init_rng(nn::splitmix64(sm)), shuffle_rng(nn::splitmix64(sm)), dropout_rng(nn::splitmix64(sm));
    net.init(init_rng);
    auto opt = nn::make_optimizer(cfg.optimizer, net.num_params());
    // Threads: split by fixed index ranges inside each layer and the optimizer, so the model is the
    // same whatever cfg.threads is (AVX2 kernels; see nn/kernels.hpp).
    nn::ThreadPool pool(cfg.threads);
    struct Unset {
        nn::Network<float>& n;
        ~Unset() { n.set_pool(nullptr); }
    } unset{net};
    net.set_pool(&pool);
    opt->set_pool(&pool);

    const nn::Mat<float> x_train = normalised_columns(norm, t, split.train);
    const nn::Mat<float> x_valid = normalised_columns(norm, t, split.valid);
    std::vector<std::int32_t> y_train, y_valid;
    for (auto r : split.train) y_train.push_back(classes[r]);
    for (auto r : split.valid) y_valid.push_back(classes[r]);

    const Eigen::Index F = x_train.rows(), K = static_cast<Eigen::Index>(labels.size());
    const auto B = static_cast<Eigen::Index>(std::min<std::size_t>(static_cast<std::size_t>(cfg.batch_size), split.train.size()));
    nn::Mat<float> xb(F, B), probs(K, B), dlogits(K, B);
    std::vector<std::int32_t> yb(static_cast<std::size_t>(B));
    std::vector<std::size_t> order(split.train.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    net.reserve(B);

    TrainResult res{std::move(model), {}, split, 0, json::object()};
    std::vector<float> best_params;
    double best_ckpt = NAN, best_es = NAN, best_plateau = NAN;
    int es_wait = 0, plateau_wait = 0;
    for (int epoch = 1; epoch <= cfg.epochs; ++epoch) {
        const auto t0 = std::chrono::steady_clock::now();
        shuffle_rng.shuffle(order);
        double loss_sum = 0;
        std::size_t correct = 0;
        for (std::size_t b0 = 0; b0 < order.size(); b0 += static_cast<std::size_t>(B)) {
            const auto n = static_cast<Eigen::Index>(std::min<std::size_t>(static_cast<std::size_t>(B), order.size() - b0));
            for (Eigen::Index i = 0; i < n; ++i) {
                const std::size_t k = order[b0 + static_cast<std::size_t>(i)];
                xb.col(i) = x_train.col(static_cast<Eigen::Index>(k));
                yb[static_cast<std::size_t>(i)] = y_train[k];
            }
            net.zero_grad();
            auto logits = net.forward(nn::CMatView<float>(xb.data(), F, n), {true, &dropout_rng});
            nn::MatView<float> p(probs.data(), K, n);
            const auto ls = static_cast<float>(cfg.label_smoothing);
            const float loss = nn::softmax_cross_entropy_forward<float>(logits, yb.data(), p, ls);
            if (!std::isfinite(loss)) throw Error("training diverged at epoch " + std::to_string(epoch) + " (loss is not finite; lower optimizer.lr)");
            nn::softmax_cross_entropy_backward<float>(nn::CMatView<float>(probs.data(), K, n), yb.data(), nn::MatView<float>(dlogits.data(), K, n), ls);
            net.backward(nn::CMatView<float>(dlogits.data(), K, n));
            opt->step(net.params(), net.grads(), net.num_params());
            loss_sum += static_cast<double>(loss) * static_cast<double>(n);
            for (Eigen::Index i = 0; i < n; ++i) {
                Eigen::Index arg;
                p.col(i).maxCoeff(&arg);
                correct += arg == yb[static_cast<std::size_t>(i)];
            }
        }
        EpochLog e;
        e.epoch = epoch;
        e.loss = loss_sum / static_cast<double>(order.size());
        e.acc = static_cast<double>(correct) / static_cast<double>(order.size());
        e.lr = opt->lr();
        if (has_valid) {
            const LossAcc v = evaluate_columns(net, x_valid, y_valid);
            e.val_loss = v.loss;
            e.val_acc = v.acc;
        }
        e.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        res.history.push_back(e);
        if (on_epoch) on_epoch(e);

        if (cfg.checkpoint.keep_best && improves(cfg.checkpoint.monitor, monitored(cfg.checkpoint.monitor, e), best_ckpt, 0)) {
            best_ckpt = monitored(cfg.checkpoint.monitor, e);
            best_params = net.snapshot();  // parameters and BatchNorm statistics
            res.best_epoch = epoch;
        }
        if (cfg.reduce_lr_on_plateau.enabled) {
            // ref: torch.optim.lr_scheduler.ReduceLROnPlateau(threshold=0 (abs), cooldown=0): after `patience`
            // epochs without improvement, lr = max(lr * factor, min_lr) and the wait restarts.
            const auto& pc = cfg.reduce_lr_on_plateau;
            if (improves(pc.monitor, monitored(pc.monitor, e), best_plateau, 0)) {
                best_plateau = monitored(pc.monitor, e);
                plateau_wait = 0;
            } else if (++plateau_wait > pc.patience) {
                opt->set_lr(std::max(opt->lr() * pc.factor, pc.min_lr));
                plateau_wait = 0;
            }
        }
        if (cfg.early_stopping.enabled) {
            const auto& es = cfg.early_stopping;
            if (improves(es.monitor, monitored(es.monitor, e), best_es, es.min_delta)) {
                best_es = monitored(es.monitor, e);
                es_wait = 0;
            } else if (++es_wait >= es.patience) {
                break;
            }
        }
    }
    if (cfg.checkpoint.keep_best && !best_params.empty()) net.restore(best_params);
    else res.best_epoch = static_cast<int>(res.history.size());

    json m = json::object();
    m["train"] = evaluate_rows(res.model, t, split.train, segmented);
    if (!split.valid.empty()) m["valid"] = evaluate_rows(res.model, t, split.valid, segmented);
    if (!split.test.empty()) m["test"] = evaluate_rows(res.model, t, split.test, segmented);
    m["best_epoch"] = res.best_epoch;
    m["epochs_run"] = res.history.size();
    res.metrics = m;

    json cfg_json = json::parse(to_json(cfg).dump());
    res.model.info()["config"] = cfg_json;
    res.model.info()["metrics"] = m;
    res.model.info()["training_data"] = {
        {"csv", t.path}, {"csv_sha256", t.sha256}, {"rows_total", t.rows()},
        {"rows", {{"train", split.train.size()}, {"valid", split.valid.size()}, {"test", split.test.size()}, {"unassigned", split.unassigned}}},
        {"train_rows_sha256", rows_digest(t, split.train)}, {"valid_rows_sha256", rows_digest(t, split.valid)},
        {"test_rows_sha256", rows_digest(t, split.test)}};
    return res;
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

CrossValidation cross_validate(const TrainConfig& cfg, const FeatureTable& t, int k,
                               const std::function<void(int, const TrainResult&)>& on_fold) {
    CrossValidation cv;
    cv.k = k;
    for (int fold = 0; fold < k; ++fold) {
        const TrainResult r = train_model(cv_fold_config(cfg, k, fold), t);
        const json& test = r.metrics.at("test");
        cv.accuracy.push_back(test.contains("track_accuracy") ? test["track_accuracy"].get<double>() : test["accuracy"].get<double>());
        cv.test_rows.push_back(r.split.test.size());
        if (on_fold) on_fold(fold, r);
    }
    const FoldSpread spread = fold_spread(cv.accuracy);
    cv.mean = spread.mean;
    cv.sd = spread.sd;
    return cv;
}

std::string format_epoch_line(const EpochLog& e) {
    char buf[256];
    std::snprintf(buf, sizeof buf, "epoch %4d  loss %.4f  acc %.4f  val_loss %.4f  val_acc %.4f  lr %.3g  %.2fs", e.epoch, e.loss, e.acc,
                  e.val_loss, e.val_acc, e.lr, e.seconds);
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
