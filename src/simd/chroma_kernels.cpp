#include "simd/chroma_kernels.hpp"

#include <cstring>
#include <limits>

#include "simd/lanes.hpp"
#include "simd/variants.hpp"
#include "simd/vec.hpp"

namespace genrekit::simd::chroma {

namespace {

// ---------------------------------------------------------------------------------------------
// The projection.
// ---------------------------------------------------------------------------------------------

// A row's 8 lanes summed as a fixed tree, then the tail bins nv .. nb-1 in order.
[[gnu::always_inline]] inline void project_finish(const V8f* acc, std::size_t rows, const float* Wr, std::size_t stride,
                                                  const float* s, std::size_t nv, std::size_t nb, float* c) {
    for (std::size_t r = 0; r < rows; ++r) {
        const V8f a = acc[r];
        float sum = ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
        for (std::size_t b = nv; b < nb; ++b) sum += Wr[r * stride + b] * s[b];
        c[r] = sum;
    }
}

// One frame, 8 bins per vector. Inlined with rows = kProjectMaxRows (the chroma default) the
// accumulators stay in registers.
[[gnu::always_inline]] inline void project_frame(const float* Wr, std::size_t rows, std::size_t stride, const float* s,
                                                 std::size_t nb, float* c) {
    const std::size_t nv = nb - nb % 8;
    V8f acc[kProjectMaxRows];
    for (std::size_t r = 0; r < rows; ++r) acc[r] = V8f{};
    for (std::size_t b = 0; b < nv; b += 8) {
        const V8f x = load<V8f>(s + b);
        for (std::size_t r = 0; r < rows; ++r) acc[r] += load<V8f>(Wr + r * stride + b) * x;
    }
    project_finish(acc, rows, Wr, stride, s, nv, nb, c);
}

// Four frames per step for kChromaRows rows with 16-lane vectors: frames t, t+1 in acc0 and
// t+2, t+3 in acc1, 8 lanes each, every lane seeing project_frame's operations.
constexpr std::size_t kChromaRows = kProjectMaxRows;

[[gnu::always_inline]] inline std::size_t project_four_frames(const float* Wr, std::size_t stride, const float* S,
                                                              std::size_t nb, std::size_t T, float* C) {
    constexpr std::size_t R = kChromaRows;
    const std::size_t nv = nb - nb % 8;
    std::size_t t = 0;
    for (; t + 4 <= T; t += 4) {
        const float* s0 = S + t * nb;
        V16f acc0[R], acc1[R];
        for (std::size_t r = 0; r < R; ++r) acc0[r] = acc1[r] = V16f{};
        for (std::size_t b = 0; b < nv; b += 8) {
            const V8f f0 = load<V8f>(s0 + b), f1 = load<V8f>(s0 + nb + b);
            const V8f f2 = load<V8f>(s0 + 2 * nb + b), f3 = load<V8f>(s0 + 3 * nb + b);
            const V16f x0 = __builtin_shufflevector(f0, f1, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
            const V16f x1 = __builtin_shufflevector(f2, f3, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
            for (std::size_t r = 0; r < R; ++r) {
                const V8f w8 = load<V8f>(Wr + r * stride + b);
                const V16f w = __builtin_shufflevector(w8, w8, 0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 3, 4, 5, 6, 7);
                acc0[r] += w * x0;
                acc1[r] += w * x1;
            }
        }
        V8f part[R];
        for (std::size_t f = 0; f < 4; ++f) {
            const V16f* acc = f < 2 ? acc0 : acc1;
            for (std::size_t r = 0; r < R; ++r)
                part[r] = f % 2 == 0 ? __builtin_shufflevector(acc[r], acc[r], 0, 1, 2, 3, 4, 5, 6, 7)
                                     : __builtin_shufflevector(acc[r], acc[r], 8, 9, 10, 11, 12, 13, 14, 15);
            project_finish(part, R, Wr, stride, s0 + f * nb, nv, nb, C + (t + f) * R);
        }
    }
    return t;
}

template <bool kFourFrames>
[[gnu::always_inline]] inline void project_body(const float* Wr, std::size_t rows, std::size_t stride, const float* S,
                                                std::size_t nb, std::size_t T, float* C) {
    if (rows == kChromaRows) {  // the default n_chroma: rows known here, so the loops unroll
        std::size_t t = 0;
        if constexpr (kFourFrames) t = project_four_frames(Wr, stride, S, nb, T, C);
        for (; t < T; ++t) project_frame(Wr, kChromaRows, stride, S + t * nb, nb, C + t * kChromaRows);
        return;
    }
    for (std::size_t t = 0; t < T; ++t) project_frame(Wr, rows, stride, S + t * nb, nb, C + t * rows);
}

// ---------------------------------------------------------------------------------------------
// The peak picking's scans, W = lanes of V floats at a time.
// ---------------------------------------------------------------------------------------------

template <class V>
[[gnu::always_inline]] inline bool column_max_body(const float* s, std::size_t n, float& max) {
    constexpr std::size_t W = sizeof(V) / sizeof(float);
    constexpr float kLow = -std::numeric_limits<float>::infinity();
    V m = V{} + kLow;
    bool nan = false;
    std::size_t i = 0;
    if (n >= W) {
        decltype(m != m) unordered{};
        for (; i + W <= n; i += W) {
            const V x = load<V>(s + i);
            unordered |= x != x;
            m = x > m ? x : m;
        }
        nan = lane_bits(unordered) != 0;
    }
    float best = kLow;
    for (std::size_t l = 0; l < W; ++l) best = m[l] > best ? m[l] : best;
    for (; i < n; ++i) {
        nan |= s[i] != s[i];
        best = s[i] > best ? s[i] : best;
    }
    if (nan) return false;
    max = best;
    return true;
}

template <class V>
[[gnu::always_inline]] inline void bin_masks_body(const float* s, int lo, int hi, float above_thr, float floor,
                                                  std::uint64_t* above, std::uint64_t* possible) {
    constexpr int W = sizeof(V) / sizeof(float);  // divides 64: a vector's bits never straddle two words
    const int n = hi - lo;
    for (int w = 0; w * 64 < n; ++w) above[w] = possible[w] = 0;
    for (int i = 0; i < n; i += W) {
        V x;
        std::uint64_t keep = ~std::uint64_t{0};
        if (n - i >= W) {
            x = load<V>(s + lo + i);
        } else {  // the last bins, copied: the column may end right after them
            float tail[W] = {};
            std::memcpy(tail, s + lo + i, static_cast<std::size_t>(n - i) * sizeof(float));
            x = load<V>(tail);
            keep = (std::uint64_t{1} << (n - i)) - 1;
        }
        above[i / 64] |= (lane_bits(x > above_thr) & keep) << (i % 64);
        possible[i / 64] |= (lane_bits(~(x <= floor)) & keep) << (i % 64);
    }
}

// The variants: the scans 4, 8 and 16 bins at a time, the projection four frames per step with
// AVX-512.
#define GENREKIT_CHROMA_VARIANT(NS, ATTR, ISA)                                                                  \
    namespace NS {                                                                                              \
    using V = ByIsa<ISA, V4f, V8f, V16f>;                                                                       \
    ATTR void project(const float* Wr, std::size_t rows, std::size_t stride, const float* S, std::size_t nb,    \
                      std::size_t T, float* C) {                                                                \
        project_body<ISA == Isa::avx512>(Wr, rows, stride, S, nb, T, C);                                        \
    }                                                                                                           \
    ATTR bool column_max(const float* s, std::size_t n, float& max) { return column_max_body<V>(s, n, max); }   \
    ATTR void bin_masks(const float* s, int lo, int hi, float above_thr, float floor, std::uint64_t* above,     \
                        std::uint64_t* possible) {                                                              \
        bin_masks_body<V>(s, lo, hi, above_thr, floor, above, possible);                                        \
    }                                                                                                           \
    }

GENREKIT_SIMD_STAMP(GENREKIT_CHROMA_VARIANT)

}  // namespace

void project(const float* Wr, std::size_t rows, std::size_t stride, const float* S, std::size_t nb, std::size_t T,
             float* C) {
    GENREKIT_SIMD_PICK(project)(Wr, rows, stride, S, nb, T, C);
}

bool column_max(const float* s, std::size_t n, float& max) {
    return GENREKIT_SIMD_PICK(column_max)(s, n, max);
}

void bin_masks(const float* s, int lo, int hi, float above_thr, float floor, std::uint64_t* above,
               std::uint64_t* possible) {
    GENREKIT_SIMD_PICK(bin_masks)(s, lo, hi, above_thr, floor, above, possible);
}

}  // namespace genrekit::simd::chroma
