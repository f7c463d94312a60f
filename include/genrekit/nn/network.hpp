// A feed-forward network: a list of layers whose parameters live in ONE contiguous
// buffer (and gradients in another of the same layout), so optimizers, clipping and
// save/load are flat loops (llm.c style).
//
//   Network<float> net(json::parse(R"([{"type":"dense","units":64},{"type":"relu"},
//                                      {"type":"dense","units":10}])"), Shape{57});
//   Rng rng(seed); net.init(rng);
//   net.zero_grad();
//   auto logits = net.forward(x, {.training = true, .rng = &rng});   // x: (F x N)
//   ... loss forward/backward into dlogits ...
//   net.backward(dlogits);                                           // ADDS into net.grads()
//   optimizer.step(net.params(), net.grads(), net.num_params());
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

// One named parameter tensor inside the flat buffer: "layers.<i>.<name>" like a PyTorch
// nn.Sequential stored under the attribute `layers`.
struct ParamEntry {
    std::string name;
    Shape shape;  // row-major
    std::size_t offset = 0, size = 0;
};

template <typename T>
class Network {
public:
    // `layers`: JSON array of layer specs (see make_layer); `input`: per-sample input shape.
    // `where` names the source in error messages (e.g. "config model.layers").
    Network(const nlohmann::json& layers, Shape input, const std::string& where = "model.layers");
    Network(const Network&) = delete;
    Network& operator=(const Network&) = delete;

    nlohmann::json layers_json() const;
    const Shape& input_shape() const { return in_shape_; }
    const Shape& output_shape() const { return shapes_.back(); }
    std::size_t num_layers() const { return layers_.size(); }
    const Layer<T>& layer(std::size_t i) const { return *layers_[i]; }

    std::size_t num_params() const { return params_.size(); }
    T* params() { return params_.data(); }
    const T* params() const { return params_.data(); }
    T* grads() { return grads_.data(); }
    const std::vector<ParamEntry>& param_table() const { return table_; }

    void init(Rng& rng);
    void zero_grad();
    void reserve(std::int64_t batch);
    // Threads every layer may split its work over (nullptr: single-threaded). The pool must
    // outlive its use; results are the same for any pool size (see nn/kernels.hpp).
    void set_pool(ThreadPool* pool);

    // x: (F x N). Returns a view of the logits (K x N), valid until the next forward.
    CMatView<T> forward(CMatView<T> x, const Pass& pass);
    // dlogits: (K x N) for the last forward. Adds into grads().
    void backward(CMatView<T> dlogits);

private:
    Shape in_shape_;
    std::vector<std::unique_ptr<Layer<T>>> layers_;
    std::vector<Shape> shapes_;  // output shape of each layer
    std::vector<T> params_, grads_;
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
