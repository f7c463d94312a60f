// Layers of genrekit's hand-written neural network (no ML framework), on Eigen.
//
//   using namespace genrekit::nn;
//   auto layer = make_layer<float>({{"type", "dense"}, {"units", 64}, {"init", "he_uniform"}});
//   Shape out = layer->setup({57});              // per-sample shapes
//   layer->bind(params, grads);                  // views into the network's one parameter buffer
//   layer->bind_buffers(buffers);                // and its non-trainable one (BatchNorm statistics)
//   layer->forward(x, y, pass);                  // saves nothing itself: x and y are kept by the Network
//   layer->backward(x, y, dy, dx);               // ADDS into its parameter gradients
//
// Shape letters, used everywhere in genrekit::nn:
//   N  batch size (samples in a mini-batch)
//   F  features per sample at a layer's input (a flattened C*H*W for image-like inputs)
//   O  outputs per sample of a layer
//   K  classes (the width of the logits)
//   C, H, W  channels, height, width of image-like samples (for Conv2D/pooling layers, later)
//
// Activations are column-major Eigen matrices of shape (F x N): one column per sample,
// so each sample is contiguous in memory. Per-sample shapes (`Shape`) are listed
// outermost first, e.g. {F} for feature vectors or {C, H, W} for spectrogram patches.
//
// Gradient conventions (llm.c style):
//   * backward() ADDS into the parameter gradients (grads += ...); zeroing them is a
//     separate step (Network::zero_grad), so gradients can be accumulated over calls.
//   * the input gradient dx is per-step scratch and is WRITTEN (dx = ...); pass
//     nullptr when it is not needed (the first layer of a network).
//
// Layers are templates on the scalar so the same code runs in float (training) and
// double (central-difference gradient checks). New layer kinds (Conv2D, pooling,
// BatchNorm) are added by deriving from Layer<T> and adding one line to the registry
// in src/nn/layers.cpp; the config reader and the model file reader share it.
#pragma once

#include <Eigen/Core>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "genrekit/nn/rng.hpp"

