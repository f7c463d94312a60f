// Per-lane operations GCC's vector extensions lack, through x86 builtins where the variants
// exist (`#if GENREKIT_SIMD_VARIANTS`) and plain scalar code elsewhere, where only the baseline
// variant is compiled. Private to the DSP kernel families.
#pragma once

#include <cmath>
#include <cstdint>

#include "simd/isa.hpp"
#include "simd/vec.hpp"

#if GENREKIT_SIMD_VARIANTS
#include <immintrin.h>  // declares the SSE and AVX builtins below
#endif

namespace genrekit::simd {

// Square roots of every lane (IEEE, correctly rounded; std::sqrt does not vectorise because of
// errno).
#if GENREKIT_SIMD_VARIANTS
[[gnu::always_inline]] inline V2d sqrt_lanes(const V2d& x) { return __builtin_ia32_sqrtpd(x); }
[[gnu::always_inline]] inline V4d sqrt_lanes(const V4d& x) { return __builtin_ia32_sqrtpd256(x); }
#else
[[gnu::always_inline]] inline V2d sqrt_lanes(const V2d& x) { return V2d{std::sqrt(x[0]), std::sqrt(x[1])}; }
#endif

// Bit l of the result: lane l of the comparison result m is set (all ones).
#if GENREKIT_SIMD_VARIANTS
[[gnu::always_inline]] inline std::uint64_t lane_bits(const V4i& m) {
    return static_cast<std::uint64_t>(__builtin_ia32_movmskps(reinterpret_cast<V4f>(m)));
}
[[gnu::always_inline]] inline std::uint64_t lane_bits(const V8i& m) {
    return static_cast<std::uint64_t>(__builtin_ia32_movmskps256(reinterpret_cast<V8f>(m)));
}
[[gnu::always_inline]] inline std::uint64_t lane_bits(const V16i& m) {
    return lane_bits(V8i(__builtin_shufflevector(m, m, 0, 1, 2, 3, 4, 5, 6, 7))) |
           lane_bits(V8i(__builtin_shufflevector(m, m, 8, 9, 10, 11, 12, 13, 14, 15))) << 8;
}
#else
[[gnu::always_inline]] inline std::uint64_t lane_bits(const V4i& m) {
    std::uint64_t bits = 0;
    for (int l = 0; l < 4; ++l) bits |= static_cast<std::uint64_t>(m[l] & 1) << l;
    return bits;
}
#endif

}  // namespace genrekit::simd
