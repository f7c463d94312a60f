// The element-wise kernels of HPSS: the power-2 soft mask and the inverse STFT's division by the
// window sum-square. IEEE division, multiplication and subtraction without contraction, the
// same per element at any vector width: every variant gives the same bits.
#pragma once

#include <cstddef>

namespace genrekit::simd::hpss {

// ref: librosa 0.7.2 util/utils.py softmask(x, x_ref * margin, power=2), in float32:
// Z = max(X, X_ref); where Z < tiny the mask is zero_value (0.5 with split_zeros, else 0);
// elsewhere (X/Z)^2 / ((X/Z)^2 + (X_ref/Z)^2). mask[i] for i < n.
void softmask_p2(const float* x, const float* ref, float margin, float zero_value, float* mask, std::ptrdiff_t n);

// softmask_p2 of frames t0 .. t0+cnt-1 with x the time medians in strips of `lanes` lanes (as
// median_time_strips returned) and ref, mask column-major (cnt columns of nb).
void softmask_p2_strips(const float* strips, int lanes, int nt, int t0, int cnt, int nb, const float* ref,
                        float margin, float zero_value, float* mask);

// out[i] = y[i] / w[i] where w[i] > tiny(float32), else y[i], i < n; with `residual` (not null),
// also residual[i] = signal[i] - out[i] (the percussive residual, see Hpss::waveforms).
void divide_by_window(const float* y, const float* w, std::size_t n, float* out, const float* signal,
                      float* residual);

}  // namespace genrekit::simd::hpss
