#include "simd/hpss_mask_kernels.hpp"

#include <algorithm>
#include <limits>

#include "simd/hpss_median_kernels.hpp"
#include "simd/variants.hpp"
#include "simd/vec.hpp"

namespace genrekit::simd::hpss {
namespace {

// softmask_p2 (see the header), written branch-free so that it vectorises.
[[gnu::always_inline]] inline void softmask_p2_body(const float* x, const float* ref, float margin, float zero_value,
                                                    float* mask, std::ptrdiff_t n) {
    const float tiny = std::numeric_limits<float>::min();
    for (std::ptrdiff_t i = 0; i < n; ++i) {
        const float a0 = x[i], r = ref[i] * margin;
        const float z = a0 > r ? a0 : r;
        const bool bad = z < tiny;
        const float zz = bad ? 1.0f : z;
        float a = a0 / zz, b = r / zz;
        a = a * a;
        b = b * b;
        const float m = a / (a + b);
        mask[i] = bad ? zero_value : m;
    }
}

// softmask_p2_strips (see the header) for strips of L lanes.
template <int L>
[[gnu::always_inline]] inline void softmask_p2_strips_body(const float* strips, int nt, int t0, int cnt, int nb,
                                                           const float* ref, float margin, float zero_value,
                                                           float* mask) {
    constexpr int W = kStrip * L, kAhead = 8;
    for (int t = t0; t < t0 + cnt; ++t) {
        const std::ptrdiff_t c = static_cast<std::ptrdiff_t>(t - t0) * nb;
        for (int s0 = 0, si = 0; s0 < nb; s0 += W, ++si) {
            const float* x = strips + (static_cast<std::ptrdiff_t>(si) * nt + t) * W;
            // Each strip is a stream of its own (17 for 1025 bins): ask for the medians of a few
            // frames ahead (addresses past the strip are only prefetched, never read).
            for (int q = 0; q < W; q += 16) __builtin_prefetch(x + kAhead * W + q);
            if (s0 + W <= nb) {
                softmask_p2_body(x, ref + c + s0, margin, zero_value, mask + c + s0, W);
            } else {
                for (int g = 0; g < kStrip; ++g) {
                    const int b0 = std::min(s0 + g * L, nb - L);
                    softmask_p2_body(x + g * L, ref + c + b0, margin, zero_value, mask + c + b0, L);
                }
            }
        }
    }
}

// Eight samples per vector with the same IEEE division and subtraction as one at a time.
[[gnu::always_inline]] inline void divide_by_window_body(const float* y, const float* w, std::size_t n, float* out,
                                                         const float* signal, float* residual) {
    const float tiny = std::numeric_limits<float>::min();
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const V8f yv = load<V8f>(y + i), wv = load<V8f>(w + i);
        const V8f o = wv > tiny ? yv / wv : yv;
        store(out + i, o);
        if (residual) store(residual + i, load<V8f>(signal + i) - o);
    }
    for (; i < n; ++i) {
        out[i] = w[i] > tiny ? y[i] / w[i] : y[i];
        if (residual) residual[i] = signal[i] - out[i];
    }
}

#define GENREKIT_HPSS_MASK_VARIANT(NS, ATTR, ISA)                                                              \
    namespace NS {                                                                                             \
    ATTR void softmask_p2(const float* x, const float* ref, float margin, float zero_value, float* mask,       \
                          std::ptrdiff_t n) {                                                                  \
        softmask_p2_body(x, ref, margin, zero_value, mask, n);                                                 \
    }                                                                                                          \
    ATTR void softmask_p2_strips(const float* strips, int lanes, int nt, int t0, int cnt, int nb,              \
                                 const float* ref, float margin, float zero_value, float* mask) {              \
        if (lanes == kMaxLanes)                                                                                \
            return softmask_p2_strips_body<kMaxLanes>(strips, nt, t0, cnt, nb, ref, margin, zero_value, mask); \
        softmask_p2_strips_body<8>(strips, nt, t0, cnt, nb, ref, margin, zero_value, mask);                    \
    }                                                                                                          \
    ATTR void divide_by_window(const float* y, const float* w, std::size_t n, float* out, const float* signal, \
                               float* residual) {                                                              \
        divide_by_window_body(y, w, n, out, signal, residual);                                                 \
    }                                                                                                          \
    }

GENREKIT_SIMD_STAMP(GENREKIT_HPSS_MASK_VARIANT)

}  // namespace

void softmask_p2(const float* x, const float* ref, float margin, float zero_value, float* mask, std::ptrdiff_t n) {
    GENREKIT_SIMD_PICK(softmask_p2)(x, ref, margin, zero_value, mask, n);
}

void softmask_p2_strips(const float* strips, int lanes, int nt, int t0, int cnt, int nb, const float* ref,
                        float margin, float zero_value, float* mask) {
    GENREKIT_SIMD_PICK(softmask_p2_strips)(strips, lanes, nt, t0, cnt, nb, ref, margin, zero_value, mask);
}

void divide_by_window(const float* y, const float* w, std::size_t n, float* out, const float* signal,
                      float* residual) {
    GENREKIT_SIMD_PICK(divide_by_window)(y, w, n, out, signal, residual);
}

}  // namespace genrekit::simd::hpss
