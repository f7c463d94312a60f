#include "genrekit/nn/conv.hpp"

#include <algorithm>
#include <cmath>

#include "genrekit/error.hpp"
#include "genrekit/json_text.hpp"
#include "nn/image_shape.hpp"
#include "nn/layer_spec.hpp"
#include "nn/parallel.hpp"
#include "simd/gemm.hpp"

namespace genrekit::nn {

using json = nlohmann::json;

std::string conv_kernel_name() { return detail::gemm_kernel_name(); }

// ---------------------------------------------------------------- Conv2D

template <typename T>
json Conv2D<T>::to_json() const {
    json j = {{"type", "conv2d"}, {"channels", s_.channels}, {"kernel", detail::pair_json(s_.kh, s_.kw)}, {"stride", detail::pair_json(s_.sh, s_.sw)}};
    j["padding"] = s_.same ? json("same") : detail::pair_json(s_.ph, s_.pw);
    j["bias"] = s_.bias;
    j["init"] = s_.init;
    return j;
}

template <typename T>
Shape Conv2D<T>::setup(const Shape& in) {
    detail::need_image(in, "conv2d layer");
    C_ = in[0];
    H_ = in[1];
    W_ = in[2];
    Ho_ = detail::out_size(H_, s_.kh, s_.sh, s_.ph);
    Wo_ = detail::out_size(W_, s_.kw, s_.sw, s_.pw);
    if (H_ + 2 * s_.ph < s_.kh || W_ + 2 * s_.pw < s_.kw || Ho_ < 1 || Wo_ < 1)
        throw Error("conv2d layer: kernel " + detail::int_list(s_.kh, s_.kw) + " does not fit the input " + shape_str(in) + " with padding " +
                    detail::int_list(s_.ph, s_.pw) + " (the input is too small at this depth: use less pooling or a longer segment)");
    return {s_.channels, Ho_, Wo_};
}

template <typename T>
std::vector<ParamSpec> Conv2D<T>::param_specs() const {
    std::vector<ParamSpec> p = {{"weight", {s_.channels, C_, s_.kh, s_.kw}, ParamKind::Weight}};
    if (s_.bias) p.push_back({"bias", {s_.channels}, ParamKind::Bias});
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
            if (spec["padding"] != "same") throw Error(where + ".padding: must be an integer, [h, w] or \"same\", got " + dump_json(spec["padding"]));
            if (s.kh % 2 == 0 || s.kw % 2 == 0 || s.sh != 1 || s.sw != 1)
                throw Error(where + ".padding: \"same\" needs an odd kernel and stride 1");
            s.same = true;
            s.ph = s.kh / 2;
            s.pw = s.kw / 2;
        } else {
            std::tie(s.ph, s.pw) = r.pair("padding", 0, 0);
        }
        if (spec.contains("bias")) {
            if (!spec["bias"].is_boolean()) throw Error(where + ".bias: must be true or false, got " + dump_json(spec["bias"]));
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
template std::unique_ptr<Layer<float>> make_cnn_layer<float>(const json&, const std::string&);
template std::unique_ptr<Layer<double>> make_cnn_layer<double>(const json&, const std::string&);

}  // namespace genrekit::nn
