// The batched radix-2 real FFT's vector kernels (dsp/fft_batch.hpp describes the transforms):
// 8 frames per call, vector lane l holding frame l. Each kernel is compiled for the x86-64
// baseline, AVX2 and AVX-512 (three stages per pass, 32 registers) and chosen by simd::isa() on
// every call. Bits: every variant performs the same float operations on each value in the same
// order (no FMA: -ffp-contract=off), so the output does not depend on the variant.
#pragma once

#include <complex>
#include <vector>

namespace genrekit::simd::fft {

constexpr int kLanes = 8;  // frames per call

// The tables of one transform size; built by fft_batch::make_plan.
struct Plan {
    int n_fft = 0, half = 0;               // N, M = N/2; n_fft 0: no plan
    std::vector<int> bitrev;               // M entries
    std::vector<float> post_re, post_im;   // e^{+2 pi i k/N}, k < M
    std::vector<float> tw_re, tw_im;       // stage by stage: e^{+2 pi i j/(2s)}, j < s, s = 1, 2, 4 ...
    std::vector<float> window;             // periodic Hann, float32
    bool valid() const { return n_fft > 0; }
};

// Floats of working memory the kernels need (buf below), aligned to 64 bytes by the caller.
inline std::size_t buffer_floats(const Plan& p) { return static_cast<std::size_t>((p.half + 1) * 2 * kLanes); }

// fft_batch::forward: the Hann-windowed real FFT of frames[l] into out[l], l < lanes (1..8).
void forward(const Plan& p, const float* const* frames, std::complex<float>* const* out, int lanes, float* buf);

// fft_batch::inverse_overlap_add on X, gain as float arrays (X complex interleaved).
void inverse_overlap_add(const Plan& p, const float* X, const float* gain, int nb, int nt, int t0, int hop, float* buf,
                         float* y);

}  // namespace genrekit::simd::fft
