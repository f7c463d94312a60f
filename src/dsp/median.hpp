// numpy's median, for the tuning estimate (float32) and the beat tracker (float64).
#pragma once

#include <algorithm>
#include <cstddef>
#include <vector>

namespace genrekit {

// ref: numpy.median of float32 or float64 values: the middle element, or the mean, in T, of
// the two middle elements. Reorders `v`.
template <typename T>
T median(std::vector<T>& v) {
    const std::size_t n = v.size();
    const std::size_t hi = n / 2;
    std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(hi), v.end());
    const T upper = v[hi];
    if (n % 2 == 1) return upper;
    const T lower = *std::max_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(hi));
    return (lower + upper) / T(2);
}

}  // namespace genrekit
