#include "genrekit/nn/conv.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "simd/gemm.hpp"
#include "nn/layer_spec.hpp"
#include "genrekit/error.hpp"
#include "simd/nn_kernels.hpp"
#include "nn/parallel.hpp"

namespace genrekit::nn {

using json = nlohmann::json;

bool is_buffer_param(const std::string& name) {
    auto ends = [&](const char* s) {
        const std::size_t n = std::strlen(s);
        return name.size() >= n && name.compare(name.size() - n, n, s) == 0;
    };
    return ends("running_mean") || ends("running_var");
}

std::string conv_kernel_name() { return detail::gemm_kernel_name(); }

namespace {

std::string int_list(std::int64_t a, std::int64_t b) { return a == b ? std::to_string(a) : "[" + std::to_string(a) + "," + std::to_string(b) + "]"; }

json pair_json(std::int64_t a, std::int64_t b) { return a == b ? json(a) : json::array({a, b}); }

std::int64_t out_size(std::int64_t in, std::int64_t k, std::int64_t s, std::int64_t pad) { return (in + 2 * pad - k) / s + 1; }

void need_image(const Shape& in, const std::string& what) {
    if (in.size() != 3 || in[0] < 1 || in[1] < 1 || in[2] < 1)
        throw Error(what + ": needs an image-like input {C, H, W}, got " + shape_str(in) + " (spectrogram models take {1, bands, frames})");
}

}  // namespace

// ---------------------------------------------------------------- Conv2D

template <typename T>
json Conv2D<T>::to_json() const {
    json j = {{"type", "conv2d"}, {"channels", s_.channels}, {"kernel", pair_json(s_.kh, s_.kw)}, {"stride", pair_json(s_.sh, s_.sw)}};
    j["padding"] = s_.same ? json("same") : pair_json(s_.ph, s_.pw);
    j["bias"] = s_.bias;
    j["init"] = s_.init;
    return j;
}

template <typename T>
Shape Conv2D<T>::setup(const Shape& in) {
    need_image(in, "conv2d layer");
    C_ = in[0];
    H_ = in[1];
    W_ = in[2];
    Ho_ = out_size(H_, s_.kh, s_.sh, s_.ph);
    Wo_ = out_size(W_, s_.kw, s_.sw, s_.pw);
    if (H_ + 2 * s_.ph < s_.kh || W_ + 2 * s_.pw < s_.kw || Ho_ < 1 || Wo_ < 1)
        throw Error("conv2d layer: kernel " + int_list(s_.kh, s_.kw) + " does not fit the input " + shape_str(in) + " with padding " +
                    int_list(s_.ph, s_.pw) + " (the input is too small at this depth: use less pooling or a longer segment)");
    return {s_.channels, Ho_, Wo_};
}

template <typename T>
std::vector<ParamSpec> Conv2D<T>::param_specs() const {
    std::vector<ParamSpec> p = {{"weight", {s_.channels, C_, s_.kh, s_.kw}}};
    if (s_.bias) p.push_back({"bias", {s_.channels}});
    return p;
}

template <typename T>
void Conv2D<T>::bind(T* params, T* grads) {
    const std::int64_t nw = s_.channels * C_ * s_.kh * s_.kw;
    w_ = params;
    dw_ = grads;
    b_ = s_.bias ? params + nw : nullptr;
    db_ = s_.bias ? grads + nw : nullptr;
}

template <typename T>
void Conv2D<T>::init_params(Rng& rng) {
    const double k = static_cast<double>(s_.kh * s_.kw);
    init_weights<T>(s_.init, static_cast<double>(C_) * k, static_cast<double>(s_.channels) * k, rng, w_, s_.channels * C_ * s_.kh * s_.kw, b_,
                    s_.channels);
}

// col (R x Q), column-major, for the output rows [ho0, ho1): R = (ho1 - ho0)*Wo output positions,
// Q = C*kh*kw taps; col(r, q) is the input value under tap q for output position ho0*Wo + r (0 in
// the padding). ref: Caffe im2col_cpu (the same memory read as Q x R).
template <typename T>
void Conv2D<T>::im2col(const T* x, T* col, std::int64_t ho0, std::int64_t ho1) const {
    const std::int64_t R = (ho1 - ho0) * Wo_;
    for (std::int64_t c = 0; c < C_; ++c)
        for (std::int64_t i = 0; i < s_.kh; ++i)
            for (std::int64_t j = 0; j < s_.kw; ++j) {
                T* dst = col + ((c * s_.kh + i) * s_.kw + j) * R - ho0 * Wo_;
                // Output columns wo whose input column wo*sw - pw + j lies in [0, W).
                const std::int64_t off = j - s_.pw;
                const std::int64_t lo = std::clamp<std::int64_t>(off >= 0 ? 0 : (-off + s_.sw - 1) / s_.sw, 0, Wo_);
                const std::int64_t hi = std::clamp<std::int64_t>(W_ - 1 - off < 0 ? 0 : (W_ - 1 - off) / s_.sw + 1, lo, Wo_);
                for (std::int64_t ho = ho0; ho < ho1; ++ho) {
                    T* row = dst + ho * Wo_;
                    const std::int64_t h = ho * s_.sh - s_.ph + i;
                    if (h < 0 || h >= H_) {
                        std::fill(row, row + Wo_, T(0));
                        continue;
                    }
                    const T* src = x + (c * H_ + h) * W_ + off;
                    std::fill(row, row + lo, T(0));
                    if (s_.sw == 1) std::copy(src + lo, src + hi, row + lo);
                    else
                        for (std::int64_t wo = lo; wo < hi; ++wo) row[wo] = src[wo * s_.sw];
                    std::fill(row + hi, row + Wo_, T(0));
                }
            }
}

// Adds col (R x Q, as im2col lays out the output rows [ho0, ho1)) back onto the input positions.
template <typename T>
void Conv2D<T>::col2im(const T* col, T* dx, std::int64_t ho0, std::int64_t ho1) const {
    const std::int64_t R = (ho1 - ho0) * Wo_;
    for (std::int64_t c = 0; c < C_; ++c)
        for (std::int64_t i = 0; i < s_.kh; ++i)
            for (std::int64_t j = 0; j < s_.kw; ++j) {
                const T* src = col + ((c * s_.kh + i) * s_.kw + j) * R - ho0 * Wo_;
                const std::int64_t off = j - s_.pw;
                const std::int64_t lo = std::clamp<std::int64_t>(off >= 0 ? 0 : (-off + s_.sw - 1) / s_.sw, 0, Wo_);
                const std::int64_t hi = std::clamp<std::int64_t>(W_ - 1 - off < 0 ? 0 : (W_ - 1 - off) / s_.sw + 1, lo, Wo_);
                for (std::int64_t ho = ho0; ho < ho1; ++ho) {
                    const std::int64_t h = ho * s_.sh - s_.ph + i;
                    if (h < 0 || h >= H_) continue;
                    const T* row = src + ho * Wo_;
                    T* d = dx + (c * H_ + h) * W_ + off;
                    if (s_.sw == 1)
                        for (std::int64_t wo = lo; wo < hi; ++wo) d[wo] += row[wo];
                    else
                        for (std::int64_t wo = lo; wo < hi; ++wo) d[wo * s_.sw] += row[wo];
                }
            }
}

// Output rows per im2col block: the block (rows * Wo x Q) stays within about 256 KB, in the
// core's L2 between the copy and the product (a whole sample's is 9x its input: 2.4 MB at
// 16 x 64 x 65), at the cost of a few more, smaller products.
template <typename T>
std::int64_t Conv2D<T>::block_rows() const {
    constexpr std::int64_t kBlockValues = (256 << 10) / static_cast<std::int64_t>(sizeof(float));
    return std::clamp<std::int64_t>(kBlockValues / std::max<std::int64_t>(1, Wo_ * C_ * s_.kh * s_.kw), 1, Ho_);
}

template <typename T>
void Conv2D<T>::forward(CMatView<T> x, MatView<T> y, const Pass&) {
    const std::int64_t P = Ho_ * Wo_, Q = C_ * s_.kh * s_.kw, Co = s_.channels, F = C_ * H_ * W_;
    const bool direct = s_.kh == 1 && s_.kw == 1 && s_.sh == 1 && s_.sw == 1 && s_.ph == 0 && s_.pw == 0;
    const std::int64_t rows = block_rows();
    scratch_.resize(static_cast<std::size_t>(num_threads()));
    parallel_for(x.cols(), [&](std::int64_t n0, std::int64_t n1, int w) {
        auto& s = scratch_[static_cast<std::size_t>(w)];
        if (!direct) s.col.resize(static_cast<std::size_t>(rows * Wo_ * Q));
        for (std::int64_t n = n0; n < n1; ++n) {
            const T* xn = x.data() + n * F;
            T* yn = y.data() + n * Co * P;
            for (std::int64_t co = 0; co < Co; ++co) std::fill(yn + co * P, yn + (co + 1) * P, b_ ? b_[co] : T(0));
            if (direct) {
                detail::gemm(false, false, P, Co, Q, xn, P, w_, Q, yn, P, true);
                continue;
            }
            for (std::int64_t ho0 = 0; ho0 < Ho_; ho0 += rows) {  // Y[rows block] (R x Co) += col W^T
                const std::int64_t ho1 = std::min(Ho_, ho0 + rows), R = (ho1 - ho0) * Wo_;
                im2col(xn, s.col.data(), ho0, ho1);
                detail::gemm(false, false, R, Co, Q, s.col.data(), R, w_, Q, yn + ho0 * Wo_, P, true);
            }
        }
    });
}

template <typename T>
void Conv2D<T>::backward(CMatView<T> x, CMatView<T>, CMatView<T> dy, T* dx) {
    const std::int64_t P = Ho_ * Wo_, Q = C_ * s_.kh * s_.kw, Co = s_.channels, F = C_ * H_ * W_;
    const bool direct = s_.kh == 1 && s_.kw == 1 && s_.sh == 1 && s_.sw == 1 && s_.ph == 0 && s_.pw == 0;
    const std::int64_t rows = block_rows();
    scratch_.resize(static_cast<std::size_t>(num_threads()));
    parallel_for(x.cols(), [&](std::int64_t n0, std::int64_t n1, int w) {
        auto& s = scratch_[static_cast<std::size_t>(w)];
        // Worker 0 adds straight into the gradients; the others into their own, summed below in worker order.
        T* dwa = dw_;
        T* dba = db_;
        if (w > 0) {
            s.dw.assign(static_cast<std::size_t>(Q * Co), T(0));
            s.db.assign(static_cast<std::size_t>(Co), T(0));
            s.used = true;
            dwa = s.dw.data();
            dba = s.db.data();
        }
        if (!direct) s.col.resize(static_cast<std::size_t>(rows * Wo_ * Q));
        if (dx && !direct) s.dcol.resize(static_cast<std::size_t>(rows * Wo_ * Q));
        for (std::int64_t n = n0; n < n1; ++n) {
            const T* xn = x.data() + n * F;
            const T* dyn = dy.data() + n * Co * P;
            if (dba)
                for (std::int64_t co = 0; co < Co; ++co)
                    dba[co] += Eigen::Map<const Eigen::Matrix<T, Eigen::Dynamic, 1>>(dyn + co * P, P).sum();
            if (direct) {
                detail::gemm(true, false, Q, Co, P, xn, P, dyn, P, dwa, Q, true);  // dW^T (Q x Co) += X^T dY
                if (dx) detail::gemm(false, true, P, Q, Co, dyn, P, w_, Q, dx + n * F, P, false);
                continue;
            }
            T* dxn = dx ? dx + n * F : nullptr;
            if (dxn) std::fill(dxn, dxn + F, T(0));
            for (std::int64_t ho0 = 0; ho0 < Ho_; ho0 += rows) {
                const std::int64_t ho1 = std::min(Ho_, ho0 + rows), R = (ho1 - ho0) * Wo_;
                im2col(xn, s.col.data(), ho0, ho1);
                detail::gemm(true, false, Q, Co, R, s.col.data(), R, dyn + ho0 * Wo_, P, dwa, Q, true);  // dW^T += col^T dY[block]
                if (dxn) {
                    detail::gemm(false, true, R, Q, Co, dyn + ho0 * Wo_, P, w_, Q, s.dcol.data(), R, false);  // dcol = dY[block] W
                    col2im(s.dcol.data(), dxn, ho0, ho1);
                }
            }
        }
    });
    for (std::size_t w = 1; w < scratch_.size(); ++w) {
        auto& s = scratch_[w];
        if (!s.used) continue;
        s.used = false;
        for (std::int64_t i = 0; i < Q * Co; ++i) dw_[i] += s.dw[static_cast<std::size_t>(i)];
        if (db_)
            for (std::int64_t i = 0; i < Co; ++i) db_[i] += s.db[static_cast<std::size_t>(i)];
    }
}

// ---------------------------------------------------------------- pooling

template <typename T>
json Pool2D<T>::to_json() const {
    return {{"type", type()}, {"size", pair_json(kh_, kw_)}, {"stride", pair_json(sh_, sw_)}};
}

template <typename T>
Shape Pool2D<T>::setup(const Shape& in) {
    need_image(in, type() + " layer");
    C_ = in[0];
    H_ = in[1];
    W_ = in[2];
    if (H_ < kh_ || W_ < kw_)
        throw Error(type() + " layer: window " + int_list(kh_, kw_) + " is larger than the input " + shape_str(in) +
                    " (too much pooling for this input size: use a longer segment or fewer pooling layers)");
    Ho_ = (H_ - kh_) / sh_ + 1;
    Wo_ = (W_ - kw_) / sw_ + 1;
    return {C_, Ho_, Wo_};
}

template <typename T>
void Pool2D<T>::forward(CMatView<T> x, MatView<T> y, const Pass&) {
    const std::int64_t F = C_ * H_ * W_, O = C_ * Ho_ * Wo_, N = x.cols();
    if (max_) argmax_.resize(static_cast<std::size_t>(O * N));
    parallel_for(N, [&](std::int64_t n0, std::int64_t n1, int) {
        for (std::int64_t n = n0; n < n1; ++n) {
            const T* xn = x.data() + n * F;
            T* yn = y.data() + n * O;
            std::int32_t* an = max_ ? argmax_.data() + n * O : nullptr;
            if (max_ && kh_ == 2 && kw_ == 2 && sh_ == 2 && sw_ == 2) {  // the common case, branch-light
                for (std::int64_t c = 0; c < C_; ++c)
                    for (std::int64_t ho = 0; ho < Ho_; ++ho) {
                        const std::int64_t r0 = (c * H_ + 2 * ho) * W_;
                        const std::int64_t o0 = (c * Ho_ + ho) * Wo_;
                        kernels::maxpool2x2_row(xn + r0, xn + r0 + W_, r0, W_, Wo_, yn + o0, an + o0);
                    }
            } else {
                pool_sample(xn, yn, an);
            }
            // The absorbed ReLU on this sample's window maxima: max(0, .) as Activation computes it.
            if (relu_) MatView<T>(yn, O, 1).array() = MatView<T>(yn, O, 1).array().max(T(0));
        }
    });
}

// Any window and stride: the first maximum (max) or the mean (avg) of each window.
template <typename T>
void Pool2D<T>::pool_sample(const T* xn, T* yn, std::int32_t* an) const {
    const T inv = T(1) / static_cast<T>(kh_ * kw_);
    for (std::int64_t c = 0; c < C_; ++c)
        for (std::int64_t ho = 0; ho < Ho_; ++ho)
            for (std::int64_t wo = 0; wo < Wo_; ++wo) {
                const std::int64_t base = (c * H_ + ho * sh_) * W_ + wo * sw_;
                const std::int64_t o = (c * Ho_ + ho) * Wo_ + wo;
                if (max_) {
                    std::int64_t best = base;
                    T m = xn[base];
                    for (std::int64_t i = 0; i < kh_; ++i)
                        for (std::int64_t j = 0; j < kw_; ++j) {
                            const std::int64_t k = base + i * W_ + j;
                            if (xn[k] > m) {  // ref: PyTorch CPU max_pool2d: the first maximum
                                m = xn[k];
                                best = k;
                            }
                        }
                    yn[o] = m;
                    an[o] = static_cast<std::int32_t>(best);
                } else {
                    T sum = 0;
                    for (std::int64_t i = 0; i < kh_; ++i)
                        for (std::int64_t j = 0; j < kw_; ++j) sum += xn[base + i * W_ + j];
                    yn[o] = sum * inv;
                }
            }
}

template <typename T>
void Pool2D<T>::backward(CMatView<T> x, CMatView<T> y, CMatView<T> dy, T* dx) {
    if (!dx) return;
    const std::int64_t F = C_ * H_ * W_, O = C_ * Ho_ * Wo_, N = x.cols();
    const T inv = T(1) / static_cast<T>(kh_ * kw_);
    parallel_for(N, [&](std::int64_t n0, std::int64_t n1, int) {
        for (std::int64_t n = n0; n < n1; ++n) {
            T* dxn = dx + n * F;
            const T* dyn = dy.data() + n * O;
            std::fill(dxn, dxn + F, T(0));
            if (max_) {
                const std::int32_t* an = argmax_.data() + n * O;
                if (relu_) {  // the absorbed ReLU's gradient: times [y > 0], the product Activation's backward takes
                    const T* yn = y.data() + n * O;
                    for (std::int64_t o = 0; o < O; ++o) dxn[an[o]] += dyn[o] * static_cast<T>(yn[o] > T(0));
                } else {
                    for (std::int64_t o = 0; o < O; ++o) dxn[an[o]] += dyn[o];
                }
                continue;
            }
            for (std::int64_t c = 0; c < C_; ++c)
                for (std::int64_t ho = 0; ho < Ho_; ++ho)
                    for (std::int64_t wo = 0; wo < Wo_; ++wo) {
                        const T g = dyn[(c * Ho_ + ho) * Wo_ + wo] * inv;
                        const std::int64_t base = (c * H_ + ho * sh_) * W_ + wo * sw_;
                        for (std::int64_t i = 0; i < kh_; ++i)
                            for (std::int64_t j = 0; j < kw_; ++j) dxn[base + i * W_ + j] += g;
                    }
        }
    });
}

// ---------------------------------------------------------------- global average pool

template <typename T>
Shape GlobalAvgPool<T>::setup(const Shape& in) {
    if (in.size() < 2) throw Error("global_avg_pool layer: needs an input {C, H, W} (or {C, L}), got " + shape_str(in));
    C_ = in[0];
    HW_ = shape_size(in) / C_;
    return {C_};
}

template <typename T>
void GlobalAvgPool<T>::forward(CMatView<T> x, MatView<T> y, const Pass&) {
    // Each sample's column read as (HW x C): the column means are the channel means.
    const T inv = T(1) / static_cast<T>(HW_);
    for (Eigen::Index n = 0; n < x.cols(); ++n)
        y.col(n) = CMatView<T>(x.col(n).data(), HW_, C_).colwise().sum().transpose() * inv;
}

template <typename T>
void GlobalAvgPool<T>::backward(CMatView<T> x, CMatView<T>, CMatView<T> dy, T* dx) {
    if (!dx) return;
    const T inv = T(1) / static_cast<T>(HW_);
    for (Eigen::Index n = 0; n < x.cols(); ++n) {
        MatView<T> d(dx + n * C_ * HW_, HW_, C_);
        d.rowwise() = dy.col(n).transpose() * inv;
    }
}

// ---------------------------------------------------------------- batch norm

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
    return {{"weight", {C_}}, {"bias", {C_}}, {"running_mean", {C_}}, {"running_var", {C_}}};
}

