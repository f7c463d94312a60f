#include "simd/rhythm_kernels.hpp"

#include <algorithm>
#include <vector>

#include "simd/variants.hpp"
#include "simd/vec.hpp"

namespace genrekit::simd::rhythm {
namespace {

// The mean tempogram at lag k from the five lag sums: w[n] w[n+k] = A0 + A1c cos + A1s sin +
// A2c cos 2 + A2s sin 2 (see TempoEstimator::mean_tempogram), divided by the frame count.
double lag_mean(const TempogramInputs& in, std::size_t k, double acc0, double u1, double v1, double u2, double v2) {
    const double ck = in.cosN[k], sk = in.sinN[k];
    const double A0 = 0.25 * (1.0 + 0.5 * ck), A1c = -0.25 * (1.0 + ck), A1s = 0.25 * sk;
    const double A2c = 0.125 * ck, A2s = -0.125 * sk;
    return (A0 * acc0 + A1c * u1 + A1s * v1 + A2c * u2 + A2s * v2) / static_cast<double>(in.T);
}

// The mean tempogram at lag k from the five prefix sums (scratch: 5 (kTempoBlock + N + 1)): the
// scalar reference of the vector kernels, and the lags past the last full group.
double lag_sum(const TempogramInputs& in, std::size_t k, double* scratch) {
    const std::size_t N = in.N, T = in.T, L = N - k, cap = kTempoBlock + N + 1;
    double *P0 = scratch, *PC1 = P0 + cap, *PS1 = PC1 + cap, *PC2 = PS1 + cap, *PS2 = PC2 + cap;
    const double* x = in.x;
    double acc0 = 0, u1 = 0, v1 = 0, u2 = 0, v2 = 0;
    for (std::size_t t0 = 0; t0 < T; t0 += kTempoBlock) {
        const std::size_t t1 = std::min(T, t0 + kTempoBlock);
        const std::size_t len = t1 - t0 + L - 1;  // m = t0 .. t1 - 1 + L - 1
        P0[0] = PC1[0] = PS1[0] = PC2[0] = PS2[0] = 0.0;
        for (std::size_t j = 0; j < len; ++j) {
            const std::size_t m = t0 + j;
            const double p = x[m] * x[m + k];
            P0[j + 1] = P0[j] + p;
            PC1[j + 1] = PC1[j] + in.cos1[m] * p;
            PS1[j + 1] = PS1[j] + in.sin1[m] * p;
            PC2[j + 1] = PC2[j] + in.cos2[m] * p;
            PS2[j + 1] = PS2[j] + in.sin2[m] * p;
        }
        for (std::size_t t = t0; t < t1; ++t) {
            const std::size_t j = t - t0;
            const double c0 = P0[j + L] - P0[j];
            const double c1 = PC1[j + L] - PC1[j], s1 = PS1[j + L] - PS1[j];
            const double c2 = PC2[j + L] - PC2[j], s2 = PS2[j + L] - PS2[j];
            acc0 += in.g[t] * c0;
            u1 += in.gc1[t] * c1 + in.gs1[t] * s1;
            v1 += in.gc1[t] * s1 - in.gs1[t] * c1;
            u2 += in.gc2[t] * c2 + in.gs2[t] * s2;
            v2 += in.gc2[t] * s2 - in.gs2[t] * c2;
        }
    }
    return lag_mean(in, k, acc0, u1, v1, u2, v2);
}

// The vector kernels below do exactly lag_sum's operations, in its order, on four or eight
// lags (or four frames) at once, so every lag gets the same bits from either path and on any CPU.

// Frame energies sum_n (w[n] x[t+n])^2, four frames per vector.
[[gnu::always_inline]] inline void energies_body(const TempogramInputs& in, double* e) {
    const std::size_t N = in.N, T = in.T;
    std::size_t t = 0;
    for (; t + 4 <= T; t += 4) {
        V4d acc{};
        for (std::size_t n = 0; n < N; ++n) {
            const V4d v = in.window[n] * simd::load<V4d>(in.x + t + n);
            acc = acc + v * v;
        }
        simd::store(e + t, acc);
    }
    for (; t < T; ++t) {
        double acc = 0.0;
        for (std::size_t n = 0; n < N; ++n) {
            const double v = in.window[n] * in.x[t + n];
            acc += v * v;
        }
        e[t] = acc;
    }
}

// {r[0], (r - stride)[1], (r - 2 stride)[2], ...}: lane l from l rows earlier.
template <class V>
[[gnu::always_inline]] inline V diagonal(const double* r, std::size_t stride) {
    if constexpr (sizeof(V) == sizeof(V4d)) {
        const V4d a = simd::shuffle(simd::load<V4d>(r), simd::load<V4d>(r - stride), V4l{0, 5, 2, 7});
        const V4d b = simd::shuffle(simd::load<V4d>(r - 2 * stride), simd::load<V4d>(r - 3 * stride), V4l{0, 5, 2, 7});
        return simd::shuffle(a, b, V4l{0, 1, 6, 7});
    } else {
        constexpr V8l odd{0, 9, 2, 11, 4, 13, 6, 15};
        const V8d a = simd::shuffle(simd::load<V8d>(r), simd::load<V8d>(r - stride), odd);
        const V8d b = simd::shuffle(simd::load<V8d>(r - 2 * stride), simd::load<V8d>(r - 3 * stride), odd);
        const V8d c = simd::shuffle(simd::load<V8d>(r - 4 * stride), simd::load<V8d>(r - 5 * stride), odd);
        const V8d d = simd::shuffle(simd::load<V8d>(r - 6 * stride), simd::load<V8d>(r - 7 * stride), odd);
        const V8d ab = simd::shuffle(a, b, V8l{0, 1, 10, 11, 4, 5, 14, 15});
        const V8d cd = simd::shuffle(c, d, V8l{0, 1, 10, 11, 4, 5, 14, 15});
        return simd::shuffle(ab, cd, V8l{0, 1, 2, 3, 12, 13, 14, 15});
    }
}

// lag_sum for lags k0 .. k0+W-1 (W lanes of V), lane l holding lag k0 + l. Lane l's window is
// L0 - l long, so its upper prefix term sits l rows earlier: a diagonal of W consecutive rows.
template <class V>
[[gnu::always_inline]] inline void lag_group_body(const TempogramInputs& in, std::size_t k0, double* scratch,
                                                  double* out) {
    constexpr std::size_t W = sizeof(V) / sizeof(double);
    // Locals, not in.*: the vector stores below may alias anything, so members would be reloaded.
    const std::size_t N = in.N, T = in.T, L0 = N - k0;
    const double *x = in.x, *c1m = in.cos1, *s1m = in.sin1, *c2m = in.cos2, *s2m = in.sin2;
    const double *g = in.g, *gc1 = in.gc1, *gs1 = in.gs1, *gc2 = in.gc2, *gs2 = in.gs2;
    // Row j holds the five prefix sums after j terms, W lanes each, side by side.
    constexpr std::size_t R = 5 * W;
    double* P = scratch;
    V acc0{}, u1{}, v1{}, u2{}, v2{};
    for (std::size_t t0 = 0; t0 < T; t0 += kTempoBlock) {
        const std::size_t t1 = std::min(T, t0 + kTempoBlock);
        const std::size_t len = t1 - t0 + L0 - 1;  // lane 0's span, the longest
        V s0{}, sc1{}, ss1{}, sc2{}, ss2{};
        for (std::size_t a = 0; a < R; ++a) P[a] = 0.0;
        for (std::size_t j = 0; j < len; ++j) {
            const std::size_t m = t0 + j;
            const V p = x[m] * simd::load<V>(x + m + k0);
            s0 = s0 + p;
            sc1 = sc1 + c1m[m] * p;
            ss1 = ss1 + s1m[m] * p;
            sc2 = sc2 + c2m[m] * p;
            ss2 = ss2 + s2m[m] * p;
            double* row = P + (j + 1) * R;
            simd::store(row, s0);
            simd::store(row + W, sc1);
            simd::store(row + 2 * W, ss1);
            simd::store(row + 3 * W, sc2);
            simd::store(row + 4 * W, ss2);
        }
        for (std::size_t t = t0; t < t1; ++t) {
            const std::size_t j = t - t0;
            const double* lo = P + j * R;
            const double* hi = P + (j + L0) * R;
            const V c0 = diagonal<V>(hi, R) - simd::load<V>(lo);
            const V c1 = diagonal<V>(hi + W, R) - simd::load<V>(lo + W);
            const V s1 = diagonal<V>(hi + 2 * W, R) - simd::load<V>(lo + 2 * W);
            const V c2 = diagonal<V>(hi + 3 * W, R) - simd::load<V>(lo + 3 * W);
            const V s2 = diagonal<V>(hi + 4 * W, R) - simd::load<V>(lo + 4 * W);
            acc0 = acc0 + g[t] * c0;
            u1 = u1 + (gc1[t] * c1 + gs1[t] * s1);
            v1 = v1 + (gc1[t] * s1 - gs1[t] * c1);
            u2 = u2 + (gc2[t] * c2 + gs2[t] * s2);
            v2 = v2 + (gc2[t] * s2 - gs2[t] * c2);
        }
    }
    for (std::size_t l = 0; l < W; ++l) out[l] = lag_mean(in, k0 + l, acc0[l], u1[l], v1[l], u2[l], v2[l]);
}

// lag_group_body over the lags in groups of W, the rest through lag_sum.
template <class V>
[[gnu::always_inline]] inline void lag_means_body(const TempogramInputs& in, double* scratch, double* mean) {
    constexpr std::size_t W = sizeof(V) / sizeof(double);
    std::size_t k = 0;
    for (; k + W <= in.N; k += W) lag_group_body<V>(in, k, scratch, mean + k);
    for (; k < in.N; ++k) mean[k] = lag_sum(in, k, scratch);
}

// ---------------------------------------------------------------------------------------------
// onset_strength's median over bands, 8 or 16 frames at once.
// ---------------------------------------------------------------------------------------------

// The band medians of L frames' positive differences max(0, cur - prev) (V holds L floats): the
// B values of each frame (B a power of two) go through a bitonic sorting network whose vector
// lanes are the frames, then the two middle values are averaged in float32 as np.median does.
// The network's last merge stops after its first step: that step leaves every value of the
// lower half below every value of the upper half, so the middle values are the lower half's
// maximum and the upper half's minimum (the same values a full sort puts there). buf: B x L.
template <class V>
[[gnu::always_inline]] inline void onset_medians_body(const float* const* cur, const float* const* prev,
                                                      std::size_t B, float* buf, float* out) {
    constexpr std::size_t L = sizeof(V) / sizeof(float);
    for (std::size_t b = 0; b < B; ++b)
        for (std::size_t l = 0; l < L; ++l) buf[b * L + l] = std::max(0.0f, cur[l][b] - prev[l][b]);
    // Stage (k, j) compares i with i + j in blocks of 2j, ascending where bit k of i is 0.
    for (std::size_t k = 2; k <= B; k <<= 1)
        for (std::size_t j = k >> 1; j > 0 && (k < B || j == B / 2); j >>= 1)
            for (std::size_t base = 0; base < B; base += 2 * j) {
                float* p = buf + base * L;
                float* q = buf + (base + j) * L;
                if ((base & k) != 0) std::swap(p, q);  // descending: the larger value goes first
                for (std::size_t i = 0; i < j * L; i += L) {
                    const V a = simd::load<V>(p + i), c = simd::load<V>(q + i);
                    simd::store(p + i, a < c ? a : c);
                    simd::store(q + i, a < c ? c : a);
                }
            }
    const float* upper_half = buf + (B / 2) * L;
    V lower = simd::load<V>(buf), upper = simd::load<V>(upper_half);
    for (std::size_t b = 1; b < B / 2; ++b) {
        const V a = simd::load<V>(buf + b * L), c = simd::load<V>(upper_half + b * L);
        lower = lower < a ? a : lower;
        upper = c < upper ? c : upper;
    }
    for (std::size_t l = 0; l < L; ++l) out[l] = (lower[l] + upper[l]) / 2.0f;
}

// onset_medians_body over the columns in groups of L; lanes past the last column repeat it.
template <class V>
[[gnu::always_inline]] inline void band_medians_body(const float* S, std::size_t B, std::size_t lag, std::size_t n,
                                                     float* out) {
    constexpr std::size_t L = sizeof(V) / sizeof(float);
    std::vector<float> buf(B * L);
    float med[L];
    for (std::size_t i = 0; i < n; i += L) {
        const float* cur[L];
        const float* prev[L];
        for (std::size_t l = 0; l < L; ++l) {
            const std::size_t c = std::min(i + l, n - 1);
            cur[l] = S + (c + lag) * B;
            prev[l] = S + c * B;
        }
        onset_medians_body<V>(cur, prev, B, buf.data(), med);
        for (std::size_t l = 0; l < L && i + l < n; ++l) out[i + l] = med[l];
    }
}

#define GENREKIT_RHYTHM_VARIANT(NS, ATTR, ISA)                                                              \
    namespace NS {                                                                                          \
    ATTR void tempogram_energies(const TempogramInputs& in, double* e) { energies_body(in, e); }            \
    ATTR void tempogram_lag_means(const TempogramInputs& in, double* scratch, double* mean) {               \
        lag_means_body<ByIsa<ISA, V4d, V4d, V8d>>(in, scratch, mean);                                      \
    }                                                                                                       \
    ATTR void onset_band_medians(const float* S, std::size_t B, std::size_t lag, std::size_t n, float* out) { \
        band_medians_body<ByIsa<ISA, V8f, V8f, V16f>>(S, B, lag, n, out);                                  \
    }                                                                                                       \
    }

GENREKIT_SIMD_STAMP(GENREKIT_RHYTHM_VARIANT)

}  // namespace

void tempogram_energies(const TempogramInputs& in, double* e) { GENREKIT_SIMD_PICK(tempogram_energies)(in, e); }

void tempogram_lag_means(const TempogramInputs& in, double* scratch, double* mean) {
    GENREKIT_SIMD_PICK(tempogram_lag_means)(in, scratch, mean);
}

void onset_band_medians(const float* S, std::size_t B, std::size_t lag, std::size_t n, float* out) {
    GENREKIT_SIMD_PICK(onset_band_medians)(S, B, lag, n, out);
}

}  // namespace genrekit::simd::rhythm
