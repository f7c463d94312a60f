// numpy's pairwise summation with the eight partial sums held in one vector: the building
// blocks of the kernels that sum with it (pairwise_kernels, spectral_kernels), always inlined
// so that they compile for the variant that uses them.
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
#include <type_traits>
#include <vector>

#include "simd/vec.hpp"

namespace genrekit::simd::pairwise {

// Eight lanes of T: V8f or V8d.
template <class T>
using Vec = std::conditional_t<std::is_same_v<T, float>, V8f, V8d>;

// The sums of terms first .. first+n-1 (n <= 128) of each term source, out[0], out[1] .. in
// order: one loop, so several arrays are read side by side.
template <class T, class... Terms>
[[gnu::always_inline]] inline void leaf_sums(std::size_t first, std::size_t n, T* out, const Terms&... f) {
    constexpr std::size_t K = sizeof...(Terms);
    if (n < 8) {
        for (std::size_t j = 0; j < K; ++j) out[j] = 0;
        for (std::size_t i = 0; i < n; ++i) {
            std::size_t j = 0;
            ((out[j++] += f.one(first + i)), ...);
        }
        return;
    }
    Vec<T> r[K] = {f.vec(first)...};
    std::size_t i = 8;
    for (; i < n - (n % 8); i += 8) {
        std::size_t j = 0;
        ((r[j++] += f.vec(first + i)), ...);
    }
    for (std::size_t j = 0; j < K; ++j)
        out[j] = ((r[j][0] + r[j][1]) + (r[j][2] + r[j][3])) + ((r[j][4] + r[j][5]) + (r[j][6] + r[j][7]));
    for (; i < n; ++i) {
        std::size_t j = 0;
        ((out[j++] += f.one(first + i)), ...);
    }
}

// The sum of terms first .. first+n-1 for n <= 128.
template <class T, class Terms>
[[gnu::always_inline]] inline T leaf(const Terms& f, std::size_t first, std::size_t n) {
    T out;
    leaf_sums<T>(first, n, &out, f);
    return out;
}

// The ends of the leaves (at most 128 terms, in order) numpy's tree splits terms off .. off+n-1
// into, appended to `ends`: the leaves can then be summed as their terms become available.
inline void leaf_ends(std::size_t n, std::size_t off, std::vector<std::size_t>& ends) {
    if (n <= 128) {
        ends.push_back(off + n);
        return;
    }
    std::size_t half = n / 2;
    half -= half % 8;
    leaf_ends(half, off, ends);
    leaf_ends(n - half, off + half, ends);
}

// The pairwise sum of n terms from its leaves' sums (in order, advancing `leaf`): the same
// additions in the same tree.
template <class T>
T sum_of_leaves(std::size_t n, const T*& leaf) {
    if (n <= 128) return *leaf++;
    std::size_t half = n / 2;
    half -= half % 8;
    const T left = sum_of_leaves(half, leaf);
    return left + sum_of_leaves(n - half, leaf);
}

// Terms a[k] of a contiguous array.
template <class T>
struct ArrayTerms {
    const T* a;
    [[gnu::always_inline]] T one(std::size_t k) const { return a[k]; }
    [[gnu::always_inline]] Vec<T> vec(std::size_t k) const { return simd::load<Vec<T>>(a + k); }
};

}  // namespace genrekit::simd::pairwise

// Defines `template <class T, class Terms> ATTR T NAME(const Terms&, first, n)`: the whole
// pairwise sum, recursing above 128 terms, compiled with the function attribute ATTR (a
// variant's, see variants.hpp) so that the inlined leaves use that ISA.
#define GENREKIT_PAIRWISE_SUM(NAME, ATTR)                                                \
    template <class T, class Terms>                                                      \
    ATTR T NAME(const Terms& f, std::size_t first, std::size_t n) {                      \
        if (n <= 128) return ::genrekit::simd::pairwise::leaf<T>(f, first, n);                 \
        std::size_t half = n / 2;                                                        \
        half -= half % 8;                                                                \
        const T left = NAME<T>(f, first, half);                                          \
        return left + NAME<T>(f, first + half, n - half);                                \
    }