template <typename T>
void BatchNorm<T>::bind(T* params, T* grads) {
    gamma_ = params;
    beta_ = params + C_;
    rmean_ = params + 2 * C_;
    rvar_ = params + 3 * C_;
    dgamma_ = grads;
    dbeta_ = grads + C_;
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

// ---------------------------------------------------------------- factory

std::vector<std::string> cnn_layer_types() { return {"avgpool2d", "batchnorm", "conv2d", "flatten", "global_avg_pool", "maxpool2d"}; }

template <typename T>
std::unique_ptr<Layer<T>> make_cnn_layer(const json& spec, const std::string& where) {
    const detail::LayerSpec r{spec, where};
    const std::string type = spec.at("type").get<std::string>();
    if (type == "conv2d") {
        r.only({"channels", "kernel", "stride", "padding", "bias", "init"});
        typename Conv2D<T>::Spec s;
        if (!spec.contains("channels")) throw Error(where + ": missing key 'channels'");
        s.channels = r.pair("channels", 1, 1).first;
        if (spec["channels"].is_array()) throw Error(where + ".channels: must be an integer");
        std::tie(s.kh, s.kw) = r.pair("kernel", 3, 1);
        std::tie(s.sh, s.sw) = r.pair("stride", 1, 1);
        if (spec.contains("padding") && spec["padding"].is_string()) {
            if (spec["padding"] != "same") throw Error(where + ".padding: must be an integer, [h, w] or \"same\", got " + spec["padding"].dump());
            if (s.kh % 2 == 0 || s.kw % 2 == 0 || s.sh != 1 || s.sw != 1)
                throw Error(where + ".padding: \"same\" needs an odd kernel and stride 1");
            s.same = true;
            s.ph = s.kh / 2;
            s.pw = s.kw / 2;
        } else {
            std::tie(s.ph, s.pw) = r.pair("padding", 0, 0);
        }
        if (spec.contains("bias")) {
            if (!spec["bias"].is_boolean()) throw Error(where + ".bias: must be true or false, got " + spec["bias"].dump());
            s.bias = spec["bias"].get<bool>();
        }
        s.init = r.init(s.init);
        return std::make_unique<Conv2D<T>>(s);
    }
    if (type == "maxpool2d" || type == "avgpool2d") {
        r.only({"size", "stride"});
        const auto [kh, kw] = r.pair("size", 2, 1);
        auto [sh, sw] = r.pair("stride", 0, 1);
        if (!spec.contains("stride")) sh = kh, sw = kw;
        return std::make_unique<Pool2D<T>>(type == "maxpool2d", kh, kw, sh, sw);
    }
    if (type == "global_avg_pool") {
        r.only({});
        return std::make_unique<GlobalAvgPool<T>>();
    }
    if (type == "batchnorm") {
        r.only({"momentum", "eps"});
        return std::make_unique<BatchNorm<T>>(r.number("momentum", 0.1, 0.0, 1.0 + 1e-12, detail::LayerSpec::Open),
                                              r.number("eps", 1e-5, 0.0, 1.0, detail::LayerSpec::Open));
    }
    if (type == "flatten") {
        r.only({});
        return std::make_unique<Flatten<T>>();
    }
    throw Error(where + ": '" + type + "' is not a CNN layer type");
}

template class Conv2D<float>;
template class Conv2D<double>;
template class Pool2D<float>;
template class Pool2D<double>;
template class GlobalAvgPool<float>;
template class GlobalAvgPool<double>;
template class BatchNorm<float>;
template class BatchNorm<double>;
template std::unique_ptr<Layer<float>> make_cnn_layer<float>(const json&, const std::string&);
template std::unique_ptr<Layer<double>> make_cnn_layer<double>(const json&, const std::string&);

}  // namespace genrekit::nn
