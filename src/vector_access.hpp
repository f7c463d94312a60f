// Unaligned loads and stores of GCC vector types for the library's vector kernels (private).
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

}  // namespace genrekit::simd
