// Optimizers over the network's flat parameter buffer. State (momentum, moments) is
// indexed by parameter position in that buffer, never by address.
//
//   OptimizerParams op;  op.type = "adam"; op.lr = 1e-3;
//   auto opt = make_optimizer(op, net.num_params());
//   opt->step(net.params(), net.grads(), net.num_params());   // after backward
//   opt->set_lr(opt->lr() * 0.5);                             // e.g. ReduceLROnPlateau
//
// Weight decay: for "sgd", "adam" and "rmsprop" it is the classic L2 penalty added to
// the gradient (g += wd * p), exactly as PyTorch's `weight_decay` argument for those
// classes; "adamw" applies DECOUPLED decay (p -= lr * wd * p) as torch.optim.AdamW.
// Like PyTorch with a single parameter group, decay applies to every parameter (biases too);
// BatchNorm's running statistics are not parameters (Network::buffers()) and never see it.
#pragma once

#include <cstddef>
#include <memory>
#include <string>
#include <vector>


namespace genrekit::nn {

class ThreadPool;  // src/simd/thread_pool.hpp

struct OptimizerParams {
    std::string type = "adam";  // sgd | adam | adamw | rmsprop
    double lr = 1e-3;
    double weight_decay = 0.0;
    double momentum = 0.0;      // sgd, rmsprop
    double beta1 = 0.9;         // adam, adamw
    double beta2 = 0.999;       // adam, adamw
    double alpha = 0.99;        // rmsprop smoothing constant
    double eps = 1e-8;          // adam, adamw, rmsprop
};

class Optimizer {
public:
    virtual ~Optimizer() = default;
    // p -= update(g). `n` must equal the size given to make_optimizer.
    virtual void step(float* p, const float* g, std::size_t n) = 0;
    double lr() const { return lr_; }
    void set_lr(double lr) { lr_ = lr; }
    long steps() const { return t_; }
    // Threads the update may be split over (element ranges; same result for any pool size).
    void set_pool(ThreadPool* pool) { pool_ = pool; }

protected:
    explicit Optimizer(double lr) : lr_(lr) {}
    double lr_;
    long t_ = 0;
    ThreadPool* pool_ = nullptr;
};

// Throws genrekit::Error naming the field when a parameter is out of range.
std::unique_ptr<Optimizer> make_optimizer(const OptimizerParams& params, std::size_t num_params);

}  // namespace genrekit::nn
