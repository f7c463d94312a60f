#include "simd/nn_kernels.hpp"

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <cstring>

#include "simd/nn_kernels_avx2.hpp"
#include "simd/nn_kernels_avx512.hpp"

namespace genrekit::nn::kernels {
namespace {

enum Isa : int { kGeneric = 0, kAvx2 = 1, kAvx512 = 2 };

// The best kernels this CPU runs; GENREKIT_NN_KERNELS=generic or =avx2 caps the choice.
Isa cpu_isa() {
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (!__builtin_cpu_supports("avx2") || !__builtin_cpu_supports("fma")) return kGeneric;
    const char* env = std::getenv("GENREKIT_NN_KERNELS");
    if (env && std::strcmp(env, "generic") == 0) return kGeneric;
    if (env && std::strcmp(env, "avx2") == 0) return kAvx2;
    const bool avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl") &&
                        __builtin_cpu_supports("avx512bw");
    return avx512 ? kAvx512 : kAvx2;
#else
    return kGeneric;
#endif
}

const Isa kCpuIsa = cpu_isa();
std::atomic<int> g_cap{kAvx512};  // lowered by force_generic / force_avx2 (tests)

Isa active() { return static_cast<Isa>(std::min<int>(kCpuIsa, g_cap.load(std::memory_order_relaxed))); }

int parts_of(ThreadPool* pool) { return pool ? pool->size() : 1; }

template <typename Fn>
void parallel(ThreadPool* pool, Fn&& fn) {
    if (pool && pool->size() > 1) pool->run(pool->size(), fn);
    else fn(0);
}

}  // namespace

bool avx2_active() { return active() >= kAvx2; }
const char* active_isa() {
    static const char* const names[] = {"generic", "avx2", "avx512"};
    return names[active()];
}
void force_generic(bool on) { g_cap.store(on ? kGeneric : kAvx512); }
void force_avx2(bool on) { g_cap.store(on ? kAvx2 : kAvx512); }

bool dense_forward(const float* w, const float* b, const float* x, float* y, Index O, Index F, Index N, ThreadPool* pool,
                   std::vector<float>& scratch) {
    const Isa isa = active();
    if (isa == kGeneric) return false;
    const int parts = parts_of(pool);
    if (O >= 64) {
        // Many outputs, few features (the seed config's 57 -> 5000): vectorise along samples with x^T
        // packed once, zero-padded to whole vectors (8 or 16 samples).
        const Index lanes = isa == kAvx512 ? 16 : 8;
        const Index np = (N + lanes - 1) / lanes * lanes;
        scratch.resize(static_cast<std::size_t>(F * np));
        avx2::pack_xt(x, F, N, np, scratch.data());
        const float* xt = scratch.data();
        parallel(pool, [&](int part) {
            const auto [o0, o1] = ThreadPool::range(O, parts, part, 8);
            if (o0 >= o1) return;
            if (isa == kAvx512) avx512::forward_otile(w, b, xt, np, y, O, F, N, o0, o1);
            else avx2::forward_otile(w, b, xt, np, y, O, F, N, o0, o1);
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
    const Isa isa = active();
    if (isa == kGeneric) return false;
    const int parts = parts_of(pool);
    parallel(pool, [&](int part) {
        const auto [o0, o1] = ThreadPool::range(O, parts, part);
        if (o0 < o1) {
            if (isa == kAvx512) avx512::backward_weights(x, dy, dw, db, O, F, N, o0, o1);
            else avx2::backward_weights(x, dy, dw, db, O, F, N, o0, o1);
        }
        if (dx) {
            const auto [n0, n1] = ThreadPool::range(N, parts, part);
            if (n0 >= n1) return;
            if (isa == kAvx512) avx512::backward_input(w, dy, dx, O, F, n0, n1);
            else avx2::backward_input(w, dy, dx, O, F, n0, n1);
        }
    });
    return true;
}

bool sigmoid(const float* x, float* y, Index n, ThreadPool* pool) {
    const Isa isa = active();
    if (isa == kGeneric) return false;
    const int parts = parts_of(pool);
    parallel(pool, [&](int part) {
        const auto [i0, i1] = ThreadPool::range(n, parts, part, 16);
        if (i0 >= i1) return;
        if (isa == kAvx512) avx512::sigmoid(x, y, i0, i1);
        else avx2::sigmoid(x, y, i0, i1);
    });
    return true;
}

bool adam_step(float* p, const float* g, float* m, float* v, Index n, const AdamArgs& a, ThreadPool* pool) {
    const Isa isa = active();
    if (isa == kGeneric) return false;
    const int parts = parts_of(pool);
    parallel(pool, [&](int part) {
        const auto [i0, i1] = ThreadPool::range(n, parts, part, 16);
        if (i0 >= i1) return;
        auto* step = isa == kAvx512 ? avx512::adam : avx2::adam;
        step(p, g, m, v, i0, i1, a.b1, a.b2, a.step_size, a.inv_sqrt_bc2, a.eps, a.wd, a.decay, a.mode);
    });
    return true;
}

bool maxpool2x2_available() { return active() == kAvx512; }

void maxpool2x2_row(const float* a, const float* b, int row_offset, int W, int Wo, float* y, int* arg) {
    avx512::maxpool2x2_row(a, b, row_offset, W, Wo, y, arg);
}

}  // namespace genrekit::nn::kernels
