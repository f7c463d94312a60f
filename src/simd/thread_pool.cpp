#include "simd/thread_pool.hpp"

#include "genrekit/error.hpp"
#include "simd/spin_pause.hpp"

namespace genrekit::nn {

namespace {
constexpr int kSpins = 4000;  // ~tens of microseconds of spinning before sleeping
thread_local const ThreadPool* t_running = nullptr;  // the pool whose part this thread is running
}

ThreadPool::ThreadPool(int threads) {
    if (threads < 1 || threads > 256) throw Error("threads = " + std::to_string(threads) + " must be in [1, 256]");
    for (int i = 1; i < threads; ++i) workers_.emplace_back([this, i] { worker_loop(i); });
}

ThreadPool::~ThreadPool() {
    stop_.store(true, std::memory_order_release);
    generation_.fetch_add(1, std::memory_order_acq_rel);
    generation_.notify_all();
    for (auto& t : workers_) t.join();
}

std::pair<std::ptrdiff_t, std::ptrdiff_t> ThreadPool::range(std::ptrdiff_t n, int parts, int part, std::ptrdiff_t align) {
    const std::ptrdiff_t blocks = (n + align - 1) / align;
    const std::ptrdiff_t lo = blocks * part / parts * align, hi = blocks * (part + 1) / parts * align;
    return {lo < n ? lo : n, hi < n ? hi : n};
}

void ThreadPool::work(int self) {
    // One part per thread: a fixed assignment, so part p's data (the same rows of the weights,
    // gradients and Adam moments, region after region) stays in one core's cache.
    if (parts_ == size()) return call_(ctx_, self);
    for (int i; (i = next_.fetch_add(1, std::memory_order_relaxed)) < parts_;) call_(ctx_, i);
}

void ThreadPool::run_impl(int parts, void (*call)(void*, int), void* ctx) {
    if (workers_.empty() || parts <= 1 || t_running == this) {
        for (int i = 0; i < parts; ++i) call(ctx, i);
        return;
    }
    std::lock_guard<std::mutex> turn(turn_);
    struct Running {  // restored on the way out, exceptions included
        const ThreadPool* outer = t_running;
        explicit Running(const ThreadPool* p) { t_running = p; }
        ~Running() { t_running = outer; }
    } running(this);
    call_ = call;
    ctx_ = ctx;
    parts_ = parts;
    next_.store(0, std::memory_order_relaxed);
    pending_.store(static_cast<int>(workers_.size()), std::memory_order_relaxed);
    generation_.fetch_add(1, std::memory_order_release);  // publishes the job
    generation_.notify_all();
    work(0);
    for (int spin = 0;; ++spin) {
        const int p = pending_.load(std::memory_order_acquire);
        if (p == 0) break;
        if (spin < kSpins) simd::spin_pause();
        else pending_.wait(p, std::memory_order_acquire);
    }
}

void ThreadPool::worker_loop(int self) {
    t_running = this;
    unsigned seen = 0;  // the generation at construction: a job published before this thread ran is still seen
    for (;;) {
        unsigned g;
        for (int spin = 0; (g = generation_.load(std::memory_order_acquire)) == seen; ++spin) {
            if (spin < kSpins) simd::spin_pause();
            else generation_.wait(seen, std::memory_order_acquire);
        }
        seen = g;
        if (stop_.load(std::memory_order_acquire)) return;
        work(self);
        if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) pending_.notify_one();
    }
}

}  // namespace genrekit::nn
