#include "nn/parallel.hpp"

#include <algorithm>
#include <exception>
#include <memory>
#include <mutex>
#include <vector>

namespace genrekit::nn {
namespace {

thread_local bool t_inside = false;  // inside a parallel_for body: nested calls run inline

struct Shared {
    std::mutex m;  // guards resizing against a running parallel_for
    std::unique_ptr<ThreadPool> pool = std::make_unique<ThreadPool>(1);
};

Shared& shared() {
    static Shared s;
    return s;
}

}  // namespace

void set_num_threads(int n) {
    n = std::clamp(n, 1, 64);
    auto& s = shared();
    std::lock_guard<std::mutex> l(s.m);
    if (s.pool->size() != n) s.pool = std::make_unique<ThreadPool>(n);
}

int num_threads() { return shared().pool->size(); }

ThreadPool* shared_pool() { return shared().pool.get(); }

void parallel_for(std::int64_t n, const std::function<void(std::int64_t, std::int64_t, int)>& body) {
    struct Inside {  // marks this thread as inside a body, exceptions included
        bool outer = t_inside;
        Inside() { t_inside = true; }
        ~Inside() { t_inside = outer; }
    };
    if (n <= 0) return;
    auto& s = shared();
    std::unique_lock<std::mutex> l(s.m, std::defer_lock);
    if (!t_inside) l.lock();
    const int workers = t_inside ? 1 : static_cast<int>(std::min<std::int64_t>(s.pool->size(), n));
    if (workers <= 1) {
        if (l.owns_lock()) l.unlock();
        Inside in;
        body(0, n, 0);
        return;
    }
    std::vector<std::exception_ptr> errors(static_cast<std::size_t>(workers));
    s.pool->run(workers, [&](int w) {
        Inside in;
        try {
            const std::int64_t begin = n * w / workers, end = n * (w + 1) / workers;
            if (begin < end) body(begin, end, w);
        } catch (...) {
            errors[static_cast<std::size_t>(w)] = std::current_exception();
        }
    });
    for (auto& e : errors)
        if (e) std::rethrow_exception(e);
}

}  // namespace genrekit::nn
