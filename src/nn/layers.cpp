#include "genrekit/nn/layers.hpp"

#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <sstream>

#include "genrekit/error.hpp"
#include "simd/nn_kernels.hpp"
#include "genrekit/nn/conv.hpp"
#include "genrekit/json_text.hpp"
#include "nn/layer_spec.hpp"

namespace genrekit::nn {

std::int64_t shape_size(const Shape& s) {
    // Saturates instead of overflowing, so that an absurd layer spec meets a size check
    // (Network's limits) rather than wrapping around to a small number.
    std::int64_t n = 1;
    for (auto d : s)
        if (__builtin_mul_overflow(n, d, &n)) return std::numeric_limits<std::int64_t>::max();
    return n;
}

std::string shape_str(const Shape& s) {
    std::string r = "[";
    for (std::size_t i = 0; i < s.size(); ++i) {
        if (i) r += ',';
        r += std::to_string(s[i]);
    }
    r += ']';
    return r;
}

// ---------------------------------------------------------------- Dense

namespace {
// Calls fn(part, parts) for every part, on the pool's threads when there is one.
template <typename Fn>
void run_parts(ThreadPool* pool, Fn&& fn) {
    const int parts = pool ? pool->size() : 1;
    if (parts == 1) fn(0, 1);
    else pool->run(parts, [&](int part) { fn(part, parts); });
}
}  // namespace

template <typename T>
nlohmann::json Dense<T>::to_json() const {
    return {{"type", "dense"}, {"units", out_}, {"init", init_}};
}

template <typename T>
Shape Dense<T>::setup(const Shape& in) {
    in_ = shape_size(in);
    if (in_ <= 0) throw Error("dense layer: input shape " + shape_str(in) + " is empty");
    return {out_};
}

template <typename T>
std::vector<ParamSpec> Dense<T>::param_specs() const {
    return {{"weight", {out_, in_}, ParamKind::Weight}, {"bias", {out_}, ParamKind::Bias}};
}

template <typename T>
void Dense<T>::bind(T* params, T* grads) {
    w_ = params;
    b_ = params + out_ * in_;
    dw_ = grads;
    db_ = grads + out_ * in_;
}

template <typename T>
void init_weights(const std::string& init, double fan_in, double fan_out, Rng& rng, T* w, std::int64_t nw, T* b,
                  std::int64_t nb) {
    auto fill_uniform = [&](T* p, std::int64_t n, double bound) {
        for (std::int64_t i = 0; i < n; ++i) p[i] = static_cast<T>((2.0 * rng.uniform_double() - 1.0) * bound);
    };
    auto fill_normal = [&](T* p, std::int64_t n, double sd) {
        for (std::int64_t i = 0; i < n; ++i) p[i] = static_cast<T>(rng.normal() * sd);
    };
    if (b) std::fill(b, b + nb, T(0));
    if (init == "xavier_uniform") {
        // ref: torch.nn.init.xavier_uniform_ (gain 1): U(-a, a), a = sqrt(6 / (fan_in + fan_out))
        fill_uniform(w, nw, std::sqrt(6.0 / (fan_in + fan_out)));
    } else if (init == "xavier_normal") {
        // ref: torch.nn.init.xavier_normal_: N(0, 2 / (fan_in + fan_out))
        fill_normal(w, nw, std::sqrt(2.0 / (fan_in + fan_out)));
    } else if (init == "he_uniform") {
        // ref: torch.nn.init.kaiming_uniform_(mode='fan_in', nonlinearity='relu'): bound = sqrt(6 / fan_in)
        fill_uniform(w, nw, std::sqrt(6.0 / fan_in));
    } else if (init == "he_normal") {
        // ref: torch.nn.init.kaiming_normal_(mode='fan_in', nonlinearity='relu'): std = sqrt(2 / fan_in)
        fill_normal(w, nw, std::sqrt(2.0 / fan_in));
    } else if (init == "torch_default") {
        // ref: torch.nn.Linear / Conv2d reset_parameters: W, b ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in))
        fill_uniform(w, nw, 1.0 / std::sqrt(fan_in));
        if (b) fill_uniform(b, nb, 1.0 / std::sqrt(fan_in));
    } else {
        throw Error("unknown init '" + init + "'; allowed: xavier_uniform, xavier_normal, he_uniform, he_normal, torch_default");
    }
}

template void init_weights<float>(const std::string&, double, double, Rng&, float*, std::int64_t, float*, std::int64_t);
template void init_weights<double>(const std::string&, double, double, Rng&, double*, std::int64_t, double*, std::int64_t);

template <typename T>
void Dense<T>::init_params(Rng& rng) {
    init_weights<T>(init_, static_cast<double>(in_), static_cast<double>(out_), rng, w_, in_ * out_, b_, out_);
}

template <typename T>
void Dense<T>::forward(CMatView<T> x, MatView<T> y, const Pass&) {
    if constexpr (std::is_same_v<T, float>)
        if (kernels::dense_forward(w_, b_, x.data(), y.data(), out_, in_, x.cols(), this->pool_, scratch_)) return;
    CMatView<T> wt(w_, in_, out_);  // W^T, (F x O)
    Eigen::Map<const Eigen::Matrix<T, Eigen::Dynamic, 1>> b(b_, out_);
    if (!this->pool_ || this->pool_->size() == 1) {
        y.noalias() = wt.transpose() * x;
        y.colwise() += b;
        return;
    }
    run_parts(this->pool_, [&](int part, int parts) {  // rows of y by fixed ranges
        const auto [o0, o1] = ThreadPool::range(out_, parts, part, 16);
        if (o0 >= o1) return;
        y.middleRows(o0, o1 - o0).noalias() = wt.middleCols(o0, o1 - o0).transpose() * x;
        y.middleRows(o0, o1 - o0).colwise() += b.segment(o0, o1 - o0);
    });
}

template <typename T>
void Dense<T>::backward(CMatView<T> x, CMatView<T>, CMatView<T> dy, T* dx) {
    if constexpr (std::is_same_v<T, float>)
        if (kernels::dense_backward(w_, x.data(), dy.data(), dw_, db_, dx, out_, in_, x.cols(), this->pool_)) return;
    if (this->pool_ && this->pool_->size() > 1) {
        run_parts(this->pool_, [&](int part, int parts) {  // weight rows and input columns by fixed ranges
            const auto [o0, o1] = ThreadPool::range(out_, parts, part, 16);
            if (o0 < o1) {
                MatView<T> dwt(dw_, in_, out_);
                Eigen::Map<Eigen::Matrix<T, Eigen::Dynamic, 1>> db(db_, out_);
                dwt.middleCols(o0, o1 - o0).noalias() += x * dy.middleRows(o0, o1 - o0).transpose();
                db.segment(o0, o1 - o0).noalias() += dy.middleRows(o0, o1 - o0).rowwise().sum();
            }
            const auto [n0, n1] = ThreadPool::range(x.cols(), parts, part);
            if (dx && n0 < n1)
                MatView<T>(dx, in_, x.cols()).middleCols(n0, n1 - n0).noalias() = CMatView<T>(w_, in_, out_) * dy.middleCols(n0, n1 - n0);
        });
        return;
    }
    MatView<T> dwt(dw_, in_, out_);
    Eigen::Map<Eigen::Matrix<T, Eigen::Dynamic, 1>> db(db_, out_);
    dwt.noalias() += x * dy.transpose();
    db.noalias() += dy.rowwise().sum();
    if (dx) {
        CMatView<T> wt(w_, in_, out_);
        MatView<T>(dx, in_, x.cols()).noalias() = wt * dy;
    }
}

// ---------------------------------------------------------------- activations
// Only f and f' live here; the loop over the batch is Eigen's.

template <typename T>
std::string Activation<T>::type() const {
    switch (kind_) {
        case ActKind::ReLU: return "relu";
        case ActKind::Sigmoid: return "sigmoid";
        case ActKind::Tanh: return "tanh";
    }
    return "?";
}

// Element-wise work on batches of 64k values and more is split by columns over the pool
// (the seed MLP's 5000 x 32 sigmoid, CNN feature maps); each element's arithmetic is the
// same whichever thread does it.
template <typename T, typename Fn>
void for_columns(ThreadPool* pool, Eigen::Index cols, Eigen::Index size, Fn&& fn) {
    if (!pool || pool->size() == 1 || size < (Eigen::Index(1) << 16)) return fn(Eigen::Index(0), cols);
    const int parts = pool->size();
    pool->run(parts, [&](int part) {
        const auto [b, e] = ThreadPool::range(cols, parts, part);
        if (b < e) fn(Eigen::Index(b), Eigen::Index(e - b));
    });
}

template <typename T>
void Activation<T>::forward(CMatView<T> x, MatView<T> y, const Pass&) {
    if constexpr (std::is_same_v<T, float>)
        if (kind_ == ActKind::Sigmoid && kernels::sigmoid(x.data(), y.data(), x.size(), this->pool_)) return;
    for_columns<T>(this->pool_, x.cols(), x.size(), [&](Eigen::Index b, Eigen::Index n) {
        auto xs = x.middleCols(b, n).array();
        auto ys = y.middleCols(b, n).array();
        switch (kind_) {
            case ActKind::ReLU: ys = xs.max(T(0)); break;
            case ActKind::Sigmoid: ys = xs.logistic(); break;  // Eigen's logistic is stable for large |x|
            case ActKind::Tanh: ys = xs.tanh(); break;
        }
    });
}

template <typename T>
void Activation<T>::backward(CMatView<T> x, CMatView<T> y, CMatView<T> dy, T* dx) {
    if (!dx) return;
    MatView<T> d(dx, x.rows(), x.cols());
    for_columns<T>(this->pool_, x.cols(), x.size(), [&](Eigen::Index b, Eigen::Index n) {
        auto ds = d.middleCols(b, n).array();
        auto dys = dy.middleCols(b, n).array();
        auto ys = y.middleCols(b, n).array();
        switch (kind_) {
            // f' = [x > 0]; a product with the cast mask vectorises (Eigen 3.4's select does not: 5x slower)
            case ActKind::ReLU: ds = dys * (x.middleCols(b, n).array() > T(0)).template cast<T>(); break;
            case ActKind::Sigmoid: ds = dys * ys * (T(1) - ys); break;  // f' = y (1 - y)
            case ActKind::Tanh: ds = dys * (T(1) - ys.square()); break;  // f' = 1 - y^2
        }
    });
}

// ---------------------------------------------------------------- dropout

template <typename T>
void Dropout<T>::forward(CMatView<T> x, MatView<T> y, const Pass& pass) {
    last_training_ = pass.training && rate_ > 0;
    if (!last_training_) {
        y = x;
        return;
    }
    if (!pass.rng) throw Error("dropout: a training pass needs a random generator");
    const std::size_t n = static_cast<std::size_t>(x.size());
    mask_.resize(n);  // keeps capacity: no allocation once the largest batch was seen
    const T scale = T(1.0 / (1.0 - rate_));
    const float keep = static_cast<float>(1.0 - rate_);
    for (std::size_t i = 0; i < n; ++i) mask_[i] = pass.rng->uniform() < keep ? scale : T(0);
    y.array() = x.array() * Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>>(mask_.data(), n)
                                .reshaped(x.rows(), x.cols());
}

template <typename T>
void Dropout<T>::backward(CMatView<T> x, CMatView<T>, CMatView<T> dy, T* dx) {
    if (!dx) return;
    MatView<T> d(dx, x.rows(), x.cols());
    if (!last_training_) {
        d = dy;
        return;
    }
    d.array() = dy.array() * Eigen::Map<const Eigen::Array<T, Eigen::Dynamic, 1>>(mask_.data(), mask_.size())
                                 .reshaped(x.rows(), x.cols());
}

// ---------------------------------------------------------------- registry

namespace {

using json = nlohmann::json;

using detail::LayerSpec;  // src/nn/layer_spec.hpp: reads and checks a layer spec

template <typename T>
using Factory = std::function<std::unique_ptr<Layer<T>>(const LayerSpec&)>;

template <typename T>
const std::map<std::string, Factory<T>>& registry() {
    static const std::map<std::string, Factory<T>> r = {
        {"dense",
         [](const LayerSpec& s) -> std::unique_ptr<Layer<T>> {
             s.only({"units", "init"});
             const std::string init = s.init("xavier_uniform");
             return std::make_unique<Dense<T>>(s.integer("units", 1), init);
         }},
        {"relu", [](const LayerSpec& s) -> std::unique_ptr<Layer<T>> { s.only({}); return std::make_unique<Activation<T>>(ActKind::ReLU); }},
        {"sigmoid", [](const LayerSpec& s) -> std::unique_ptr<Layer<T>> { s.only({}); return std::make_unique<Activation<T>>(ActKind::Sigmoid); }},
        {"tanh", [](const LayerSpec& s) -> std::unique_ptr<Layer<T>> { s.only({}); return std::make_unique<Activation<T>>(ActKind::Tanh); }},
        {"dropout",
         [](const LayerSpec& s) -> std::unique_ptr<Layer<T>> {
             s.only({"rate"});
             return std::make_unique<Dropout<T>>(s.number("rate", 0.5, 0.0, 1.0, LayerSpec::ClosedOpen));
         }},
        // CNN layers (src/nn/conv.cpp parses their keys).
        {"conv2d", [](const LayerSpec& s) { return make_cnn_layer<T>(s.spec, s.where); }},
        {"maxpool2d", [](const LayerSpec& s) { return make_cnn_layer<T>(s.spec, s.where); }},
        {"avgpool2d", [](const LayerSpec& s) { return make_cnn_layer<T>(s.spec, s.where); }},
        {"global_avg_pool", [](const LayerSpec& s) { return make_cnn_layer<T>(s.spec, s.where); }},
        {"batchnorm", [](const LayerSpec& s) { return make_cnn_layer<T>(s.spec, s.where); }},
        {"flatten", [](const LayerSpec& s) { return make_cnn_layer<T>(s.spec, s.where); }},
    };
    return r;
}

}  // namespace

std::vector<std::string> layer_types() {
    std::vector<std::string> names;
    for (const auto& [k, v] : registry<float>()) names.push_back(k);
    return names;
}

template <typename T>
std::unique_ptr<Layer<T>> make_layer(const nlohmann::json& spec, const std::string& where) {
    if (!spec.is_object()) throw Error(where + ": a layer must be a JSON object like {\"type\":\"dense\",\"units\":64}, got " + dump_json(spec));
    if (!spec.contains("type") || !spec["type"].is_string()) throw Error(where + ": missing string key 'type'");
    const auto type = spec["type"].get<std::string>();
    const auto& r = registry<T>();
    auto it = r.find(type);
    if (it == r.end()) {
        std::string list;
        for (const auto& n : layer_types()) list += (list.empty() ? "" : ", ") + n;
        throw Error(where + ": unknown layer type '" + type + "' (known: " + list + ")");
    }
    return it->second(LayerSpec{spec, where});
}

template class Dense<float>;
template class Dense<double>;
template class Activation<float>;
template class Activation<double>;
template class Dropout<float>;
template class Dropout<double>;
template std::unique_ptr<Layer<float>> make_layer<float>(const nlohmann::json&, const std::string&);
template std::unique_ptr<Layer<double>> make_layer<double>(const nlohmann::json&, const std::string&);

}  // namespace genrekit::nn
