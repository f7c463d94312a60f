// Real FFTs of power-of-two size for 8 frames at once ("vertical" SIMD: vector lane l holds
// frame l, so every butterfly is a plain vector operation with no shuffles), for the STFT
// (forward) and HPSS (masked inverse with overlap-add). Private to the library.
//
// Both directions are the textbook real FFT of size N through one complex radix-2 FFT of
// size M = N/2 on z[m] = x[2m] + i x[2m+1], in float32 like the KissFFT path they stand in
// for. The vector kernels live in simd/fft_kernels (baseline, AVX2 and AVX-512 variants, chosen
// by simd::isa()); every variant performs the same float operations on each value in the same
// order, so the bits do not depend on the CPU.
#pragma once

#include <complex>
#include <cstddef>
#include <vector>

#include "simd/fft_kernels.hpp"

namespace genrekit::fft_batch {

constexpr int kLanes = simd::fft::kLanes;  // frames per call

using Plan = simd::fft::Plan;

// n_fft must be a power of two >= 16 (see supported()).
Plan make_plan(int n_fft);
bool supported(int n_fft);

// Working memory of one thread: resized on first use, then reused.
struct Scratch {
    std::vector<float> buf;  // the FFT buffer, re and im interleaved
};

// The Hann-windowed real FFT of frames[l] (n_fft samples each, unwindowed; l < kLanes, all
// readable) into out[l] (n_fft/2 + 1 complex bins), for l < lanes. Frames past `lanes` are
// transformed but not stored, so the caller may repeat its last frame there.
// ref: numpy.fft.rfft(window * frame), as librosa 0.7.2 stft calls it (in float32 here).
void forward(const Plan& plan, const float* const* frames, std::complex<float>* const* out, int lanes, Scratch& s);

// Frames t0 .. t0+kLanes-1 (clamped to nt) of the inverse STFT of X * gain, windowed and
// overlap-added into y at (t0+l)*hop, frames in order, scaled by 1/N (no window-sum
// normalisation). X is nb x nt complex, gain nb x nt real, both column-major, nb = M + 1.
// ref: librosa 0.7.2 istft's per-frame irfft, window and overlap-add.
void inverse_overlap_add(const Plan& plan, const std::complex<float>* X, const float* gain, int nb, int nt, int t0,
                         int hop, Scratch& s, float* y);

}  // namespace genrekit::fft_batch
