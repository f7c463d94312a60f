#include "simd/stft_kernels.hpp"

#include <cmath>

#include "simd/lanes.hpp"
#include "simd/variants.hpp"
#include "simd/vec.hpp"

namespace genrekit::simd {

namespace {

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

// The baseline variant takes two values at a time (SSE2's two doubles), AVX2 and AVX-512 four.
#define GENREKIT_STFT_VARIANT(NS, ATTR, ISA)                                                              \
    namespace NS {                                                                                        \
    ATTR void abs_complex(const float* x, float* mag, float* pow, std::ptrdiff_t n) {                     \
        abs_complex_body<ByIsa<ISA, V4f, V8f, V8f>, ByIsa<ISA, V2d, V4d, V4d>, ByIsa<ISA, V2f, V4f, V4f>>( \
            x, mag, pow, n);                                                                              \
    }                                                                                                     \
    }

GENREKIT_SIMD_STAMP(GENREKIT_STFT_VARIANT)

}  // namespace

void abs_complex(const float* x, float* mag, float* pow, std::ptrdiff_t n) {
    GENREKIT_SIMD_PICK(abs_complex)(x, mag, pow, n);
}

}  // namespace genrekit::simd
