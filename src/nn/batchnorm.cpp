// BatchNorm (declared in genrekit/nn/conv.hpp): per-channel batch statistics while training,
// running statistics (in the network's non-trainable buffers) at inference.
#include <algorithm>
#include <cmath>

#include "genrekit/error.hpp"
#include "genrekit/nn/conv.hpp"
#include "nn/parallel.hpp"

namespace genrekit::nn {

namespace {

// Both sums of a (sample, channel) block in one pass over 16 lanes: lane l adds elements l, l+16,
// l+32, ... in order (lanes are independent, so the result does not depend on the vector width
// Eigen picks), then the lanes and the tail are added in double in a fixed order.
constexpr int kLanes = 16;
template <typename T>
using Lanes = Eigen::Array<T, kLanes, 1>;

template <typename T>
double lane_total(const Lanes<T>& a) {
    double s = 0;
    for (int l = 0; l < kLanes; ++l) s += static_cast<double>(a[l]);
    return s;
}

// With u = a - ka and v = b - kb over n values: su += sum u, suv += sum u * v. The statistics
// are (x, k, x, k); the gradient sums (dy, 0, x, mean).
template <typename T>
void sum_and_product(const T* a, T ka, const T* b, T kb, std::int64_t n, double& su, double& suv) {
    Lanes<T> s = Lanes<T>::Zero(), p = Lanes<T>::Zero();
    std::int64_t i = 0;
    for (; i + kLanes <= n; i += kLanes) {
        const Lanes<T> u = Eigen::Map<const Lanes<T>>(a + i) - ka;
        s += u;
        p += u * (Eigen::Map<const Lanes<T>>(b + i) - kb);
    }
    double ts = lane_total(s), tp = lane_total(p);
    for (; i < n; ++i) {
        const double u = static_cast<double>(a[i] - ka);
        ts += u;
        tp += u * static_cast<double>(b[i] - kb);
    }
    su += ts;
    suv += tp;
}

}  // namespace

template <typename T>
Shape BatchNorm<T>::setup(const Shape& in) {
    if (in.empty() || in[0] < 1) throw Error("batchnorm layer: empty input shape " + shape_str(in));
    C_ = in[0];
    HW_ = shape_size(in) / C_;
    mean_.assign(static_cast<std::size_t>(C_), T(0));
    inv_std_.assign(static_cast<std::size_t>(C_), T(1));
    return in;
}

template <typename T>
std::vector<ParamSpec> BatchNorm<T>::param_specs() const {
    // The names and order of PyTorch's BatchNorm state_dict (the model files keep them).
    return {{"weight", {C_}, ParamKind::Scale},
            {"bias", {C_}, ParamKind::Shift},
            {"running_mean", {C_}, ParamKind::Buffer},
            {"running_var", {C_}, ParamKind::Buffer}};
}

template <typename T>
void BatchNorm<T>::bind(T* params, T* grads) {
    gamma_ = params;
    beta_ = params + C_;
    dgamma_ = grads;
    dbeta_ = grads + C_;
}

template <typename T>
void BatchNorm<T>::bind_buffers(T* buffers) {
    rmean_ = buffers;
    rvar_ = buffers + C_;
}

template <typename T>
void BatchNorm<T>::init_params(Rng&) {
    // ref: torch.nn.BatchNorm2d.reset_parameters: weight 1, bias 0, running_mean 0, running_var 1.
    std::fill(gamma_, gamma_ + C_, T(1));
    std::fill(beta_, beta_ + C_, T(0));
    std::fill(rmean_, rmean_ + C_, T(0));
    std::fill(rvar_, rvar_ + C_, T(1));
}

template <typename T>
void BatchNorm<T>::forward(CMatView<T> x, MatView<T> y, const Pass& pass) {
    const std::int64_t N = x.cols(), F = C_ * HW_;
    last_training_ = pass.training;
    const double M = static_cast<double>(N * HW_);
    using Vec = Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>>;
    using VecW = Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>>;
    if (pass.training && N * HW_ < 2)
        throw Error("batchnorm: training needs more than one value per channel (a batch of at least 2 samples)");
    parallel_for(C_, [&](std::int64_t c0, std::int64_t c1, int) {
        for (std::int64_t c = c0; c < c1; ++c) {
            if (pass.training) {
                // One pass: sums of (x - k) and (x - k)^2 per (sample, channel) block, shifted by a value of
                // the channel, k, so that var = E[(x-k)^2] - E[x-k]^2 does not cancel catastrophically.
                const T k = x.data()[c * HW_];
                double s = 0, ss = 0;
                for (std::int64_t n = 0; n < N; ++n) {
                    const T* xn = x.data() + n * F + c * HW_;
                    sum_and_product(xn, k, xn, k, HW_, s, ss);
                }
                const double shifted_mean = s / M, mean = static_cast<double>(k) + shifted_mean;
                const double var = std::max(0.0, ss / M - shifted_mean * shifted_mean);
                mean_[c] = static_cast<T>(mean);
                inv_std_[c] = static_cast<T>(1.0 / std::sqrt(var + eps_));
                // ref: torch.nn.functional.batch_norm: running = (1 - momentum) running + momentum batch,
                // with the unbiased variance (M / (M - 1)) for running_var.
                rmean_[c] = static_cast<T>((1 - momentum_) * static_cast<double>(rmean_[c]) + momentum_ * mean);
                rvar_[c] = static_cast<T>((1 - momentum_) * static_cast<double>(rvar_[c]) + momentum_ * var * M / (M - 1));
            } else {
                mean_[c] = rmean_[c];
                inv_std_[c] = static_cast<T>(1.0 / std::sqrt(static_cast<double>(rvar_[c]) + eps_));
            }
            const T scale = gamma_[c] * inv_std_[c], shift = beta_[c] - mean_[c] * scale;
            for (std::int64_t n = 0; n < N; ++n)
                VecW(y.data() + n * F + c * HW_, HW_) = Vec(x.data() + n * F + c * HW_, HW_) * scale + shift;
        }
    });
}

template <typename T>
void BatchNorm<T>::backward(CMatView<T> x, CMatView<T>, CMatView<T> dy, T* dx) {
    const std::int64_t N = x.cols(), F = C_ * HW_;
    const double M = static_cast<double>(N * HW_);
    using Vec = Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>>;
    using VecW = Eigen::Map<Eigen::Array<T, Eigen::Dynamic, 1>>;
    parallel_for(C_, [&](std::int64_t c0, std::int64_t c1, int) {
        for (std::int64_t c = c0; c < c1; ++c) {
            const T mean = mean_[c], is = inv_std_[c];
            double sdy = 0, sdyx = 0;  // sum dy, sum dy * xhat
            for (std::int64_t n = 0; n < N; ++n)
                sum_and_product(dy.data() + n * F + c * HW_, T(0), x.data() + n * F + c * HW_, mean, HW_, sdy, sdyx);
            sdyx *= static_cast<double>(is);
            dgamma_[c] += static_cast<T>(sdyx);
            dbeta_[c] += static_cast<T>(sdy);
            if (!dx) continue;
            const T g = gamma_[c] * is;
            if (!last_training_) {
                for (std::int64_t n = 0; n < N; ++n) VecW(dx + n * F + c * HW_, HW_) = Vec(dy.data() + n * F + c * HW_, HW_) * g;
                continue;
            }
            // dx = gamma * inv_std * (dy - mean(dy) - xhat * mean(dy * xhat))
            const T a = static_cast<T>(sdy / M), b = static_cast<T>(sdyx / M) * is;
            for (std::int64_t n = 0; n < N; ++n)
                VecW(dx + n * F + c * HW_, HW_) = (Vec(dy.data() + n * F + c * HW_, HW_) - a - (Vec(x.data() + n * F + c * HW_, HW_) - mean) * b) * g;
        }
    });
}

template class BatchNorm<float>;
template class BatchNorm<double>;

}  // namespace genrekit::nn
