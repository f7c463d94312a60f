#include "trainer.hpp"

#include <chrono>
#include <cmath>
#include <cstring>

#include "genrekit/distributed.hpp"
#include "genrekit/error.hpp"
#include "genrekit/nn/conv.hpp"
#include "genrekit/nn/loss.hpp"
#include "genrekit/json_text.hpp"
#include "nn/parallel.hpp"

namespace genrekit::detail {

using json = nlohmann::json;

namespace {

// The L2 penalty of the layers with an l2 > 0, on their multiplicative tensors (conv and dense
// weights, BatchNorm's gamma), then one optimizer step. The optimizer sees only the network's
// trainable buffer: BatchNorm's running statistics live in its other buffer.
class TrainableParams {
public:
    TrainableParams(const nn::Network<float>& net, const std::vector<double>& l2) {
        for (const auto& e : net.tensors())
            if ((e.kind == nn::ParamKind::Weight || e.kind == nn::ParamKind::Scale) && e.layer < l2.size() && l2[e.layer] > 0)
                l2_.emplace_back(e.offset, e.size, static_cast<float>(2 * l2[e.layer]));
    }
    // After backward.
    void step(nn::Optimizer& opt, nn::Network<float>& net) {
        float* P = net.params();
        float* G = net.grads();
        for (const auto& [off, size, k2] : l2_)
            for (std::size_t i = off; i < off + size; ++i) G[i] += k2 * P[i];
        opt.step(P, G, net.num_params());
    }

private:
    std::vector<std::tuple<std::size_t, std::size_t, float>> l2_;
    std::vector<float> saved_;
};

// Gamma(a, 1) by Marsaglia-Tsang (a >= 1; boosted for a < 1). ref: numpy random standard_gamma.
double gamma_sample(nn::Rng& rng, double a) {
    if (a < 1) return gamma_sample(rng, a + 1) * std::pow(std::max(rng.uniform_double(), 1e-300), 1.0 / a);
    const double d = a - 1.0 / 3.0, c = 1.0 / std::sqrt(9 * d);
    while (true) {
        double x, v;
        do {
            x = rng.normal();
            v = 1 + c * x;
        } while (v <= 0);
        v = v * v * v;
        const double u = rng.uniform_double();
        if (u < 1 - 0.0331 * x * x * x * x || std::log(u) < 0.5 * x * x + d * (1 - v + std::log(v))) return d * v;
    }
}

// ref: Zhang et al. 2018 mixup: one lambda ~ Beta(alpha, alpha) per batch, each example mixed
// with a shuffled partner whose class goes to y2. Returns lambda.
float mixup(double alpha, nn::Rng& rng, nn::Mat<float>& xb, std::int64_t n, const std::vector<std::int32_t>& yb, std::vector<std::int32_t>& yb2) {
    const double g1 = gamma_sample(rng, alpha), g2 = gamma_sample(rng, alpha);
    const auto lam = static_cast<float>(g1 / (g1 + g2));
    std::vector<std::int64_t> perm(static_cast<std::size_t>(n));
    for (std::int64_t i = 0; i < n; ++i) perm[static_cast<std::size_t>(i)] = i;
    rng.shuffle(perm);
    nn::Mat<float> mixed(xb.rows(), n);
    for (std::int64_t i = 0; i < n; ++i) {
        const auto j = perm[static_cast<std::size_t>(i)];
        mixed.col(i) = lam * xb.col(i) + (1 - lam) * xb.col(j);
        yb2[static_cast<std::size_t>(i)] = yb[static_cast<std::size_t>(j)];
    }
    xb.leftCols(n) = mixed;
    return lam;
}

// The mixup loss lam CE(y) + (1 - lam) CE(y2), both with label smoothing ls, from the loss and
// gradient of CE(y): dlogits gains (1 - lam)(1 - ls)(e_y - e_y2) / n (the smoothing's uniform
// part is common to both terms).
float mix_loss(float loss, float lam, float ls, nn::MatView<float> p, nn::MatView<float> d, const std::vector<std::int32_t>& yb,
               const std::vector<std::int32_t>& yb2, std::int64_t n) {
    double ce2 = 0, uniform = 0;
    for (std::int64_t i = 0; i < n; ++i) ce2 -= std::log(std::max(p(yb2[static_cast<std::size_t>(i)], i), 1e-30f));
    if (ls > 0)
        for (std::int64_t i = 0; i < n; ++i)
            for (Eigen::Index k = 0; k < p.rows(); ++k) uniform -= std::log(std::max(p(k, i), 1e-30f));
    float loss2 = static_cast<float>(ce2 / static_cast<double>(n));
    if (ls > 0) loss2 = (1 - ls) * loss2 + ls * static_cast<float>(uniform / static_cast<double>(n * p.rows()));
    const float g = (1 - lam) * (1 - ls) / static_cast<float>(n);
    for (std::int64_t i = 0; i < n; ++i) {
        d(yb[static_cast<std::size_t>(i)], i) += g;
        d(yb2[static_cast<std::size_t>(i)], i) -= g;
    }
    return lam * loss + (1 - lam) * loss2;
}

// Whether `now` improves on `best` for a monitor ("val_loss": lower, "val_acc": higher).
bool improves(const std::string& monitor, double now, double best, double min_delta) {
    if (std::isnan(now)) return false;
    if (std::isnan(best)) return true;
    return monitor == "val_acc" ? now > best + min_delta : now < best - min_delta;
}

double monitored(const std::string& monitor, const EpochLog& e) { return monitor == "val_acc" ? e.val_acc : e.val_loss; }

// A "wait for improvement" counter on a monitor (plateau and early stopping).
struct Patience {
    double best = NAN;
    int wait = 0;
    // True when the monitor has not improved for more than `patience` (>= when `inclusive`) epochs.
    bool exhausted(const std::string& monitor, const EpochLog& e, double min_delta, int patience, bool inclusive) {
        if (improves(monitor, monitored(monitor, e), best, min_delta)) {
            best = monitored(monitor, e);
            wait = 0;
            return false;
        }
        ++wait;
        return inclusive ? wait >= patience : wait > patience;
    }
};

// The parameters one run keeps: the keep_best epoch (or the last one), or C snapshots.
class Keeper {
public:
    Keeper(const TrainConfig& cfg, bool has_valid) : cfg_(cfg), has_valid_(has_valid), C_(static_cast<std::size_t>(cfg.ensemble.checkpoints)) {}