namespace genrekit::nn {

class ThreadPool;  // src/simd/thread_pool.hpp

template <typename T>
using Mat = Eigen::Matrix<T, Eigen::Dynamic, Eigen::Dynamic>;  // column-major, (F x N)
template <typename T>
using MatView = Eigen::Map<Mat<T>>;
template <typename T>
using CMatView = Eigen::Map<const Mat<T>>;

using Shape = std::vector<std::int64_t>;  // per-sample shape, outermost first
std::int64_t shape_size(const Shape& s);
std::string shape_str(const Shape& s);

// What a layer's tensor is for, as data (trainers decide by it, never by its name).
enum class ParamKind {
    Weight,  // Dense / Conv2D weight
    Bias,    // Dense / Conv2D bias
    Scale,   // BatchNorm gamma (stored as "weight", like PyTorch)
    Shift,   // BatchNorm beta (stored as "bias")
    Buffer,  // not trained: state a layer updates itself (BatchNorm's running statistics);
             // lives in the network's buffers(), out of reach of optimizers and weight decay
};

// One tensor of a layer. `shape` is row-major as stored in the model file
// (a Dense weight is [O, F] like PyTorch's nn.Linear.weight).
struct ParamSpec {
    std::string name;  // "weight", "bias", "running_mean", ...
    Shape shape;
    ParamKind kind = ParamKind::Weight;
    std::int64_t size() const { return shape_size(shape); }
    bool trainable() const { return kind != ParamKind::Buffer; }
};

// What a forward pass is for. Dropout draws its mask from `rng` when training.
struct Pass {
    bool training = false;
    Rng* rng = nullptr;
};

template <typename T>
class Layer {
public:
    virtual ~Layer() = default;
    virtual std::string type() const = 0;
    // The layer's spec, as written in configs and model files (round-trips through make_layer).
    virtual nlohmann::json to_json() const = 0;
    // Called once with the per-sample input shape; returns the per-sample output shape.
    virtual Shape setup(const Shape& in) = 0;
    // Every tensor of the layer, in model-file order: trainable ones and Buffer ones.
    virtual std::vector<ParamSpec> param_specs() const { return {}; }
    // Views into the network's contiguous parameter and gradient buffers, laid out as the
    // trainable entries of param_specs(), in order.
    virtual void bind(T* /*params*/, T* /*grads*/) {}
    // View into the network's non-trainable buffer, laid out as the Buffer entries of param_specs().
    virtual void bind_buffers(T* /*buffers*/) {}
    virtual void init_params(Rng& /*rng*/) {}
    // x: (F x N) -> y: (O x N).
    virtual void forward(CMatView<T> x, MatView<T> y, const Pass& pass) = 0;
    // dy: (O x N). Adds into parameter gradients; writes dx (F x N) unless dx is nullptr.
    virtual void backward(CMatView<T> x, CMatView<T> y, CMatView<T> dy, T* dx) = 0;
    // Asks the layer to do the work of the ReLU just before it (max pooling commutes with it:
    // pool(relu(x)) = relu(pool(x)), on a quarter of the values); the Network then skips that
    // ReLU, saving a pass over memory each way. Returns whether the layer took it. Values and
    // gradients are those of the two layers run one by one.
    virtual bool absorb_preceding_relu() { return false; }
    // Threads a layer may split its work over (nullptr: the calling thread only). Set by
    // Network::set_pool; a layer that ignores it simply runs single-threaded.
    void set_pool(ThreadPool* pool) { pool_ = pool; }

protected:
    ThreadPool* pool_ = nullptr;
};

// Fills a weight tensor (nw values; fan_in/fan_out as PyTorch computes them) by `init`:
// xavier_uniform, xavier_normal, he_uniform, he_normal, or torch_default (which also
// draws the bias); otherwise the bias (nb values, may be null) is zeroed. Shared by every
// layer with weights, so one convention serves them all.
template <typename T>
void init_weights(const std::string& init, double fan_in, double fan_out, Rng& rng, T* w, std::int64_t nw, T* b,
                  std::int64_t nb);

// Fully connected: y = W x + b, W [O, F], b [O].
// init: "xavier_uniform" (default), "xavier_normal", "he_uniform", "he_normal", "torch_default".
template <typename T>
class Dense final : public Layer<T> {
public:
    Dense(std::int64_t units, std::string init) : out_(units), init_(std::move(init)) {}
    std::string type() const override { return "dense"; }
    nlohmann::json to_json() const override;
    Shape setup(const Shape& in) override;
    std::vector<ParamSpec> param_specs() const override;
    void bind(T* params, T* grads) override;
    void init_params(Rng& rng) override;
    void forward(CMatView<T> x, MatView<T> y, const Pass& pass) override;
    void backward(CMatView<T> x, CMatView<T> y, CMatView<T> dy, T* dx) override;

private:
    std::int64_t in_ = 0, out_;
    std::string init_;
    // W is stored row-major [O, F]; the same memory read column-major is W^T (F x O).
    T *w_ = nullptr, *b_ = nullptr, *dw_ = nullptr, *db_ = nullptr;
    std::vector<float> scratch_;  // packed input of the AVX2 forward kernel (capacity kept)
};

// Element-wise activations define only f and f' (in src/nn/layers.cpp); batching is
// handled once in this template. kind: "relu", "sigmoid", "tanh".
enum class ActKind { ReLU, Sigmoid, Tanh };

template <typename T>
class Activation final : public Layer<T> {
public:
    explicit Activation(ActKind k) : kind_(k) {}
    std::string type() const override;
    nlohmann::json to_json() const override { return {{"type", type()}}; }
    Shape setup(const Shape& in) override { return in; }
    void forward(CMatView<T> x, MatView<T> y, const Pass& pass) override;
    void backward(CMatView<T> x, CMatView<T> y, CMatView<T> dy, T* dx) override;

private:
    ActKind kind_;
};

// Inverted dropout: while training, each value is zeroed with probability `rate` and the
// rest are scaled by 1/(1-rate); at inference it is the identity.
// ref: torch.nn.Dropout (scales at training time, identity in eval()).
template <typename T>
class Dropout final : public Layer<T> {
public:
    explicit Dropout(double rate) : rate_(rate) {}
    std::string type() const override { return "dropout"; }
    nlohmann::json to_json() const override { return {{"type", "dropout"}, {"rate", rate_}}; }
    Shape setup(const Shape& in) override { return in; }
    void forward(CMatView<T> x, MatView<T> y, const Pass& pass) override;
    void backward(CMatView<T> x, CMatView<T> y, CMatView<T> dy, T* dx) override;

private:
    double rate_;
    bool last_training_ = false;
    std::vector<T> mask_;  // 0 or 1/(1-rate), of the last training forward; capacity kept
};

// The registry: a layer from its JSON spec, e.g. {"type":"dense","units":64}.
// Unknown types, unknown keys and wrong types throw genrekit::Error naming them;
// `where` prefixes the message (e.g. "config model.layers[2]").
template <typename T>
std::unique_ptr<Layer<T>> make_layer(const nlohmann::json& spec, const std::string& where = "layer");

// The registered type names (for error messages and docs).
std::vector<std::string> layer_types();

}  // namespace genrekit::nn
