#include "genrekit/nn/kernels.hpp"

#include <atomic>
#include <cstdlib>
#include <cstring>

#include "kernels_avx2.hpp"

namespace genrekit::nn::kernels {
namespace {

bool cpu_has_avx2() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) return false;
    const char* env = std::getenv("GENREKIT_NN_KERNELS");
    return !(env && std::strcmp(env, "generic") == 0);
#else
    return false;
#endif
}

const bool kCpuAvx2 = cpu_has_avx2();
std::atomic<bool> g_force_generic{false};

int parts_of(ThreadPool* pool) { return pool ? pool->size() : 1; }

template <typename Fn>
void parallel(ThreadPool* pool, Fn&& fn) {
    if (pool && pool->size() > 1) pool->run(pool->size(), fn);
    else fn(0);
}

}  // namespace

bool avx2_active() { return kCpuAvx2 && !g_force_generic.load(std::memory_order_relaxed); }
const char* active_isa() { return avx2_active() ? "avx2" : "generic"; }
void force_generic(bool on) { g_force_generic.store(on); }

bool dense_forward(const float* w, const float* b, const float* x, float* y, Index O, Index F, Index N, ThreadPool* pool,
                   std::vector<float>& scratch) {
    if (!avx2_active()) return false;
    const int parts = parts_of(pool);
    if (O >= 64) {
        // Many outputs, few features (the seed config's 57 -> 5000): vectorise along samples with x^T packed once.
        const Index np = (N + 7) / 8 * 8;
        scratch.resize(static_cast<std::size_t>(F * np));
        avx2::pack_xt(x, F, N, np, scratch.data());
        const float* xt = scratch.data();
        parallel(pool, [&](int part) {
            const auto [o0, o1] = ThreadPool::range(O, parts, part, 8);
            if (o0 < o1) avx2::forward_otile(w, b, xt, np, y, O, F, N, o0, o1);
        });
    } else {
        // Few outputs (the 5000 -> 10 classifier): dot products along F, split by samples.
        parallel(pool, [&](int part) {
            const auto [n0, n1] = ThreadPool::range(N, parts, part);
            if (n0 < n1) avx2::forward_dot(w, b, x, y, O, F, n0, n1);
        });
    }
    return true;
}

bool dense_backward(const float* w, const float* x, const float* dy, float* dw, float* db, float* dx, Index O, Index F, Index N,
                    ThreadPool* pool) {
    if (!avx2_active()) return false;
    const int parts = parts_of(pool);
    parallel(pool, [&](int part) {
        const auto [o0, o1] = ThreadPool::range(O, parts, part);
        if (o0 < o1) avx2::backward_weights(x, dy, dw, db, O, F, N, o0, o1);
        if (dx) {
            const auto [n0, n1] = ThreadPool::range(N, parts, part);
            if (n0 < n1) avx2::backward_input(w, dy, dx, O, F, n0, n1);
        }
    });
    return true;
}

bool sigmoid(const float* x, float* y, Index n, ThreadPool* pool) {
    if (!avx2_active()) return false;
    const int parts = parts_of(pool);
    parallel(pool, [&](int part) {
        const auto [i0, i1] = ThreadPool::range(n, parts, part, 8);
        if (i0 < i1) avx2::sigmoid(x, y, i0, i1);
    });
    return true;
}

bool adam_step(float* p, const float* g, float* m, float* v, Index n, const AdamArgs& a, ThreadPool* pool) {
    if (!avx2_active()) return false;
    const int parts = parts_of(pool);
    parallel(pool, [&](int part) {
        const auto [i0, i1] = ThreadPool::range(n, parts, part, 8);
        if (i0 < i1) avx2::adam(p, g, m, v, i0, i1, a.b1, a.b2, a.step_size, a.inv_sqrt_bc2, a.eps, a.wd, a.decay, a.mode);
    });
    return true;
}

}  // namespace genrekit::nn::kernels
