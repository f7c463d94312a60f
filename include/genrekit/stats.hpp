// np.mean / np.var (population, ddof 0) computed the way numpy 1.24 computes
// them over a contiguous array: in the array's own dtype, with numpy's pairwise
// summation. Statistics of librosa's float32 arrays are then the very float32
// numbers the Kaggle CSV holds, not merely close to them.
//
//   auto mv = genrekit::np_mean_var(std::span<const float>(values));  // float32 in, float32 math
//   double m = mv.mean;
#pragma once

#include <cstddef>
#include <span>
#include <vector>

namespace genrekit {

// The float32 sum below with the eight partial sums in one vector, one variant per instruction
// set: the same additions in the same order, so the same bits (src/simd/pairwise_kernels.cpp).
// Overload resolution picks it for float arrays.
float pairwise_sum(const float* a, std::size_t n);

// ref: numpy/core/src/umath/loops_utils.h pairwise_sum: 8 partial sums in blocks of
// up to 128 elements, halving recursively above that.
template <typename T>
T pairwise_sum(const T* a, std::size_t n) {
    if (n < 8) {
        T res = 0;
        for (std::size_t i = 0; i < n; ++i) res += a[i];
        return res;
    }
    if (n <= 128) {
        T r[8];
        for (std::size_t j = 0; j < 8; ++j) r[j] = a[j];
        std::size_t i = 8;
        for (; i < n - (n % 8); i += 8)
            for (std::size_t j = 0; j < 8; ++j) r[j] += a[i + j];
        T res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for (; i < n; ++i) res += a[i];
        return res;
    }
    std::size_t half = n / 2;
    half -= half % 8;
    return pairwise_sum<T>(a, half) + pairwise_sum<T>(a + half, n - half);
}

// The float32 sum below with the eight partial sums in one vector (as pairwise_sum's).
float pairwise_sum_squared_deviations(const float* a, std::size_t n, float mean);

// Both pairwise_sum_squared_deviations(a, n, mean_a) and (b, n, mean_b) into out[0], out[1], in
// one pass over the two arrays (the HPSS waveforms).
void pairwise_sum_squared_deviations(const float* a, const float* b, std::size_t n, float mean_a, float mean_b,
                                     float* out);

// np.var's sum((x - mean)**2): numpy's pairwise sum of the deviations squared in T, without
// storing them (the same additions as np_mean_var).
template <typename T>
T pairwise_sum_squared_deviations(const T* a, std::size_t n, T mean) {
    auto f = [a, mean](std::size_t i) {
        const T d = a[i] - mean;
        return d * d;
    };
    if (n < 8) {
        T res = 0;
        for (std::size_t i = 0; i < n; ++i) res += f(i);
        return res;
    }
    if (n <= 128) {
        T r[8];
        for (std::size_t j = 0; j < 8; ++j) r[j] = f(j);
        std::size_t i = 8;
        for (; i < n - (n % 8); i += 8)
            for (std::size_t j = 0; j < 8; ++j) r[j] += f(i + j);
        T res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for (; i < n; ++i) res += f(i);
        return res;
    }
    std::size_t half = n / 2;
    half -= half % 8;
    return pairwise_sum_squared_deviations<T>(a, half, mean) + pairwise_sum_squared_deviations<T>(a + half, n - half, mean);
}

template <typename T>
struct NpMeanVar {
    T mean = 0, var = 0;
};

// ref: numpy/core/_methods.py _mean and _var (ddof 0), all arithmetic in T.
template <typename T>
NpMeanVar<T> np_mean_var(std::span<const T> x) {
    NpMeanVar<T> m;
    if (x.empty()) return m;
    const T n = static_cast<T>(x.size());
    m.mean = pairwise_sum(x.data(), x.size()) / n;
    std::vector<T> sq(x.size());
    for (std::size_t i = 0; i < x.size(); ++i) {
        const T d = x[i] - m.mean;
        sq[i] = d * d;
    }
    m.var = pairwise_sum(sq.data(), sq.size()) / n;
    return m;
}

}  // namespace genrekit
