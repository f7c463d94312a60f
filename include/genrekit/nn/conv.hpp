// Layers for spectrogram "images": Conv2D, MaxPool2D, AvgPool2D, GlobalAvgPool, BatchNorm
// and Flatten, registered in make_layer (src/nn/layers.cpp) like the dense layers.
// Code: src/nn/conv.cpp (Conv2D, make_cnn_layer), pooling.cpp, batchnorm.cpp.
//
//   // 1 x 128 x 130 log-mel -> [conv 3x3 -> batchnorm -> relu -> maxpool 2] -> gap -> dense
//   Network<float> net(json::parse(R"([
//       {"type":"conv2d","channels":16,"kernel":3,"padding":1,"bias":false},
//       {"type":"batchnorm"}, {"type":"relu"}, {"type":"maxpool2d","size":2},
//       {"type":"global_avg_pool"}, {"type":"dense","units":10}])"), Shape{1, 128, 130});
//   genrekit::nn::set_num_threads(2);     // layers split each batch over the pool's workers
//
// Layout: a sample {C, H, W} is one contiguous column of C*H*W values, channel outermost,
// then rows, then columns (PyTorch's NCHW for one sample). A convolution is, per sample,
// GEMMs on an im2col matrix: Y (Ho*Wo x Co) = col (Ho*Wo x C*kh*kw) * W^T, where the
// weight [Co, C, kh, kw] row-major (PyTorch's Conv2d.weight) read column-major is W^T.
// Backward: dW^T += col^T dY, dcol = dY W, col2im(dcol) -> dx. The col matrix is built for a
// few output rows at a time, so it stays in cache (block_rows). im2col/col2im buffers are
// per worker and keep their capacity: a fixed-size training loop does not allocate.
//
// Specs (defaults in brackets; sizes are an integer or [h, w]):
//   conv2d       channels, kernel [3], stride [1], padding [0] (or "same": kernel/2, odd kernels),
//                bias [true], init ["torch_default"]: xavier_uniform | xavier_normal | he_uniform |
//                he_normal | torch_default (ref: torch.nn.Conv2d.reset_parameters, U(+-1/sqrt(fan_in)))
//   maxpool2d    size [2], stride [size]     ref: torch.nn.MaxPool2d (floor mode, no padding; the first
//                                            maximum of a window gets the gradient)
//   avgpool2d    size [2], stride [size]     ref: torch.nn.AvgPool2d
//   global_avg_pool                          {C, H, W} -> {C}
//   batchnorm    momentum [0.1], eps [1e-5]  ref: torch.nn.BatchNorm2d / BatchNorm1d: statistics per
//                channel (the first dimension) over the batch and the other dimensions; training
//                normalises with the biased batch variance and updates running_var with the unbiased
//                one; inference uses the running statistics.
//   flatten                                  {C, H, W} -> {C*H*W} (the data does not move)
//
// BatchNorm's running_mean and running_var are ParamKind::Buffer tensors: they live in the
// network's non-trainable buffers() (out of reach of optimizers and weight decay) and are
// saved with the parameters under their PyTorch state_dict names.
#pragma once

#include <nlohmann/json.hpp>

#include <memory>
#include <string>
#include <vector>

#include "genrekit/nn/layers.hpp"

