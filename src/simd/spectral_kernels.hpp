// The vector kernels of the spectral shape features (centroid, bandwidth, roll-off) and of the
// zero-crossing rate. Each variant performs the same operations on each value in the same
// order (pairwise sums lane by lane, IEEE division, integer counts): the same bits on any ISA.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

namespace genrekit::simd::spectral {

// numpy's float64 pairwise sums (simd/pairwise.hpp) of one frame's n bins:
// sum |s[k]|. ref: librosa 0.7.2 util.normalize(norm=1): np.sum(np.abs(S), axis=0).
double abs_sum(const float* s, std::size_t n);
// sum fq[k] * q[k]. ref: librosa 0.7.2 spectral_centroid: np.sum(freq * normalize(S), axis=0).
double weighted_sum(const double* fq, const float* q, std::size_t n);
// sum w[k] * |fq[k] - c|**2 (squaring the signed difference gives the same bits).
// ref: librosa 0.7.2 spectral_bandwidth(p=2): np.sum(S * abs(freq - centroid)**p, axis=0).
double squared_deviation_sum(const double* fq, const float* w, double c, std::size_t n);
// The same with any other exponent p (std::pow, one term at a time; not vectorised).
double power_deviation_sum(const double* fq, const float* w, double c, double p, std::size_t n);

// q[k] = float(s[k] / length), the division in float64.
void normalize_f32(const float* s, double length, float* q, std::size_t n);

// The roll-off search of 8 frames at once (frames as vector lanes): per lane, the first bin whose
// running sum reaches pct * total (n when none does) and the running sums there.
// ref: librosa 0.7.2 spectral_rolloff: total = np.cumsum(S, axis=0) in float32 (sequential);
// threshold = roll_percent * total[-1] in float32; the lowest bin with total >= threshold.
struct RolloffLanes {
    int at[8];
    float total[8], threshold[8], cum[8], below[8];  // cum: the running sum at min(at, n-1); below: one bin before
};
// col: the 8 frames' columns of n bins; run: scratch for 8 n floats.
void rolloff_lanes(const float* const* col, std::size_t n, float pct, float* run, RolloffLanes& g);

// ref: librosa 0.7.2 zero_crossings: y[|y| <= threshold] = 0 (a positive zero), then
// np.signbit (zero_pos=True): negative when the sign bit is set and |v| > threshold (or NaN).
inline bool is_negative(float v, float threshold) { return !(std::abs(v) <= threshold) && std::signbit(v); }

// The number of k in 1 .. len-1 where a[k] and a[k-1] differ in is_negative.
std::uint32_t sign_changes(const float* a, std::size_t len, float threshold);

}  // namespace genrekit::simd::spectral
