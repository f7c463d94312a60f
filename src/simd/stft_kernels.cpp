#include "simd/stft_kernels.hpp"

#include <cmath>

#include "simd/isa.hpp"
#include "simd/vec.hpp"

#if GENREKIT_SIMD_VARIANTS
#include <immintrin.h>  // declares the SSE2 and AVX builtins below
#endif

namespace genrekit::simd {

namespace {

// Square roots of every lane (IEEE, correctly rounded; std::sqrt does not vectorise because of
// errno).
#if GENREKIT_SIMD_VARIANTS
[[gnu::always_inline]] inline V2d sqrt_lanes(V2d x) { return __builtin_ia32_sqrtpd(x); }
[[gnu::always_inline]] inline V4d sqrt_lanes(V4d x) { return __builtin_ia32_sqrtpd256(x); }
#else
[[gnu::always_inline]] inline V2d sqrt_lanes(V2d x) { return V2d{std::sqrt(x[0]), std::sqrt(x[1])}; }
#endif

// |x| of W complex values (VF: their 2W floats, VD: W doubles, VH: W floats) into mag and pow.
template <class VF, class VD, class VH>
[[gnu::always_inline]] inline void abs_lanes(const float* x, float* mag, float* pow) {
    constexpr int W = sizeof(VD) / sizeof(double);
    const VF a = load<VF>(x);
    VH re, im;
    if constexpr (W == 2) {
        re = __builtin_shufflevector(a, a, 0, 2);
        im = __builtin_shufflevector(a, a, 1, 3);
    } else {
        re = __builtin_shufflevector(a, a, 0, 2, 4, 6);
        im = __builtin_shufflevector(a, a, 1, 3, 5, 7);
    }
    const VD r = __builtin_convertvector(re, VD), i = __builtin_convertvector(im, VD);
    const VH m = __builtin_convertvector(sqrt_lanes(r * r + i * i), VH);
    store(mag, m);
    if (pow) store(pow, m * m);
}

// Two groups of W values per step: twice the double-precision square roots in flight.
template <class VF, class VD, class VH>
[[gnu::always_inline]] inline void abs_complex_body(const float* x, float* mag, float* pow, std::ptrdiff_t n) {
    constexpr std::ptrdiff_t W = sizeof(VD) / sizeof(double);
    std::ptrdiff_t i = 0;
    for (; i + 2 * W <= n; i += 2 * W) {
        abs_lanes<VF, VD, VH>(x + 2 * i, mag + i, pow ? pow + i : nullptr);
        abs_lanes<VF, VD, VH>(x + 2 * (i + W), mag + i + W, pow ? pow + i + W : nullptr);
    }
    for (; i < n; ++i) {
        const double re = x[2 * i], im = x[2 * i + 1];
        const float m = static_cast<float>(std::sqrt(re * re + im * im));
        mag[i] = m;
        if (pow) pow[i] = m * m;
    }
}

void abs_complex_baseline(const float* x, float* mag, float* pow, std::ptrdiff_t n) {
    abs_complex_body<V4f, V2d, V2f>(x, mag, pow, n);
}
#if GENREKIT_SIMD_VARIANTS
GENREKIT_TARGET_AVX2 void abs_complex_avx2(const float* x, float* mag, float* pow, std::ptrdiff_t n) {
    abs_complex_body<V8f, V4d, V4f>(x, mag, pow, n);
}
GENREKIT_TARGET_AVX512 void abs_complex_avx512(const float* x, float* mag, float* pow, std::ptrdiff_t n) {
    abs_complex_body<V8f, V4d, V4f>(x, mag, pow, n);
}
#else
constexpr auto abs_complex_avx2 = abs_complex_baseline, abs_complex_avx512 = abs_complex_baseline;
#endif

}  // namespace

void abs_complex(const float* x, float* mag, float* pow, std::ptrdiff_t n) {
    pick(abs_complex_baseline, abs_complex_avx2, abs_complex_avx512)(x, mag, pow, n);
}

}  // namespace genrekit::simd
