// The float GEMM compiled for AVX-512 (F, DQ, VL, BW), whatever the build's baseline;
// see gemm_avx2.cpp for why the headers, pragmas and macros come in this order.
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

#include "simd/isa.hpp"

#if GENREKIT_SIMD_VARIANTS
GENREKIT_TARGET_PRAGMA(GENREKIT_FEATURES_AVX512)
#pragma GCC optimize("fp-contract=fast")
#define __SSE3__ 1
#define __SSSE3__ 1
#define __SSE4_1__ 1
#define __SSE4_2__ 1
#define __AVX__ 1
#define __AVX2__ 1
#define __FMA__ 1
#define __AVX512F__ 1
#define __AVX512DQ__ 1
#define __AVX512VL__ 1
#define __AVX512BW__ 1

#define Eigen genrekit_eigen_avx512
#include <Eigen/Core>

namespace genrekit::nn::detail {
#define GK_GEMM_NAME gemm_f32_avx512
#define GK_SCALAR float
#include "simd/gemm_kernel.inc"
}  // namespace genrekit::nn::detail
#endif