namespace genrekit::nn {

// A layer of the CNN family from its spec (`spec["type"]` is one of cnn_layer_types()).
template <typename T>
std::unique_ptr<Layer<T>> make_cnn_layer(const nlohmann::json& spec, const std::string& where);
std::vector<std::string> cnn_layer_types();

// The float GEMM kernel in use ("baseline", "avx2", "avx512"; GENREKIT_ISA caps it).
std::string conv_kernel_name();

template <typename T>
class Conv2D final : public Layer<T> {
public:
    struct Spec {
        std::int64_t channels = 1, kh = 3, kw = 3, sh = 1, sw = 1, ph = 0, pw = 0;
        bool same = false, bias = true;
        std::string init = "torch_default";
    };
    explicit Conv2D(Spec s) : s_(std::move(s)) {}
    std::string type() const override { return "conv2d"; }
    nlohmann::json to_json() const override;
    Shape setup(const Shape& in) override;
    std::vector<ParamSpec> param_specs() const override;
    void bind(T* params, T* grads) override;
    void init_params(Rng& rng) override;
    void forward(CMatView<T> x, MatView<T> y, const Pass& pass) override;
    void backward(CMatView<T> x, CMatView<T> y, CMatView<T> dy, T* dx) override;

private:
    void im2col(const T* x, T* col, std::int64_t ho0, std::int64_t ho1) const;
    void col2im(const T* col, T* dx, std::int64_t ho0, std::int64_t ho1) const;
    std::int64_t block_rows() const;
    Spec s_;
    std::int64_t C_ = 0, H_ = 0, W_ = 0, Ho_ = 0, Wo_ = 0;
    T *w_ = nullptr, *b_ = nullptr, *dw_ = nullptr, *db_ = nullptr;
    struct Scratch {
        std::vector<T> col, dcol, dw, db;
        bool used = false;
    };
    std::vector<Scratch> scratch_;  // one per worker
};

template <typename T>
class Pool2D final : public Layer<T> {
public:
    Pool2D(bool max, std::int64_t kh, std::int64_t kw, std::int64_t sh, std::int64_t sw) : max_(max), kh_(kh), kw_(kw), sh_(sh), sw_(sw) {}
    std::string type() const override { return max_ ? "maxpool2d" : "avgpool2d"; }
    nlohmann::json to_json() const override;
    Shape setup(const Shape& in) override;
    void forward(CMatView<T> x, MatView<T> y, const Pass& pass) override;
    void backward(CMatView<T> x, CMatView<T> y, CMatView<T> dy, T* dx) override;
    bool absorb_preceding_relu() override { return relu_ = max_; }

private:
    bool max_;
    bool relu_ = false;  // max pooling of a ReLU's input: y = max(0, max(window)); see absorb_preceding_relu
    void pool_sample(const T* xn, T* yn, std::int32_t* an) const;
    std::int64_t kh_, kw_, sh_, sw_;
    std::int64_t C_ = 0, H_ = 0, W_ = 0, Ho_ = 0, Wo_ = 0;
    std::vector<std::int32_t> argmax_;  // max: input index (within the sample) of each output; capacity kept
};

template <typename T>
class GlobalAvgPool final : public Layer<T> {
public:
    std::string type() const override { return "global_avg_pool"; }
    nlohmann::json to_json() const override { return {{"type", type()}}; }
    Shape setup(const Shape& in) override;
    void forward(CMatView<T> x, MatView<T> y, const Pass& pass) override;
    void backward(CMatView<T> x, CMatView<T> y, CMatView<T> dy, T* dx) override;

private:
    std::int64_t C_ = 0, HW_ = 0;
};

template <typename T>
class BatchNorm final : public Layer<T> {
public:
    BatchNorm(double momentum, double eps) : momentum_(momentum), eps_(eps) {}
    std::string type() const override { return "batchnorm"; }
    nlohmann::json to_json() const override { return {{"type", type()}, {"momentum", momentum_}, {"eps", eps_}}; }
    Shape setup(const Shape& in) override;
    std::vector<ParamSpec> param_specs() const override;
    void bind(T* params, T* grads) override;
    void bind_buffers(T* buffers) override;
    void init_params(Rng& rng) override;
    void forward(CMatView<T> x, MatView<T> y, const Pass& pass) override;
    void backward(CMatView<T> x, CMatView<T> y, CMatView<T> dy, T* dx) override;

private:
    double momentum_, eps_;
    std::int64_t C_ = 0, HW_ = 0;
    T *gamma_ = nullptr, *beta_ = nullptr, *rmean_ = nullptr, *rvar_ = nullptr, *dgamma_ = nullptr, *dbeta_ = nullptr;
    bool last_training_ = false;
    std::vector<T> mean_, inv_std_;  // of the last forward (batch statistics, or running ones in inference)
};

template <typename T>
class Flatten final : public Layer<T> {
public:
    std::string type() const override { return "flatten"; }
    nlohmann::json to_json() const override { return {{"type", type()}}; }
    Shape setup(const Shape& in) override { return {shape_size(in)}; }
    void forward(CMatView<T> x, MatView<T> y, const Pass&) override { y = x; }
    void backward(CMatView<T> x, CMatView<T>, CMatView<T> dy, T* dx) override {
        if (dx) MatView<T>(dx, x.rows(), x.cols()) = dy;
    }
};

}  // namespace genrekit::nn
