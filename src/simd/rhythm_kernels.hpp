// The vector kernels of the rhythm features: the mean tempogram's frame energies and lag sums
// (TempoEstimator::mean_tempogram explains the method), and onset_strength's median over
// bands. Every variant does the scalar reference's operations in its order, per lane: the same
// bits on any ISA.
#pragma once

#include <cstddef>

namespace genrekit::simd::rhythm {

struct TempogramInputs {
    std::size_t N, T;
    const double* x;       // linear-ramp padded envelope, T + N values, then kMaxLagGroup zeros
    const double* window;  // periodic Hann, N points
    const double* cosN;    // cos, sin of 2 pi j / N
    const double* sinN;
    const double *cos1, *sin1, *cos2, *sin2;  // at m: cos, sin of 2 pi m / N and of 4 pi m / N
    const double *g, *gc1, *gs1, *gc2, *gs2;  // per-frame weights
};

constexpr std::size_t kTempoBlock = 256;  // frames between restarts of the prefix sums
constexpr std::size_t kMaxLagGroup = 8;   // lags per vector (one per lane): 4, or 8 with AVX-512

// e[t] = sum_n (window[n] x[t+n])^2 for t < T.
void tempogram_energies(const TempogramInputs& in, double* e);

// mean[k] for every lag k < N: the mean over frames of the normalised autocorrelation at lag k,
// from the five prefix sums. scratch: 5 (kTempoBlock + N + 1) kMaxLagGroup doubles.
void tempogram_lag_means(const TempogramInputs& in, double* scratch, double* mean);

// out[i] = the median over the B bands (B a power of two >= 2) of max(0, S[b, i + lag] - S[b, i])
// for i < n, S column-major with B rows; the two middle values averaged in float32 as np.median
// does.
void onset_band_medians(const float* S, std::size_t B, std::size_t lag, std::size_t n, float* out);

}  // namespace genrekit::simd::rhythm