    void after_epoch(const EpochLog& e, const nn::Network<float>& net) {
        const std::string& mon = cfg_.checkpoint.monitor;
        if (C_ > 1) {
            // With a validation set the C best epochs by checkpoint.monitor, best first (a later epoch
            // must beat, not tie, to rank higher); without one the last C epochs, newest first.
            const double score = has_valid_ ? monitored(mon, e) : static_cast<double>(e.epoch);
            auto better = [&](double x, double y) { return has_valid_ ? improves(mon, x, y, 0) : x > y; };
            std::size_t pos = 0;  // after every kept snapshot at least as good
            while (pos < snaps_.size() && !better(score, snaps_[pos].score)) ++pos;
            if (pos < C_) {
                snaps_.insert(snaps_.begin() + static_cast<std::ptrdiff_t>(pos), Snapshot{e.epoch, score, params_of(net)});
                if (snaps_.size() > C_) snaps_.pop_back();
            }
        }
        if (cfg_.checkpoint.keep_best && improves(mon, monitored(mon, e), best_, 0)) {
            best_ = monitored(mon, e);
            best_params_ = params_of(net);
            best_epoch_ = e.epoch;
        }
    }

    // Moves the kept parameters out (the network ends holding the single kept one); returns their epochs.
    json finish(nn::Network<float>& net, int epochs_run, std::vector<std::vector<float>>& out, int& best_epoch) {
        json epochs = json::array();
        if (C_ > 1) {
            for (auto& sn : snaps_) {
                epochs.push_back(sn.epoch);
                out.push_back(std::move(sn.params));
            }
            best_epoch = snaps_.front().epoch;
            return epochs;
        }
        if (cfg_.checkpoint.keep_best && !best_params_.empty()) net.restore(best_params_);
        else best_epoch_ = epochs_run;
        out.push_back(params_of(net));
        best_epoch = best_epoch_;
        epochs.push_back(best_epoch_);
        return epochs;
    }

private:
    struct Snapshot {
        int epoch;
        double score;
        std::vector<float> params;
    };
    // Parameters and BatchNorm statistics.
    static std::vector<float> params_of(const nn::Network<float>& net) { return net.snapshot(); }
    const TrainConfig& cfg_;
    bool has_valid_;
    std::size_t C_;
    std::vector<Snapshot> snaps_;
    std::vector<float> best_params_;
    double best_ = NAN;
    int best_epoch_ = 0;
};

}  // namespace

namespace {

// Summed loss and correct count of inference passes over prepared columns, `chunk` at a time.
std::pair<double, std::size_t> loss_correct(nn::Network<float>& net, const Examples& e, std::int64_t chunk) {
    const Eigen::Index K = nn::shape_size(net.output_shape());
    nn::Mat<float> p(K, chunk);
    double loss = 0;
    std::size_t correct = 0;
    for (Eigen::Index c0 = 0; c0 < e.x.cols(); c0 += chunk) {
        const Eigen::Index n = std::min<Eigen::Index>(chunk, e.x.cols() - c0);
        auto logits = net.forward(nn::CMatView<float>(e.x.col(c0).data(), e.x.rows(), n), {});
        loss += static_cast<double>(nn::softmax_cross_entropy_forward<float>(logits, e.y.data() + c0, nn::MatView<float>(p.data(), K, n))) *
                static_cast<double>(n);
        for (Eigen::Index i = 0; i < n; ++i) {
            Eigen::Index arg;
            p.col(i).maxCoeff(&arg);
            correct += arg == e.y[static_cast<std::size_t>(c0 + i)];
        }
    }
    return {loss, correct};
}

// The validation metrics over every rank's share of the validation columns.
LossAcc evaluate_shared(nn::Network<float>& net, const Examples& e, std::int64_t chunk) {
    const auto [loss, correct] = loss_correct(net, e, chunk);
    double v[3] = {loss, static_cast<double>(correct), static_cast<double>(e.x.cols())};
    dist::sum(v, 3);
    if (v[2] == 0) return {};
    return {v[0] / v[2], v[1] / v[2]};
}

// One global batch under mpirun: every rank adds its gradient (already weighted by its share of
// the batch), its BatchNorm statistics and its weighted loss; the sums come back in rank order,
// the same on every rank. Returns the batch's loss. With one process: nothing to exchange.
float exchange(nn::Network<float>& net, float weighted_loss, std::vector<float>& buf) {
    if (dist::size() == 1) return weighted_loss;
    const std::size_t np = net.num_params(), nb = net.num_buffers();
    buf.resize(np + nb + 1);
    std::copy(net.grads(), net.grads() + np, buf.begin());
    std::copy(net.buffers(), net.buffers() + nb, buf.begin() + static_cast<std::ptrdiff_t>(np));
    buf[np + nb] = weighted_loss;
    dist::sum(buf.data(), buf.size());
    std::copy(buf.begin(), buf.begin() + static_cast<std::ptrdiff_t>(np), net.grads());
    // Running statistics: the mean of the ranks' (each ran its own batch statistics).
    const float inv = 1.0f / static_cast<float>(dist::size());
    for (std::size_t i = 0; i < nb; ++i) net.buffers()[i] = buf[np + i] * inv;
    return buf[np + nb];
}

// FNV-1a of the network's parameters and statistics, to check that every rank holds the same one.
std::uint64_t fingerprint(const nn::Network<float>& net) {
    std::uint64_t h = 14695981039346656037ull;
    for (float v : net.snapshot()) {
        std::uint32_t bits;
        std::memcpy(&bits, &v, sizeof bits);
        h = (h ^ bits) * 1099511628211ull;
    }
    return h;
}

}  // namespace

TrainedNetworks train_networks(const TrainConfig& cfg, const json& layers, const nn::Shape& input, const TrainingSet& set,
                               const std::function<void(const EpochLog&)>& on_epoch, const std::function<void(const std::string&)>& on_message) {
    // Threads: split by fixed index ranges inside each layer and the optimizer, so the model is the
    // same whatever cfg.threads is (see simd/nn_kernels.hpp); one pool for the layers and parallel_for.
    nn::set_num_threads(cfg.threads);
    // Under mpirun `set` is this rank's share; N and the validation size are over every rank.
    double sizes[2] = {static_cast<double>(set.train.size()), static_cast<double>(set.valid.size())};
    dist::sum(sizes, 2);
    const auto N = static_cast<std::size_t>(sizes[0]);
    const bool has_valid = sizes[1] > 0;
    const Examples& train = set.train;
    std::vector<float> exchange_buf;
    TrainedNetworks out;
    for (int member = 0; member < cfg.ensemble.members; ++member) {
        nn::Network<float> net(layers, input);
        net.set_pool(nn::shared_pool());
        struct Unset {
            nn::Network<float>& n;
            ~Unset() { n.set_pool(nullptr); }
        } unset{net};
        // Independent streams: initialisation, shuffling, the training pass (dropout), augmentation.
        std::uint64_t sm = cfg.seed + static_cast<std::uint64_t>(member);
        nn::Rng init_rng(nn::splitmix64(sm)), shuffle_rng(nn::splitmix64(sm)), pass_rng(nn::splitmix64(sm)), aug_rng(nn::splitmix64(sm));
        if (dist::rank() > 0) {  // the same initial network on every rank, its own draws for the rest
            std::uint64_t rs = sm + 0x9E3779B97F4A7C15ull * static_cast<std::uint64_t>(dist::rank());
            shuffle_rng.reseed(nn::splitmix64(rs));
            pass_rng.reseed(nn::splitmix64(rs));
            aug_rng.reseed(nn::splitmix64(rs));
        }
        net.init(init_rng);
        auto opt = nn::make_optimizer(cfg.optimizer, net.num_params());
        opt->set_pool(nn::shared_pool());
        TrainableParams trainable(net, cfg.l2);
        const std::int64_t F = train.x.rows(), K = nn::shape_size(net.output_shape());
        const auto B = static_cast<std::int64_t>(std::min<std::size_t>(static_cast<std::size_t>(cfg.batch_size), N));
        nn::Mat<float> xb(F, B), probs(K, B), dlogits(K, B);
        std::vector<std::int32_t> yb(static_cast<std::size_t>(B)), yb2(static_cast<std::size_t>(B));
        std::vector<std::size_t> order(train.size());
        for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
        net.reserve(B);
        const auto ls = static_cast<float>(cfg.label_smoothing);
        std::vector<EpochLog> history;
        Keeper keeper(cfg, has_valid);
        Patience plateau, stopping;
        for (int epoch = 1; epoch <= cfg.epochs; ++epoch) {
            const auto t0 = std::chrono::steady_clock::now();
            shuffle_rng.shuffle(order);
            double loss_sum = 0;
            std::size_t correct = 0;
            // Global batch [g0, g1) of the N examples: this rank takes the same fraction of its own
            // shuffled share (local [N_r g0 / N, N_r g1 / N)), so the ranks' slices add up to the batch.
            auto local = [&](std::size_t g) { return order.size() == N ? g : order.size() * g / N; };
            for (std::size_t g0 = 0; g0 < N; g0 += static_cast<std::size_t>(B)) {
                const std::size_t g1 = std::min(N, g0 + static_cast<std::size_t>(B)), b0 = local(g0);
                if (set.drop_single_last_batch && g1 - g0 < 2 && g0 > 0) break;
                const auto n = static_cast<std::int64_t>(local(g1) - b0);
                net.zero_grad();
                float loss = 0;
                nn::MatView<float> p(probs.data(), K, n), d(dlogits.data(), K, n);
                if (n > 0) {
                    for (std::int64_t i = 0; i < n; ++i) {
                        const std::size_t k = order[b0 + static_cast<std::size_t>(i)];
                        xb.col(i) = train.x.col(static_cast<Eigen::Index>(k));
                        yb[static_cast<std::size_t>(i)] = train.y[k];
                    }
                    if (set.augment) set.augment(aug_rng, xb.data(), n);
                    const float lam = cfg.augment.mixup_alpha > 0 ? mixup(cfg.augment.mixup_alpha, aug_rng, xb, n, yb, yb2) : 1.0f;
                    auto logits = net.forward(nn::CMatView<float>(xb.data(), F, n), {true, &pass_rng});
                    loss = nn::softmax_cross_entropy_forward<float>(logits, yb.data(), p, ls);
                    nn::softmax_cross_entropy_backward<float>(nn::CMatView<float>(probs.data(), K, n), yb.data(), d, ls);
                    if (lam < 1) loss = mix_loss(loss, lam, ls, p, d, yb, yb2, n);
                    const float w = static_cast<float>(n) / static_cast<float>(g1 - g0);  // exactly 1 with one process
                    if (w != 1.0f) d *= w;
                    if (std::isfinite(loss)) net.backward(nn::CMatView<float>(dlogits.data(), K, n));
                    loss_sum += static_cast<double>(loss) * static_cast<double>(n);
                    for (std::int64_t i = 0; i < n; ++i) {
                        Eigen::Index arg;
                        p.col(i).maxCoeff(&arg);
                        correct += arg == yb[static_cast<std::size_t>(i)];
                    }
                    loss *= w;
                }
                if (!std::isfinite(exchange(net, loss, exchange_buf)))
                    throw dist::AgreedError("training diverged at epoch " + std::to_string(epoch) + " (loss is not finite; lower optimizer.lr)");
                trainable.step(*opt, net);
            }
            double sums[2] = {loss_sum, static_cast<double>(correct)};
            dist::sum(sums, 2);
            loss_sum = sums[0];
            correct = static_cast<std::size_t>(sums[1]);
            if (dist::size() > 1 && !dist::same_on_all(fingerprint(net)))  // the same steps everywhere, or a bug
                throw std::logic_error("the ranks hold different networks after epoch " + std::to_string(epoch));
            EpochLog e;
            e.member = member;
            e.epoch = epoch;
            e.loss = loss_sum / static_cast<double>(N);
            e.acc = static_cast<double>(correct) / static_cast<double>(N);
            e.lr = opt->lr();
            if (has_valid) {
                const LossAcc v = evaluate_shared(net, set.valid, set.eval_chunk);
                e.val_loss = v.loss;
                e.val_acc = v.acc;
            }
            e.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
            history.push_back(e);
            if (on_epoch) on_epoch(e);  // every seed's epochs
            keeper.after_epoch(e, net);
            // ref: torch.optim.lr_scheduler.ReduceLROnPlateau(threshold=0 (abs), cooldown=0): after `patience`
            // epochs without improvement, lr = max(lr * factor, min_lr) and the wait restarts.
            const auto& pc = cfg.reduce_lr_on_plateau;
            if (pc.enabled && plateau.exhausted(pc.monitor, e, 0, pc.patience, false)) {
                opt->set_lr(std::max(opt->lr() * pc.factor, pc.min_lr));
                plateau.wait = 0;
            }
            const auto& es = cfg.early_stopping;
            if (es.enabled && stopping.exhausted(es.monitor, e, es.min_delta, es.patience, true)) break;
        }
        int best_epoch = 0;
        const json epochs = keeper.finish(net, static_cast<int>(history.size()), out.params, best_epoch);
        out.kept_epochs.push_back(epochs);
        if (member == 0) {
            out.history = history;
            out.best_epoch = best_epoch;
        }
        if (on_message && cfg.ensemble.checkpoints > 1)
            on_message("seed " + std::to_string(cfg.seed + static_cast<std::uint64_t>(member)) + ": kept the parameters of epochs " + dump_json(epochs) +
                       (has_valid ? " (best " + cfg.checkpoint.monitor + " first)" : " (the last epochs, newest first)"));
        if (on_message && cfg.ensemble.members > 1)
            on_message("ensemble member " + std::to_string(member + 1) + "/" + std::to_string(cfg.ensemble.members) + " done");
    }
    return out;
}

}  // namespace genrekit::detail
