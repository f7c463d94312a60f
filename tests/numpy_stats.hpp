// np.mean / np.var (ddof 0) over a whole array, computed the way numpy 1.24 does for a contiguous
// array: in the array's own dtype, with numpy's pairwise summation (blocks of 128, 8 partial
// sums). Used by the golden tests to check the final feature values (manifest.json "features").
#pragma once

#include <cstddef>
#include <span>
#include <vector>

namespace gktest {

// ref: numpy/core/src/umath/loops_utils.h pairwise_sum.
template <typename T>
T pairwise_sum(const T* a, std::size_t n) {
    if (n < 8) {
        T res = 0;
        for (std::size_t i = 0; i < n; ++i) res += a[i];
        return res;
    }
    if (n <= 128) {
        T r[8];
        for (int j = 0; j < 8; ++j) r[j] = a[j];
        std::size_t i = 8;
        for (; i < n - (n % 8); i += 8)
            for (int j = 0; j < 8; ++j) r[j] += a[i + static_cast<std::size_t>(j)];
        T res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for (; i < n; ++i) res += a[i];
        return res;
    }
    std::size_t n2 = n / 2;
    n2 -= n2 % 8;
    return pairwise_sum(a, n2) + pairwise_sum(a + n2, n - n2);
}

template <typename T>
struct NpMoments {
    T mean = 0, var = 0;
};

// ref: numpy/core/_methods.py _mean and _var (ddof 0), in the dtype T.
template <typename T>
NpMoments<T> np_moments(std::span<const T> x) {
    NpMoments<T> m;
    if (x.empty()) return m;
    const T n = static_cast<T>(x.size());
    m.mean = static_cast<T>(T(0) + pairwise_sum(x.data(), x.size())) / n;
    std::vector<T> d(x.size());
    for (std::size_t i = 0; i < x.size(); ++i) {
        const T v = x[i] - m.mean;
        d[i] = v * v;
    }
    m.var = static_cast<T>(T(0) + pairwise_sum(d.data(), d.size())) / n;
    return m;
}

}  // namespace gktest
