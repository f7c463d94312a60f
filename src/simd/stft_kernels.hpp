// The STFT's magnitude kernel. Compiled for the x86-64 baseline, AVX2 and AVX-512 and chosen by
// simd::isa() on every call; every variant gives the scalar loop's bits (see abs_complex).
#pragma once

#include <cstddef>

namespace genrekit::simd {

// ref: numpy abs(complex64) -> hypotf, which glibc computes as sqrt in double rounded to
// float: mag[i] = |x[i]| for n interleaved complex64 values, and pow[i] = mag[i]^2 (float32)
// when pow is not null. The products are exact in double and the sum and sqrt are IEEE, so the
// vector loops give the same bits as the scalar one at any width.
void abs_complex(const float* x, float* mag, float* pow, std::ptrdiff_t n);

}  // namespace genrekit::simd
