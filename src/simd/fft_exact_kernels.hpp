// The float64 exact real FFT's kernels (dsp/fft_exact.hpp describes the transform): one frame,
// or several frames side by side in vector lanes (4 lanes on the baseline and AVX2 variants, 8
// with AVX-512). Chosen by simd::isa() on every call. Bits: every variant performs forward()'s
// operations on each value in forward()'s order (no FMA: -ffp-contract=off), so one frame at a
// time and any lane count give the same bins.
#pragma once

#include <complex>
#include <cstddef>

namespace genrekit::simd::fft_exact {

// The tables of one size n = 2 M (owned by fft_exact::RealFft).
struct Tables {
    std::size_t M;
    const int* bitrev;                  // M entries
    const double *tw_re, *tw_im;        // stage by stage: e^{-2 pi i j/(2s)}, j < s, s = 1, 2, 4 ...
    const double *post_re, *post_im;    // e^{-2 pi i k/n}, k <= M/2
};

// ref: numpy.fft.rfft(x) in float64 of one frame (n values) into out (M + 1 bins); re and im
// are M doubles of working memory each.
void forward(const Tables& t, const double* x, std::complex<double>* out, double* re, double* im);

// forward() of `lanes` frames x[0 .. lanes-1] at once, rounded to complex64: bin k of frame l
// into bins[2 k lanes + l] (re) and bins[(2 k + 1) lanes + l] (im); buf holds 2 M lanes
// doubles, 64-byte aligned. ref: librosa 0.7.2 stft stores its float64 rfft as complex64.
struct LanesKernel {
    void (*run)(const Tables& t, const double* const* x, float* bins, double* buf);
    std::size_t lanes;
};
// The variant for simd::isa() (ask on every transform, so a cap reaches it).
LanesKernel lanes_kernel();

}  // namespace genrekit::simd::fft_exact
