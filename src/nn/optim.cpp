#include "genrekit/nn/optim.hpp"

#include <Eigen/Core>

#include <cmath>

#include "genrekit/error.hpp"
#include "simd/nn_kernels.hpp"

namespace genrekit::nn {
namespace {

// ref: torch.optim.SGD (dampening 0, nesterov False):
//   g += wd * p;  buf = g on the first step, else buf = momentum * buf + g;  p -= lr * buf
class Sgd final : public Optimizer {
public:
    Sgd(const OptimizerParams& o, std::size_t n) : Optimizer(o.lr), wd_(static_cast<float>(o.weight_decay)), mom_(static_cast<float>(o.momentum)) {
        if (mom_ != 0) buf_.assign(n, 0.0f);
    }
    void step(float* p, const float* g, std::size_t n) override {
        const float lr = static_cast<float>(lr_), wd = wd_, mom = mom_;
        const bool first = t_ == 0;
        ++t_;
        if (mom == 0) {
            for (std::size_t i = 0; i < n; ++i) p[i] -= lr * (g[i] + wd * p[i]);
            return;
        }
        float* b = buf_.data();
        for (std::size_t i = 0; i < n; ++i) {
            const float gi = g[i] + wd * p[i];
            b[i] = first ? gi : mom * b[i] + gi;
            p[i] -= lr * b[i];
        }
    }

private:
    float wd_, mom_;
    std::vector<float> buf_;
};

// ref: torch.optim.Adam (amsgrad False) and torch.optim.AdamW:
//   adam:  g += wd * p              adamw: p -= lr * wd * p   (decoupled)
//   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g^2
//   p -= (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)    (eps added after the bias correction)
class Adam final : public Optimizer {
public:
    Adam(const OptimizerParams& o, std::size_t n, bool decoupled)
        : Optimizer(o.lr), o_(o), decoupled_(decoupled), m_(n, 0.0f), v_(n, 0.0f) {}
    void step(float* p, const float* g, std::size_t n) override {
        ++t_;
        const double bc1 = 1.0 - std::pow(o_.beta1, static_cast<double>(t_));
        const double bc2 = 1.0 - std::pow(o_.beta2, static_cast<double>(t_));
        const float step_size = static_cast<float>(lr_ / bc1);
        const float inv_sqrt_bc2 = static_cast<float>(1.0 / std::sqrt(bc2));
        const float b1 = static_cast<float>(o_.beta1), b2 = static_cast<float>(o_.beta2);
        const float eps = static_cast<float>(o_.eps);
        const float wd = static_cast<float>(o_.weight_decay);
        const float decay = static_cast<float>(1.0 - lr_ * o_.weight_decay);
        const kernels::AdamArgs args{b1, b2, step_size, inv_sqrt_bc2, eps, wd, decay, decoupled_ ? 2 : wd != 0.0f ? 1 : 0};
        if (kernels::adam_step(p, g, m_.data(), v_.data(), static_cast<kernels::Index>(n), args, pool_)) return;
        // Whole-buffer Eigen array expressions: vectorised (including sqrt), no temporaries.
        const auto len = static_cast<Eigen::Index>(n);
        Eigen::Map<Eigen::ArrayXf> P(p, len), M(m_.data(), len), V(v_.data(), len);
        Eigen::Map<const Eigen::ArrayXf> G(g, len);
        if (decoupled_) {
            P *= decay;
            M = b1 * M + (1.0f - b1) * G;
            V = b2 * V + (1.0f - b2) * G.square();
        } else if (wd != 0.0f) {
            M = b1 * M + (1.0f - b1) * (G + wd * P);
            V = b2 * V + (1.0f - b2) * (G + wd * P).square();
        } else {
            M = b1 * M + (1.0f - b1) * G;
            V = b2 * V + (1.0f - b2) * G.square();
        }
        P -= step_size * M / (V.sqrt() * inv_sqrt_bc2 + eps);
    }

private:
    OptimizerParams o_;
    bool decoupled_;
    std::vector<float> m_, v_;
};

// ref: torch.optim.RMSprop (centered False):
//   g += wd * p;  v = alpha v + (1 - alpha) g^2;  avg = sqrt(v) + eps   (eps OUTSIDE the sqrt)
//   momentum > 0: buf = momentum buf + g / avg;  p -= lr * buf     else p -= lr * g / avg
class RmsProp final : public Optimizer {
public:
    RmsProp(const OptimizerParams& o, std::size_t n) : Optimizer(o.lr), o_(o), v_(n, 0.0f) {
        if (o.momentum != 0) buf_.assign(n, 0.0f);
    }
    void step(float* p, const float* g, std::size_t n) override {
        ++t_;
        const float lr = static_cast<float>(lr_), a = static_cast<float>(o_.alpha), eps = static_cast<float>(o_.eps);
        const float wd = static_cast<float>(o_.weight_decay), mom = static_cast<float>(o_.momentum);
        float* v = v_.data();
        for (std::size_t i = 0; i < n; ++i) {
            const float gi = g[i] + wd * p[i];
            v[i] = a * v[i] + (1.0f - a) * gi * gi;
            const float upd = gi / (std::sqrt(v[i]) + eps);
            if (mom != 0) {
                buf_[i] = mom * buf_[i] + upd;
                p[i] -= lr * buf_[i];
            } else {
                p[i] -= lr * upd;
            }
        }
    }

private:
    OptimizerParams o_;
    std::vector<float> v_, buf_;
};

}  // namespace

std::unique_ptr<Optimizer> make_optimizer(const OptimizerParams& o, std::size_t n) {
    require_param(o.lr > 0 && std::isfinite(o.lr), "optimizer.lr", o.lr, "> 0");
    require_param(o.weight_decay >= 0, "optimizer.weight_decay", o.weight_decay, ">= 0");
    require_param(o.momentum >= 0 && o.momentum < 1, "optimizer.momentum", o.momentum, "[0, 1)");
    require_param(o.beta1 >= 0 && o.beta1 < 1, "optimizer.beta1", o.beta1, "[0, 1)");
    require_param(o.beta2 >= 0 && o.beta2 < 1, "optimizer.beta2", o.beta2, "[0, 1)");
    require_param(o.alpha >= 0 && o.alpha < 1, "optimizer.alpha", o.alpha, "[0, 1)");
    require_param(o.eps > 0, "optimizer.eps", o.eps, "> 0");
    if (o.type == "sgd") return std::make_unique<Sgd>(o, n);
    if (o.type == "adam") return std::make_unique<Adam>(o, n, false);
    if (o.type == "adamw") return std::make_unique<Adam>(o, n, true);
    if (o.type == "rmsprop") return std::make_unique<RmsProp>(o, n);
    throw Error("optimizer.type: unknown '" + o.type + "' (allowed: sgd, adam, adamw, rmsprop)");
}

}  // namespace genrekit::nn
