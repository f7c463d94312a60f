// The float GEMM compiled for AVX2+FMA, whatever the build's baseline (see gemm.hpp).
// Standard headers come first, compiled for the baseline; then the target switch for the
// whole file (a pragma, not GENREKIT_TARGET_AVX2: Eigen's templates are defined by its headers
// and no attribute of ours reaches them), the ISA macros Eigen reads to pick its packet code
// (`#pragma GCC target` does not define them in C++), and Eigen under its own namespace name
// so its inline templates never merge with the baseline instantiations in other translation
// units. Eigen's own scalar multiply-adds (gebp's row remainders) were always compiled with
// FMA contraction; the simd target's -ffp-contract=off would change their rounding, so this
// file keeps contraction on (checked: the same machine code as before).
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
GENREKIT_TARGET_PRAGMA(GENREKIT_FEATURES_AVX2)
#pragma GCC optimize("fp-contract=fast")
#define __SSE3__ 1
#define __SSSE3__ 1
#define __SSE4_1__ 1
#define __SSE4_2__ 1
#define __AVX__ 1
#define __AVX2__ 1
#define __FMA__ 1

#define Eigen genrekit_eigen_avx2
#include <Eigen/Core>

namespace genrekit::nn::detail {
#define GK_GEMM_NAME gemm_f32_avx2
#define GK_SCALAR float
#include "simd/gemm_kernel.inc"
}  // namespace genrekit::nn::detail
#endif
