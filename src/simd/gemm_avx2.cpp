// The float GEMM compiled for AVX2+FMA, whatever the build's baseline (see gemm.hpp).
// Standard headers come first, compiled for the baseline; then the target switch and the
// ISA macros Eigen reads (GCC's `#pragma GCC target` does not define them in C++), and
// Eigen under its own namespace name so its inline templates never merge with the
// baseline instantiations in other translation units.
#include <algorithm>
#include <cassert>
#include <cmath>
#include <complex>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <iosfwd>
#include <iostream>
#include <limits>
#include <memory>
#include <new>
#include <sstream>
#include <string>
#include <vector>

#include "simd/gemm.hpp"

#if defined(__x86_64__) && !defined(__AVX2__)
#pragma GCC target("avx2,fma")
#define __SSE3__ 1
#define __SSSE3__ 1
#define __SSE4_1__ 1
#define __SSE4_2__ 1
#define __AVX__ 1
#define __AVX2__ 1
#define __FMA__ 1
#endif
#define Eigen genrekit_eigen_avx2
#include <Eigen/Core>

namespace genrekit::nn::detail {
#define GK_GEMM_NAME gemm_f32_avx2
#define GK_SCALAR float
#include "simd/gemm_kernel.inc"
}  // namespace genrekit::nn::detail
