// Pool2D (max / average windows) and GlobalAvgPool; declared in genrekit/nn/conv.hpp.
#include <algorithm>

#include "genrekit/error.hpp"
#include "genrekit/nn/conv.hpp"
#include "nn/image_shape.hpp"
#include "nn/parallel.hpp"
#include "simd/nn_kernels.hpp"

namespace genrekit::nn {

using json = nlohmann::json;

template <typename T>
json Pool2D<T>::to_json() const {
    return {{"type", type()}, {"size", detail::pair_json(kh_, kw_)}, {"stride", detail::pair_json(sh_, sw_)}};
}

template <typename T>
Shape Pool2D<T>::setup(const Shape& in) {
    detail::need_image(in, type() + " layer");
    C_ = in[0];
    H_ = in[1];
    W_ = in[2];
    if (H_ < kh_ || W_ < kw_)
        throw Error(type() + " layer: window " + detail::int_list(kh_, kw_) + " is larger than the input " + shape_str(in) +
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

template class Pool2D<float>;
template class Pool2D<double>;
template class GlobalAvgPool<float>;
template class GlobalAvgPool<double>;

}  // namespace genrekit::nn
