#include "genrekit/nn/parallel.hpp"

#include <algorithm>
#include <condition_variable>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace genrekit::nn {
namespace {

thread_local bool t_inside = false;

class Pool {
public:
    ~Pool() { resize(1); }

    int size() const { return size_; }

    void resize(int n) {
        n = std::clamp(n, 1, 64);
        if (n == size_) return;
        {
            std::lock_guard<std::mutex> l(m_);
            stop_ = true;
            ++generation_;
        }
        cv_.notify_all();
        for (auto& t : threads_) t.join();
        threads_.clear();
        stop_ = false;
        size_ = n;
        for (int w = 1; w < n; ++w) threads_.emplace_back([this, w] { loop(w); });
    }

    void run(std::int64_t n, const std::function<void(std::int64_t, std::int64_t, int)>& body) {
        const int workers = static_cast<int>(std::min<std::int64_t>(size_, n));
        if (workers <= 1 || t_inside) {
            if (n > 0) body(0, n, 0);
            return;
        }
        std::unique_lock<std::mutex> call(call_m_);  // one parallel region at a time
        {
            std::lock_guard<std::mutex> l(m_);
            body_ = &body;
            n_ = n;
            active_ = workers;
            pending_ = workers - 1;
            error_ = nullptr;
            ++generation_;
        }
        cv_.notify_all();
        t_inside = true;
        try {
            chunk(0);
        } catch (...) {
            std::lock_guard<std::mutex> l(m_);
            if (!error_) error_ = std::current_exception();
        }
        t_inside = false;
        std::unique_lock<std::mutex> l(m_);
        done_cv_.wait(l, [this] { return pending_ == 0; });
        body_ = nullptr;
        if (error_) std::rethrow_exception(error_);
    }

private:
    void chunk(int w) {
        const std::int64_t begin = n_ * w / active_, end = n_ * (w + 1) / active_;
        if (begin < end) (*body_)(begin, end, w);
    }

    void loop(int w) {
        std::uint64_t seen = 0;
        t_inside = true;
        while (true) {
            std::unique_lock<std::mutex> l(m_);
            cv_.wait(l, [&] { return stop_ || generation_ != seen; });
            if (stop_) return;
            seen = generation_;
            if (w >= active_ || !body_) continue;
            l.unlock();
            try {
                chunk(w);
            } catch (...) {
                std::lock_guard<std::mutex> g(m_);
                if (!error_) error_ = std::current_exception();
            }
            l.lock();
            if (--pending_ == 0) done_cv_.notify_one();
        }
    }

    int size_ = 1;
    std::vector<std::thread> threads_;
    std::mutex m_, call_m_;
    std::condition_variable cv_, done_cv_;
    bool stop_ = false;
    std::uint64_t generation_ = 0;
    const std::function<void(std::int64_t, std::int64_t, int)>* body_ = nullptr;
    std::int64_t n_ = 0;
    int active_ = 0, pending_ = 0;
    std::exception_ptr error_;
};

Pool& pool() {
    static Pool p;
    return p;
}

}  // namespace

void set_num_threads(int n) { pool().resize(n); }
int num_threads() { return pool().size(); }

void parallel_for(std::int64_t n, const std::function<void(std::int64_t, std::int64_t, int)>& body) { pool().run(n, body); }

}  // namespace genrekit::nn
