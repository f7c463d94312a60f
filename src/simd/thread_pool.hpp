// A small persistent thread pool for the training loop (no work stealing, no queues).
//
//   genrekit::nn::ThreadPool pool(2);          // the caller plus one worker thread
//   pool.run(pool.size(), [&](int part) { ... part in [0, size) ... });   // returns when all parts are done
//   auto [lo, hi] = genrekit::nn::ThreadPool::range(n, parts, part, 8);   // fixed chunk of [0, n), aligned to 8
//
// Determinism: work is split by FIXED index ranges (range()), never by who finishes first,
// and every kernel computes each output element with the same arithmetic whatever the range
// it belongs to, so results do not depend on the number of threads (see simd/nn_kernels.hpp).
// Workers spin briefly and then sleep on a futex (std::atomic::wait), so an idle pool costs nothing.
// One pool serves a whole training loop (nn::shared_pool() is the one the CNN layers use too): two
// pools on the same cores would spin against each other between parallel regions.
// run() from inside one of this pool's parts runs the parts inline (same ranges, same results), and
// calls from different threads take turns.
#pragma once

#include <atomic>
#include <cstddef>
#include <mutex>
#include <thread>
#include <utility>
#include <vector>

namespace genrekit::nn {

class ThreadPool {
public:
    explicit ThreadPool(int threads);  // threads >= 1; threads - 1 workers are started
    ~ThreadPool();
    ThreadPool(const ThreadPool&) = delete;
    ThreadPool& operator=(const ThreadPool&) = delete;

    int size() const { return static_cast<int>(workers_.size()) + 1; }

    // Calls fn(part) once for every part in [0, parts), on the caller and the workers. With
    // parts == size(), part 0 runs on the caller and part i on worker i, every time.
    // Nested calls (fn calling run() on this pool) run their parts inline on the calling thread.
    // fn must not throw (parallel_for catches for its bodies).
    template <typename Fn>
    void run(int parts, Fn&& fn) {
        auto thunk = [](void* ctx, int i) { (*static_cast<std::remove_reference_t<Fn>*>(ctx))(i); };
        run_impl(parts, thunk, &fn);
    }

    // The part-th of `parts` contiguous chunks of [0, n); chunk boundaries are multiples of `align`.
    static std::pair<std::ptrdiff_t, std::ptrdiff_t> range(std::ptrdiff_t n, int parts, int part, std::ptrdiff_t align = 1);

private:
    void run_impl(int parts, void (*call)(void*, int), void* ctx);
    void worker_loop(int self);
    void work(int self);

    std::vector<std::thread> workers_;
    std::mutex turn_;  // one run() at a time when several threads share the pool
    void (*call_)(void*, int) = nullptr;
    void* ctx_ = nullptr;
    int parts_ = 0;
    std::atomic<int> next_{0}, pending_{0};
    std::atomic<unsigned> generation_{0};
    std::atomic<bool> stop_{false};
};

}  // namespace genrekit::nn
