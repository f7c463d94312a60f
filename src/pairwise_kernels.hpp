// numpy's pairwise summation with the eight partial sums held in one vector, for kernels
// compiled per ISA (private to the library).
//
// ref: numpy/core/src/umath/loops_utils.h pairwise_sum: below 8 terms a plain loop; up to 128
// terms eight running sums (term j goes to sum j % 8), combined as ((0+1)+(2+3))+((4+5)+(6+7)),
// then the terms past the last multiple of 8; above 128 the halves (split at a multiple of 8)
// are summed recursively. Lane j of the vector is running sum j, so every ISA performs the
// same additions in the same order as the scalar loop: the bits do not depend on the CPU.
//
// A term source supplies `T one(std::size_t k)` and `Vec vec(std::size_t k)` (terms k .. k+7),
// both always inlined so they compile for the ISA of the kernel that uses them.
#pragma once

#include <cstddef>

#include "vector_access.hpp"

namespace genrekit::pairwise {

// Eight lanes of T (GCC vector extensions need a concrete element type).
template <class T>
struct Lanes;
template <>
struct Lanes<float> {
    using type = float __attribute__((vector_size(32)));
};
template <>
struct Lanes<double> {
    using type = double __attribute__((vector_size(64)));
};
template <class T>
using Vec = typename Lanes<T>::type;

// The sum of terms first .. first+n-1 for n <= 128.
template <class T, class Terms>
[[gnu::always_inline]] inline T leaf(const Terms& f, std::size_t first, std::size_t n) {
    if (n < 8) {
        T res = 0;
        for (std::size_t i = 0; i < n; ++i) res += f.one(first + i);
        return res;
    }
    Vec<T> r = f.vec(first);
    std::size_t i = 8;
    for (; i < n - (n % 8); i += 8) r += f.vec(first + i);
    T res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
    for (; i < n; ++i) res += f.one(first + i);
    return res;
}

// Terms a[k] of a contiguous array.
template <class T>
struct ArrayTerms {
    const T* a;
    [[gnu::always_inline]] T one(std::size_t k) const { return a[k]; }
    [[gnu::always_inline]] Vec<T> vec(std::size_t k) const { return simd::load<Vec<T>>(a + k); }
};

}  // namespace genrekit::pairwise

// Defines `template <class T, class Terms> ATTR T NAME(const Terms&, first, n)`: the whole
// pairwise sum, recursing above 128 terms, compiled with the function attribute ATTR (for
// example [[gnu::target("avx2")]]) so that the inlined leaves use that ISA.
#define GENREKIT_PAIRWISE_SUM(NAME, ATTR)                                                \
    template <class T, class Terms>                                                      \
    ATTR T NAME(const Terms& f, std::size_t first, std::size_t n) {                      \
        if (n <= 128) return ::genrekit::pairwise::leaf<T>(f, first, n);                 \
        std::size_t half = n / 2;                                                        \
        half -= half % 8;                                                                \
        const T left = NAME<T>(f, first, half);                                          \
        return left + NAME<T>(f, first + half, n - half);                                \
    }
