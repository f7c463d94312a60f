#include "simd/chroma_kernels.hpp"

#include <cstring>
#include <limits>

#include "simd/isa.hpp"
#include "simd/vec.hpp"

#if GENREKIT_SIMD_VARIANTS
#include <immintrin.h>  // declares the SSE and AVX builtins below
#endif

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

// Bit l of the result: lane l of the comparison result m is set (all ones).
#if GENREKIT_SIMD_VARIANTS
[[gnu::always_inline]] inline std::uint64_t lane_bits(V4i m) {
    return static_cast<std::uint64_t>(__builtin_ia32_movmskps(reinterpret_cast<V4f>(m)));
}
[[gnu::always_inline]] inline std::uint64_t lane_bits(V8i m) {
    return static_cast<std::uint64_t>(__builtin_ia32_movmskps256(reinterpret_cast<V8f>(m)));
}
[[gnu::always_inline]] inline std::uint64_t lane_bits(V16i m) {
    return lane_bits(V8i(__builtin_shufflevector(m, m, 0, 1, 2, 3, 4, 5, 6, 7))) |
           lane_bits(V8i(__builtin_shufflevector(m, m, 8, 9, 10, 11, 12, 13, 14, 15))) << 8;
}
#else
[[gnu::always_inline]] inline std::uint64_t lane_bits(V4i m) {
    std::uint64_t bits = 0;
    for (int l = 0; l < 4; ++l) bits |= static_cast<std::uint64_t>(m[l] & 1) << l;
    return bits;
}
#endif

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

// ---------------------------------------------------------------------------------------------
// The variants: the scans 4, 8 and 16 bins at a time.
// ---------------------------------------------------------------------------------------------

void project_baseline(const float* Wr, std::size_t rows, std::size_t stride, const float* S, std::size_t nb,
                      std::size_t T, float* C) {
    project_body<false>(Wr, rows, stride, S, nb, T, C);
}
bool column_max_baseline(const float* s, std::size_t n, float& max) { return column_max_body<V4f>(s, n, max); }
void bin_masks_baseline(const float* s, int lo, int hi, float above_thr, float floor, std::uint64_t* above,
                        std::uint64_t* possible) {
    bin_masks_body<V4f>(s, lo, hi, above_thr, floor, above, possible);
}
#if GENREKIT_SIMD_VARIANTS
GENREKIT_TARGET_AVX2 void project_avx2(const float* Wr, std::size_t rows, std::size_t stride, const float* S,
                                       std::size_t nb, std::size_t T, float* C) {
    project_body<false>(Wr, rows, stride, S, nb, T, C);
}
GENREKIT_TARGET_AVX2 bool column_max_avx2(const float* s, std::size_t n, float& max) {
    return column_max_body<V8f>(s, n, max);
}
GENREKIT_TARGET_AVX2 void bin_masks_avx2(const float* s, int lo, int hi, float above_thr, float floor,
                                         std::uint64_t* above, std::uint64_t* possible) {
    bin_masks_body<V8f>(s, lo, hi, above_thr, floor, above, possible);
}
GENREKIT_TARGET_AVX512 void project_avx512(const float* Wr, std::size_t rows, std::size_t stride, const float* S,
                                           std::size_t nb, std::size_t T, float* C) {
    project_body<true>(Wr, rows, stride, S, nb, T, C);
}
GENREKIT_TARGET_AVX512 bool column_max_avx512(const float* s, std::size_t n, float& max) {
    return column_max_body<V16f>(s, n, max);
}
GENREKIT_TARGET_AVX512 void bin_masks_avx512(const float* s, int lo, int hi, float above_thr, float floor,
                                             std::uint64_t* above, std::uint64_t* possible) {
    bin_masks_body<V16f>(s, lo, hi, above_thr, floor, above, possible);
}
#else
constexpr auto project_avx2 = project_baseline, project_avx512 = project_baseline;
constexpr auto column_max_avx2 = column_max_baseline, column_max_avx512 = column_max_baseline;
constexpr auto bin_masks_avx2 = bin_masks_baseline, bin_masks_avx512 = bin_masks_baseline;
#endif

}  // namespace

void project(const float* Wr, std::size_t rows, std::size_t stride, const float* S, std::size_t nb, std::size_t T,
             float* C) {
    pick(project_baseline, project_avx2, project_avx512)(Wr, rows, stride, S, nb, T, C);
}

bool column_max(const float* s, std::size_t n, float& max) {
    return pick(column_max_baseline, column_max_avx2, column_max_avx512)(s, n, max);
}

void bin_masks(const float* s, int lo, int hi, float above_thr, float floor, std::uint64_t* above,
               std::uint64_t* possible) {
    pick(bin_masks_baseline, bin_masks_avx2, bin_masks_avx512)(s, lo, hi, above_thr, floor, above, possible);
}

}  // namespace genrekit::simd::chroma
