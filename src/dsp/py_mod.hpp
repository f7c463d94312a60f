// numpy's float remainder, for the chroma filterbank and the tuning estimate.
#pragma once

#include <cmath>

namespace genrekit {

// ref: numpy.mod / numpy.remainder for floats: the result takes the sign of the divisor.
template <typename T>
T py_mod(T a, T b) {
    T m = std::fmod(a, b);
    if (m != T(0)) {
        if ((b < T(0)) != (m < T(0))) m += b;
    } else {
        m = std::copysign(T(0), b);
    }
    return m;
}

}  // namespace genrekit
