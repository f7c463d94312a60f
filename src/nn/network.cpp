#include "simd/thread_pool.hpp"
#include "genrekit/nn/network.hpp"

#include <algorithm>
#include <array>
#include <cmath>

#include "genrekit/error.hpp"

namespace genrekit::nn {

template <typename T>
Network<T>::Network(const nlohmann::json& layers, Shape input, const std::string& where, std::size_t max_values) : in_shape_(std::move(input)) {
    if (!layers.is_array() || layers.empty()) throw Error(where + ": must be a non-empty array of layers");
    Shape s = in_shape_;
    std::size_t total[2] = {0, 0};  // [0]: trainable values, [1]: buffer values
    std::vector<std::array<std::size_t, 2>> offsets;
    for (std::size_t i = 0; i < layers.size(); ++i) {
        const std::string at = where + "[" + std::to_string(i) + "]";
        auto l = make_layer<T>(layers[i], at);
        s = l->setup(s);
        // Sizes are checked here, before anything is allocated (a spec may come from a file).
        if (shape_size(s) > kMaxLayerOutput)
            throw Error(at + ": output of " + std::to_string(shape_size(s)) + " values per example; at most " + std::to_string(kMaxLayerOutput));
        shapes_.push_back(s);
        offsets.push_back({total[0], total[1]});
        for (const auto& p : l->param_specs()) {
            std::size_t& t = total[p.trainable() ? 0 : 1];
            table_.push_back({"layers." + std::to_string(i) + "." + p.name, p.shape, t, static_cast<std::size_t>(p.size()), i, p.kind});
            t += static_cast<std::size_t>(p.size());
            if (total[0] + total[1] > max_values)
                throw Error(at + ": the layers up to here have " + std::to_string(total[0] + total[1]) + " parameter values; at most " +
                            std::to_string(max_values));
        }
        layers_.push_back(std::move(l));
    }
    params_.assign(total[0], T(0));
    grads_.assign(total[0], T(0));
    buffers_.assign(total[1], T(0));
    for (std::size_t i = 0; i < layers_.size(); ++i) {
        layers_[i]->bind(params_.data() + offsets[i][0], grads_.data() + offsets[i][0]);
        layers_[i]->bind_buffers(buffers_.data() + offsets[i][1]);
    }
    acts_.resize(layers_.size());
    dacts_.resize(layers_.size());
    absorbed_.assign(layers_.size(), false);
    // Not the first layer: its input is the network's, whose gradient is never computed.
    for (std::size_t i = 1; i + 1 < layers_.size(); ++i)
        if (layers_[i]->type() == "relu" && layers_[i + 1]->absorb_preceding_relu()) absorbed_[i] = true;
}

template <typename T>
nlohmann::json Network<T>::layers_json() const {
    nlohmann::json a = nlohmann::json::array();
    for (const auto& l : layers_) a.push_back(l->to_json());
    return a;
}

template <typename T>
void Network<T>::init(Rng& rng) {
    for (auto& l : layers_) l->init_params(rng);
}

template <typename T>
std::vector<T> Network<T>::snapshot() const {
    std::vector<T> s(params_);
    s.insert(s.end(), buffers_.begin(), buffers_.end());
    return s;
}

template <typename T>
void Network<T>::restore(const std::vector<T>& s) {
    if (s.size() != params_.size() + buffers_.size())
        throw Error("network: a snapshot of " + std::to_string(s.size()) + " values does not fit " + std::to_string(params_.size()) +
                    " parameters and " + std::to_string(buffers_.size()) + " buffer values");
    const auto np = static_cast<std::ptrdiff_t>(params_.size());
    std::copy(s.begin(), s.begin() + np, params_.begin());
    std::copy(s.begin() + np, s.end(), buffers_.begin());
}

template <typename T>
bool Network<T>::all_finite() const {
    auto finite = [](const std::vector<T>& v) { return std::all_of(v.begin(), v.end(), [](T x) { return std::isfinite(x); }); };
    return finite(params_) && finite(buffers_);
}

template <typename T>
void Network<T>::set_pool(ThreadPool* pool) {
    pool_ = pool;
    for (auto& l : layers_) l->set_pool(pool);
}

template <typename T>
void Network<T>::zero_grad() {
    // Large models (the seed MLP: 290k parameters) clear their gradients every step: split the fill.
    const auto n = static_cast<std::ptrdiff_t>(grads_.size());
    if (!pool_ || pool_->size() == 1 || n < (std::ptrdiff_t(1) << 16)) {
        std::fill(grads_.begin(), grads_.end(), T(0));
        return;
    }
    const int parts = pool_->size();
    pool_->run(parts, [&](int part) {
        const auto [lo, hi] = ThreadPool::range(n, parts, part, 16);
        std::fill(grads_.data() + lo, grads_.data() + hi, T(0));
    });
}

template <typename T>
void Network<T>::reserve(std::int64_t batch) {
    if (batch <= capacity_) return;
    Shape prev = in_shape_;
    for (std::size_t i = 0; i < layers_.size(); ++i) {
        if (!absorbed_[i]) {
            acts_[i].resize(static_cast<std::size_t>(shape_size(shapes_[i]) * batch));
            if (i > 0) dacts_[i].resize(static_cast<std::size_t>(shape_size(prev) * batch));
        }
        prev = shapes_[i];
    }
    capacity_ = batch;
}

template <typename T>
CMatView<T> Network<T>::forward(CMatView<T> x, const Pass& pass) {
    if (x.rows() != shape_size(in_shape_))
        throw Error("network: input has " + std::to_string(x.rows()) + " features, expected " + std::to_string(shape_size(in_shape_)));
    n_ = x.cols();
    reserve(n_);
    x_ = x.data();
    const T* in = x.data();
    std::int64_t in_rows = x.rows();
    for (std::size_t i = 0; i < layers_.size(); ++i) {
        if (absorbed_[i]) continue;
        const std::int64_t out_rows = shape_size(shapes_[i]);
        layers_[i]->forward(CMatView<T>(in, in_rows, n_), MatView<T>(acts_[i].data(), out_rows, n_), pass);
        in = acts_[i].data();
        in_rows = out_rows;
    }
    return CMatView<T>(in, in_rows, n_);
}

template <typename T>
void Network<T>::backward(CMatView<T> dlogits) {
    const T* dy = dlogits.data();
    for (std::size_t i = layers_.size(); i-- > 0;) {
        if (absorbed_[i]) continue;  // its gradient was applied by layer i+1
        const std::int64_t out_rows = shape_size(shapes_[i]);
        const std::int64_t in_rows = i == 0 ? shape_size(in_shape_) : shape_size(shapes_[i - 1]);
        const T* x = i == 0 ? x_ : out(i - 1);
        T* dx = i == 0 ? nullptr : dacts_[i].data();
        layers_[i]->backward(CMatView<T>(x, in_rows, n_), CMatView<T>(acts_[i].data(), out_rows, n_),
                             CMatView<T>(dy, out_rows, n_), dx);
        dy = dx;
    }
}

template <typename T>
CMatView<T> Network<T>::output(std::size_t i) const {
    return CMatView<T>(out(i), shape_size(shapes_[i]), n_);
}

template <typename T>
CMatView<T> Network<T>::output_grad(std::size_t i) const {
    // Layer j consumes out(i) when it is the next layer that is not absorbed; its dacts_ is that gradient.
    std::size_t j = i + 1;
    while (j < layers_.size() && absorbed_[j]) ++j;
    if (j >= layers_.size()) throw Error("network: layer " + std::to_string(i) + " has no gradient (it is the last layer)");
    return CMatView<T>(dacts_[j].data(), shape_size(shapes_[i]), n_);
}

template class Network<float>;
template class Network<double>;

}  // namespace genrekit::nn
