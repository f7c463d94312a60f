// A feed-forward network: a list of layers whose parameters live in ONE contiguous
// buffer (and gradients in another of the same layout), so optimizers, clipping and
// weight decay are flat loops over trainable values only (llm.c style). State the layers
// update themselves and nothing trains (BatchNorm's running statistics; ParamKind::Buffer)
// lives in a second contiguous buffer, buffers(). tensors() names every tensor of both,
// in model-file order, for save/load.
//
//   Network<float> net(json::parse(R"([{"type":"dense","units":64},{"type":"relu"},
//                                      {"type":"dense","units":10}])"), Shape{57});
//   Rng rng(seed); net.init(rng);
//   net.zero_grad();
//   auto logits = net.forward(x, {.training = true, .rng = &rng});   // x: (F x N)
//   ... loss forward/backward into dlogits ...
//   net.backward(dlogits);                                           // ADDS into net.grads()
//   optimizer.step(net.params(), net.grads(), net.num_params());
//   for (const auto& e : net.tensors()) save(e.name, e.shape, net.data(e), e.size);
//   std::vector<float> best = net.snapshot();  ...  net.restore(best);   // params and buffers
//
// Activation buffers grow to the largest batch seen and are then reused: a training
// loop with a fixed batch size does not allocate. The first layer's input gradient
// is never computed.
#pragma once

#include <nlohmann/json.hpp>

#include <memory>
#include <string>
#include <vector>

#include "genrekit/nn/layers.hpp"

namespace genrekit::nn {

// One named tensor of the network: "layers.<i>.<name>" like a PyTorch nn.Sequential stored
// under the attribute `layers`. It lives at `offset` in params() (and grads()) when trainable,
// in buffers() when its kind is ParamKind::Buffer; Network::data() resolves that.
struct ParamEntry {
    std::string name;
    Shape shape;  // row-major
    std::size_t offset = 0, size = 0;
    std::size_t layer = 0;  // index of the layer it belongs to
    ParamKind kind = ParamKind::Weight;
    bool trainable() const { return kind != ParamKind::Buffer; }
};

// Sane limits, checked before allocating: values per example out of any one layer, and
// parameter values (trainable and buffers) of a whole network.
inline constexpr std::int64_t kMaxLayerOutput = std::int64_t(1) << 24;
inline constexpr std::size_t kMaxNetworkValues = std::size_t(1) << 27;

template <typename T>
class Network {
public:
    // `layers`: JSON array of layer specs (see make_layer); `input`: per-sample input shape.
    // `where` names the source in error messages (e.g. "config model.layers"). Throws Error
    // before allocating when the layers need more than `max_values` parameter values.
    Network(const nlohmann::json& layers, Shape input, const std::string& where = "model.layers",
            std::size_t max_values = kMaxNetworkValues);
    Network(const Network&) = delete;
    Network& operator=(const Network&) = delete;

    nlohmann::json layers_json() const;
    const Shape& input_shape() const { return in_shape_; }
    const Shape& output_shape() const { return shapes_.back(); }
    std::size_t num_layers() const { return layers_.size(); }
    const Layer<T>& layer(std::size_t i) const { return *layers_[i]; }

    // Trainable values only (what optimizers, gradient clipping and weight decay see).
    std::size_t num_params() const { return params_.size(); }
    T* params() { return params_.data(); }
    const T* params() const { return params_.data(); }
    T* grads() { return grads_.data(); }
    // Non-trainable state (ParamKind::Buffer tensors), updated by the layers themselves.
    std::size_t num_buffers() const { return buffers_.size(); }
    T* buffers() { return buffers_.data(); }
    const T* buffers() const { return buffers_.data(); }
    // Every tensor, trainable or not, layer by layer in each layer's param_specs() order: the
    // model file's tensors. data(e) is where e's values are.
    const std::vector<ParamEntry>& tensors() const { return table_; }
    T* data(const ParamEntry& e) { return (e.trainable() ? params_.data() : buffers_.data()) + e.offset; }
    const T* data(const ParamEntry& e) const { return (e.trainable() ? params_.data() : buffers_.data()) + e.offset; }
    // All values (params() then buffers()), e.g. to keep a checkpoint's weights and statistics;
    // restore() takes a snapshot() of a network of the same architecture.
    std::vector<T> snapshot() const;
    void restore(const std::vector<T>& s);
    bool all_finite() const;  // every parameter and buffer value

    void init(Rng& rng);
    void zero_grad();
    void reserve(std::int64_t batch);
    // Threads every layer may split its work over (nullptr: single-threaded). The pool must
    // outlive its use; results are the same for any pool size (see simd/nn_kernels.hpp).
    void set_pool(ThreadPool* pool);

    // x: (F x N). Returns a view of the logits (K x N), valid until the next forward.
    CMatView<T> forward(CMatView<T> x, const Pass& pass);
    // dlogits: (K x N) for the last forward. Adds into grads().
    void backward(CMatView<T> dlogits);

    // Inspection after forward and backward (Grad-CAM): layer i's output for the last forward
    // (an absorbed ReLU's is its input, not yet rectified), and the gradient the last backward
    // passed back to it (i + 1 < num_layers()). Both are (shape_size(output) x N).
    const Shape& output_shape(std::size_t i) const { return shapes_[i]; }
    CMatView<T> output(std::size_t i) const;
    CMatView<T> output_grad(std::size_t i) const;

private:
    Shape in_shape_;
    std::vector<std::unique_ptr<Layer<T>>> layers_;
    std::vector<Shape> shapes_;  // output shape of each layer
    std::vector<T> params_, grads_, buffers_;
    ThreadPool* pool_ = nullptr;  // also splits zero_grad's fill
    std::vector<ParamEntry> table_;
    // acts_[i] = output of layer i; dacts_[i] = gradient w.r.t. acts_[i-1] (input of layer i).
    std::vector<std::vector<T>> acts_, dacts_;
    // absorbed_[i]: layer i is a ReLU that layer i+1 applies itself (Layer::absorb_preceding_relu);
    // it is skipped: its output is its input, its gradient passes through. out(i) resolves that.
    std::vector<bool> absorbed_;
    const T* out(std::size_t i) const { return absorbed_[i] ? out(i - 1) : acts_[i].data(); }
    const T* x_ = nullptr;
    std::int64_t n_ = 0, capacity_ = 0;
};

}  // namespace genrekit::nn
