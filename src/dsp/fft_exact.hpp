// A float64 real FFT of power-of-two size, for the few STFT frames whose float32 magnitudes sit
// too close to a decision (a roll-off bin, a tuning peak) and are recomputed the way librosa
// computes every frame (numpy's float64 rfft, rounded to complex64). Private to the library.
//
// One complex radix-2 FFT of size M = N/2 on z[m] = x[2m] + i x[2m+1], then the real split,
// with every twiddle from cos/sin in double: the error is a few log2(N) double epsilons, far
// below a float32 rounding step, so the complex64 bins agree with numpy's.
#pragma once

#include <complex>
#include <cstddef>
#include <vector>

#include "simd/fft_exact_kernels.hpp"

namespace genrekit::fft_exact {

class RealFft {
public:
    // n must be a power of two >= 4 (see supported()).
    explicit RealFft(int n);
    static bool supported(int n);
    int size() const { return n_; }

    // ref: numpy.fft.rfft(x) in float64: x has n values, out receives n/2 + 1 bins.
    void forward(const double* x, std::complex<double>* out);
    // forward() of count frames rounded to complex64 (as librosa's stft stores its float64 rfft),
    // x[f] into out[f] (n/2 + 1 bins), several frames per vector operation (simd/fft_exact_kernels:
    // 4, or 8 with AVX-512): the same bits as forward() one frame at a time, then rounded.
    void forward_complex64(const double* const* x, std::complex<float>* const* out, std::size_t count);

private:
    simd::fft_exact::Tables tables() const;

    int n_ = 0, m_ = 0;
    std::vector<int> bitrev_;                // m_ entries
    std::vector<double> tw_re_, tw_im_;      // stage by stage: e^{-2 pi i j/(2s)}, j < s, s = 1, 2, 4 ...
    std::vector<double> post_re_, post_im_;  // e^{-2 pi i k/n}, k <= m_/2
    std::vector<double> re_, im_;            // working buffers
    std::vector<double> lanes_buf_;          // forward_complex64's working buffers
    std::vector<float> lanes_bins_;
};

}  // namespace genrekit::fft_exact
