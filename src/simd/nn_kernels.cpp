#include "simd/nn_kernels.hpp"

#include "simd/isa.hpp"
#include "simd/nn_kernels_avx2.hpp"
#include "simd/nn_kernels_avx512.hpp"

namespace genrekit::nn::kernels {
namespace {

// One variant's kernels over index ranges. pack_xt and forward_dot have one (AVX2) version for both.
struct Variant {
    decltype(&avx2::pack_xt) pack_xt;
    decltype(&avx2::forward_otile) forward_otile;
    Index otile_lanes;  // forward_otile's samples per vector: xt is padded to a multiple of it
    decltype(&avx2::forward_dot) forward_dot;
    decltype(&avx2::backward_weights) backward_weights;
    decltype(&avx2::backward_input) backward_input;
    decltype(&avx2::sigmoid) sigmoid;
    decltype(&avx2::adam) adam;
};

// The kernels for simd::isa(), asked on every call; nullptr at Isa::baseline (the caller's Eigen path).
const Variant* variant() {
#if GENREKIT_SIMD_VARIANTS
    static constexpr Variant kAvx2{avx2::pack_xt, avx2::forward_otile, 8, avx2::forward_dot,
                                   avx2::backward_weights, avx2::backward_input, avx2::sigmoid, avx2::adam};
    static constexpr Variant kAvx512{avx2::pack_xt, avx512::forward_otile, 16, avx2::forward_dot,
                                     avx512::backward_weights, avx512::backward_input, avx512::sigmoid, avx512::adam};
    return simd::pick<const Variant*>(nullptr, &kAvx2, &kAvx512);
#else
    return nullptr;
#endif
}

int parts_of(ThreadPool* pool) { return pool ? pool->size() : 1; }

template <typename Fn>
void parallel(ThreadPool* pool, Fn&& fn) {
    if (pool && pool->size() > 1) pool->run(pool->size(), fn);
    else fn(0);
}

}  // namespace

bool dense_forward(const float* w, const float* b, const float* x, float* y, Index O, Index F, Index N, ThreadPool* pool,
                   std::vector<float>& scratch) {
    const Variant* k = variant();
    if (!k) return false;
    const int parts = parts_of(pool);
    if (O >= 64) {
        // Many outputs, few features (the seed config's 57 -> 5000): vectorise along samples with x^T
        // packed once, zero-padded to whole vectors (8 or 16 samples).
        const Index lanes = k->otile_lanes;
        const Index np = (N + lanes - 1) / lanes * lanes;
        scratch.resize(static_cast<std::size_t>(F * np));
        k->pack_xt(x, F, N, np, scratch.data());
        const float* xt = scratch.data();
        parallel(pool, [&](int part) {
            const auto [o0, o1] = ThreadPool::range(O, parts, part, 8);
            if (o0 >= o1) return;
            k->forward_otile(w, b, xt, np, y, O, F, N, o0, o1);
        });
    } else {
        // Few outputs (the 5000 -> 10 classifier): dot products along F, split by samples.
        parallel(pool, [&](int part) {
            const auto [n0, n1] = ThreadPool::range(N, parts, part);
            if (n0 < n1) k->forward_dot(w, b, x, y, O, F, n0, n1);
        });
    }
    return true;
}

bool dense_backward(const float* w, const float* x, const float* dy, float* dw, float* db, float* dx, Index O, Index F, Index N,
                    ThreadPool* pool) {
    const Variant* k = variant();
    if (!k) return false;
    const int parts = parts_of(pool);
    parallel(pool, [&](int part) {
        const auto [o0, o1] = ThreadPool::range(O, parts, part);
        if (o0 < o1) k->backward_weights(x, dy, dw, db, O, F, N, o0, o1);
        if (dx) {
            const auto [n0, n1] = ThreadPool::range(N, parts, part);
            if (n0 < n1) k->backward_input(w, dy, dx, O, F, n0, n1);
        }
    });
    return true;
}

bool sigmoid(const float* x, float* y, Index n, ThreadPool* pool) {
    const Variant* k = variant();
    if (!k) return false;
    const int parts = parts_of(pool);
    parallel(pool, [&](int part) {
        const auto [i0, i1] = ThreadPool::range(n, parts, part, 16);
        if (i0 < i1) k->sigmoid(x, y, i0, i1);
    });
    return true;
}

bool adam_step(float* p, const float* g, float* m, float* v, Index n, const AdamArgs& a, ThreadPool* pool) {
    const Variant* k = variant();
    if (!k) return false;
    const int parts = parts_of(pool);
    parallel(pool, [&](int part) {
        const auto [i0, i1] = ThreadPool::range(n, parts, part, 16);
        if (i0 < i1) k->adam(p, g, m, v, i0, i1, a.b1, a.b2, a.step_size, a.inv_sqrt_bc2, a.eps, a.wd, a.decay, a.mode);
    });
    return true;
}

namespace {
template <typename T>
void maxpool2x2_row_scalar(const T* a, const T* b, std::int64_t row_offset, std::int64_t W, std::int64_t Wo, T* y, std::int32_t* arg) {
    for (std::int64_t wo = 0; wo < Wo; ++wo) {
        // Branch-free (selects, not jumps): the winner is data-dependent and unpredictable.
        const T a0 = a[2 * wo], a1 = a[2 * wo + 1], b0 = b[2 * wo], b1 = b[2 * wo + 1];
        const bool ga = a1 > a0, gb = b1 > b0;
        const T ma = ga ? a1 : a0, mb = gb ? b1 : b0;
        const std::int32_t ka = ga ? 1 : 0, kb = static_cast<std::int32_t>(W) + (gb ? 1 : 0);
        const bool gm = mb > ma;  // ties keep the first row: scan order a0, a1, b0, b1
        y[wo] = gm ? mb : ma;
        arg[wo] = static_cast<std::int32_t>(row_offset + 2 * wo) + (gm ? kb : ka);
    }
}
}  // namespace

bool maxpool2x2_vectorised() { return simd::isa() == simd::Isa::avx512; }

void maxpool2x2_row(const float* a, const float* b, std::int64_t row_offset, std::int64_t W, std::int64_t Wo, float* y,
                    std::int32_t* arg) {
#if GENREKIT_SIMD_VARIANTS
    // The vector kernel computes indices in int32 lanes: up to row_offset + W + 2 Wo.
    if (maxpool2x2_vectorised() && row_offset + W + 2 * Wo < (std::int64_t(1) << 31)) {
        avx512::maxpool2x2_row(a, b, static_cast<int>(row_offset), static_cast<int>(W), static_cast<int>(Wo), y, arg);
        return;
    }
#endif
    maxpool2x2_row_scalar(a, b, row_offset, W, Wo, y, arg);
}

void maxpool2x2_row(const double* a, const double* b, std::int64_t row_offset, std::int64_t W, std::int64_t Wo, double* y,
                    std::int32_t* arg) {
    maxpool2x2_row_scalar(a, b, row_offset, W, Wo, y, arg);
}

}  // namespace genrekit::nn::kernels
