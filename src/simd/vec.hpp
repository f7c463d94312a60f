// The vector types every kernel is written with (GCC vector extensions: the same source compiles
// to SSE2, AVX2 or AVX-512 under the variant's target attribute), their unaligned loads and
// stores, and an 8x8 transpose.
// Through memcpy rather than a pointer cast: no alignment or aliasing assumption, and the
// compiler still emits one vector move.
#pragma once

#include <cstring>

// These helpers are always inlined into the kernels of the file that includes them, so the ABI
// note about passing AVX vectors without AVX enabled concerns no call.
#pragma GCC diagnostic ignored "-Wpsabi"

namespace genrekit::simd {

template <class V, class T>
[[gnu::always_inline]] inline V load(const T* p) {
    V v;
    std::memcpy(&v, p, sizeof v);
    return v;
}

template <class V, class T>
[[gnu::always_inline]] inline void store(T* p, const V& v) {
    std::memcpy(p, &v, sizeof v);
}

// V<lanes><element>: f float, d double, i int32, l int64.
using V2f = float __attribute__((vector_size(8)));
using V4f = float __attribute__((vector_size(16)));
using V8f = float __attribute__((vector_size(32)));
using V16f = float __attribute__((vector_size(64)));
using V2d = double __attribute__((vector_size(16)));
using V4d = double __attribute__((vector_size(32)));
using V8d = double __attribute__((vector_size(64)));
using V4i = int __attribute__((vector_size(16)));
using V8i = int __attribute__((vector_size(32)));
using V16i = int __attribute__((vector_size(64)));
using V4l = long long __attribute__((vector_size(32)));
using V8l = long long __attribute__((vector_size(64)));

// GCC's __builtin_shuffle: lane i of the result is lane m[i] of a then b (one input: of a),
// indices taken modulo the lane count. Clang has no variable-mask form, so there it is a lane
// loop with the very same result (clang builds are for fuzzing and checks, not for speed).
template <class V, class M>
[[gnu::always_inline]] inline V shuffle(const V& a, const V& b, const M& m) {
#if defined(__clang__)
    constexpr int n = sizeof(V) / sizeof(a[0]);
    V r;
    for (int i = 0; i < n; ++i) {
        const int k = static_cast<int>(m[i]) & (2 * n - 1);
        r[i] = k < n ? a[k] : b[k - n];
    }
    return r;
#else
    return __builtin_shuffle(a, b, m);
#endif
}

template <class V, class M>
[[gnu::always_inline]] inline V shuffle(const V& a, const M& m) {
#if defined(__clang__)
    constexpr int n = sizeof(V) / sizeof(a[0]);
    V r;
    for (int i = 0; i < n; ++i) r[i] = a[static_cast<int>(m[i]) & (n - 1)];
    return r;
#else
    return __builtin_shuffle(a, m);
#endif
}

// In-place transpose of an 8x8 float block held in 8 vectors: afterwards r[j][l] is the old
// r[l][j] (three rounds of two-vector shuffles).
[[gnu::always_inline]] inline void transpose8(V8f* r) {
    V8f t[8], u[8];
    for (int i = 0; i < 8; i += 2) {
        t[i] = shuffle(r[i], r[i + 1], V8i{0, 8, 1, 9, 4, 12, 5, 13});
        t[i + 1] = shuffle(r[i], r[i + 1], V8i{2, 10, 3, 11, 6, 14, 7, 15});
    }
    for (int i = 0; i < 8; i += 4)
        for (int h = 0; h < 2; ++h) {
            u[i + 2 * h] = shuffle(t[i + h], t[i + h + 2], V8i{0, 1, 8, 9, 4, 5, 12, 13});
            u[i + 2 * h + 1] = shuffle(t[i + h], t[i + h + 2], V8i{2, 3, 10, 11, 6, 7, 14, 15});
        }
    // u[0..3] hold rows 0..3 of the result's lanes 0-3 | 4-7 halves from inputs 0-3; u[4..7] from inputs 4-7.
    for (int j = 0; j < 4; ++j) {
        r[j] = shuffle(u[j], u[j + 4], V8i{0, 1, 2, 3, 8, 9, 10, 11});
        r[j + 4] = shuffle(u[j], u[j + 4], V8i{4, 5, 6, 7, 12, 13, 14, 15});
    }
}

}  // namespace genrekit::simd
