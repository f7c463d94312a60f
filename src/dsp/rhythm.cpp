#include "genrekit/rhythm.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>

#include "genrekit/error.hpp"
#include "simd/vec.hpp"

namespace genrekit {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// ref: numpy's pairwise summation of a contiguous float32 array (umath loops pairwise_sum),
// so float32 statistics round as numpy's do.
float pairwise_sum_f32(const float* a, std::size_t n) {
    if (n < 8) {
        float s = 0.f;  // numpy starts from -0.0 here; the sums below are the same for our inputs
        for (std::size_t i = 0; i < n; ++i) s += a[i];
        return s;
    }
    if (n <= 128) {
        float r[8];
        for (int j = 0; j < 8; ++j) r[j] = a[j];
        std::size_t i = 8;
        for (; i < n - n % 8; i += 8)
            for (int j = 0; j < 8; ++j) r[j] += a[i + static_cast<std::size_t>(j)];
        float s = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for (; i < n; ++i) s += a[i];
        return s;
    }
    std::size_t n2 = n / 2;
    n2 -= n2 % 8;
    return pairwise_sum_f32(a, n2) + pairwise_sum_f32(a + n2, n - n2);
}

// ref: numpy.median of float64 values (mean of the two middle values for an even count).
double median_f64(std::vector<double> v) {
    const std::size_t n = v.size();
    const std::size_t hi = n / 2;
    std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(hi), v.end());
    const double upper = v[hi];
    if (n % 2 == 1) return upper;
    const double lower = *std::max_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(hi));
    return (lower + upper) / 2.0;
}

// ref: scipy.signal.convolve(a, w, mode='same'): the centred len(a) part of the full convolution.
std::vector<double> convolve_same(const std::vector<double>& a, const std::vector<double>& w) {
    const auto n = static_cast<std::ptrdiff_t>(a.size());
    const auto m = static_cast<std::ptrdiff_t>(w.size());
    const std::ptrdiff_t c = (m - 1) / 2;
    std::vector<double> out(a.size(), 0.0);
    for (std::ptrdiff_t i = 0; i < n; ++i) {
        double s = 0.0;
        for (std::ptrdiff_t j = 0; j < m; ++j) {
            const std::ptrdiff_t idx = i + c - j;
            if (idx >= 0 && idx < n) s += a[static_cast<std::size_t>(idx)] * w[static_cast<std::size_t>(j)];
        }
        out[static_cast<std::size_t>(i)] = s;
    }
    return out;
}

// ref: librosa 0.7.2 tempogram(center=True): np.pad(env, win_length // 2, mode='linear_ramp',
// end_values=0) in float32; numpy's ramp is linspace(0, edge, width, endpoint=False) in
// float64, rounded to float32 (reversed on the right).
std::vector<double> pad_linear_ramp(std::span<const float> env, int half) {
    const std::size_t T = env.size();
    const auto h = static_cast<std::size_t>(half);
    std::vector<double> x(T + 2 * h, 0.0);
    if (T == 0) return x;
    const double first = env.front(), last = env.back();
    for (std::size_t i = 0; i < h; ++i) {
        x[i] = static_cast<float>(static_cast<double>(i) * (first / static_cast<double>(h)));
        x[h + T + i] = static_cast<float>(static_cast<double>(h - 1 - i) * (last / static_cast<double>(h)));
    }
    for (std::size_t t = 0; t < T; ++t) x[h + t] = env[t];
    return x;
}

// ---------------------------------------------------------------------------------------------
// Kernels of TempoEstimator::mean_tempogram (see the comment there for the method).
// ---------------------------------------------------------------------------------------------

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
constexpr std::size_t kMaxLagGroup = 8;   // lags per vector (one per lane): 4 with AVX2, 8 with AVX-512

// The mean tempogram at lag k from the five lag sums: w[n] w[n+k] = A0 + A1c cos + A1s sin +
// A2c cos 2 + A2s sin 2 (see mean_tempogram), divided by the frame count.
double lag_mean(const TempogramInputs& in, std::size_t k, double acc0, double u1, double v1, double u2, double v2) {
    const double ck = in.cosN[k], sk = in.sinN[k];
    const double A0 = 0.25 * (1.0 + 0.5 * ck), A1c = -0.25 * (1.0 + ck), A1s = 0.25 * sk;
    const double A2c = 0.125 * ck, A2s = -0.125 * sk;
    return (A0 * acc0 + A1c * u1 + A1s * v1 + A2c * u2 + A2s * v2) / static_cast<double>(in.T);
}

// The mean tempogram at lag k from the five prefix sums (scratch: 5 (kTempoBlock + N + 1)).
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

// The vector kernels below do exactly lag_sum's operations, in its order, on four lags (or four
// frames) at once, so every lag gets the same bits from either path and on any CPU.

using D4 = double __attribute__((vector_size(32)));
using I4 = long __attribute__((vector_size(32)));

// Frame energies sum_n (w[n] x[t+n])^2, four frames per vector.
[[gnu::always_inline]] inline void energies_body(const TempogramInputs& in, double* e) {
    const std::size_t N = in.N, T = in.T;
    std::size_t t = 0;
    for (; t + 4 <= T; t += 4) {
        D4 acc{};
        for (std::size_t n = 0; n < N; ++n) {
            const D4 v = in.window[n] * simd::load<D4>(in.x + t + n);
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

using D8 = double __attribute__((vector_size(64)));
using I8 = long __attribute__((vector_size(64)));

// {r[0], (r - stride)[1], (r - 2 stride)[2], ...}: lane l from l rows earlier.
template <class V>
[[gnu::always_inline]] inline V diagonal(const double* r, std::size_t stride) {
    if constexpr (sizeof(V) == sizeof(D4)) {
        const D4 a = __builtin_shuffle(simd::load<D4>(r), simd::load<D4>(r - stride), I4{0, 5, 2, 7});
        const D4 b = __builtin_shuffle(simd::load<D4>(r - 2 * stride), simd::load<D4>(r - 3 * stride), I4{0, 5, 2, 7});
        return __builtin_shuffle(a, b, I4{0, 1, 6, 7});
    } else {
        constexpr I8 odd{0, 9, 2, 11, 4, 13, 6, 15};
        const D8 a = __builtin_shuffle(simd::load<D8>(r), simd::load<D8>(r - stride), odd);
        const D8 b = __builtin_shuffle(simd::load<D8>(r - 2 * stride), simd::load<D8>(r - 3 * stride), odd);
        const D8 c = __builtin_shuffle(simd::load<D8>(r - 4 * stride), simd::load<D8>(r - 5 * stride), odd);
        const D8 d = __builtin_shuffle(simd::load<D8>(r - 6 * stride), simd::load<D8>(r - 7 * stride), odd);
        const D8 ab = __builtin_shuffle(a, b, I8{0, 1, 10, 11, 4, 5, 14, 15});
        const D8 cd = __builtin_shuffle(c, d, I8{0, 1, 10, 11, 4, 5, 14, 15});
        return __builtin_shuffle(ab, cd, I8{0, 1, 2, 3, 12, 13, 14, 15});
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

struct TempogramKernels {
    void (*energies)(const TempogramInputs&, double*);
    void (*lag_group)(const TempogramInputs&, std::size_t, double*, double*);
    std::size_t lags;  // per lag_group call
};

#define GENREKIT_TEMPOGRAM_KERNELS(SUFFIX, ATTR, V)                                                         \
    [[maybe_unused]] ATTR void energies_##SUFFIX(const TempogramInputs& in, double* e) { energies_body(in, e); } \
    [[maybe_unused]] ATTR void lag_group_##SUFFIX(const TempogramInputs& in, std::size_t k0, double* scratch,  \
                                                  double* out) {                                            \
        lag_group_body<V>(in, k0, scratch, out);                                                           \
    }

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__AVX2__)
GENREKIT_TEMPOGRAM_KERNELS(base, , D4)
GENREKIT_TEMPOGRAM_KERNELS(avx2, [[gnu::target("avx2")]], D4)
GENREKIT_TEMPOGRAM_KERNELS(avx512, [[gnu::target("avx2,avx512f")]], D8)
TempogramKernels select_tempogram_kernels() {
    if (__builtin_cpu_supports("avx512f")) return {energies_avx512, lag_group_avx512, 8};
    if (__builtin_cpu_supports("avx2")) return {energies_avx2, lag_group_avx2, 4};
    return {energies_base, lag_group_base, 4};
}
#else
GENREKIT_TEMPOGRAM_KERNELS(native, , D4)
TempogramKernels select_tempogram_kernels() { return {energies_native, lag_group_native, 4}; }
#endif


const TempogramKernels& tempogram_kernels() {
    static const TempogramKernels k = select_tempogram_kernels();
    return k;
}

// ---------------------------------------------------------------------------------------------
// onset_strength's median over bands, 8 or 16 frames at once.
// ---------------------------------------------------------------------------------------------

constexpr std::size_t kMaxOnsetLanes = 16;

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

using OnsetMediansKernel = void (*)(const float* const*, const float* const*, std::size_t, float*, float*);

#define GENREKIT_ONSET_MEDIANS(SUFFIX, ATTR, V)                                                          \
    [[maybe_unused]] ATTR void onset_medians_##SUFFIX(const float* const* cur, const float* const* prev, \
                                                      std::size_t B, float* buf, float* out) {          \
        onset_medians_body<V>(cur, prev, B, buf, out);                                                  \
    }

using v8f = float __attribute__((vector_size(32)));
using v16f = float __attribute__((vector_size(64)));

struct OnsetMedians {
    OnsetMediansKernel kernel;
    std::size_t lanes;
};

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__AVX2__)
GENREKIT_ONSET_MEDIANS(base, , v8f)
GENREKIT_ONSET_MEDIANS(avx2, [[gnu::target("avx2")]], v8f)
GENREKIT_ONSET_MEDIANS(avx512, [[gnu::target("avx2,avx512f")]], v16f)
OnsetMedians select_onset_medians() {
    if (__builtin_cpu_supports("avx512f")) return {onset_medians_avx512, 16};
    if (__builtin_cpu_supports("avx2")) return {onset_medians_avx2, 8};
    return {onset_medians_base, 8};
}
#else
GENREKIT_ONSET_MEDIANS(native, , v8f)
OnsetMedians select_onset_medians() { return {onset_medians_native, 8}; }
#endif

// Chosen once; every variant gives the same bits.
const OnsetMedians& onset_medians() {
    static const OnsetMedians m = select_onset_medians();
    return m;
}

}  // namespace

void OnsetParams::validate() const {
    require_param(lag >= 1, "lag", lag, ">= 1");
    require_param(n_fft >= 1, "n_fft", n_fft, ">= 1");
    require_param(hop >= 1, "hop", hop, ">= 1");
}

std::vector<float> onset_strength(const Spectrogram& S, const OnsetParams& params) {
    params.validate();
    const auto T = static_cast<std::size_t>(S.cols());
    const auto B = static_cast<std::size_t>(S.rows());
    // ref: librosa 0.7.2 onset_strength_multi: pad_width = lag (+ n_fft // (2 hop) when centred).
    std::size_t pad = static_cast<std::size_t>(params.lag);
    if (params.center) pad += static_cast<std::size_t>(params.n_fft / (2 * params.hop));
    const auto lag = static_cast<std::size_t>(params.lag);
    std::vector<float> env(T, 0.f);  // pad_width zeros in front, then cut to T frames
    if (B == 0) return env;
    // Column i of the aggregated difference, i < n, lands at output frame pad + i.
    const std::size_t n = T > std::max(lag, pad) ? T - std::max(lag, pad) : 0;
    std::size_t i = 0;
    if (params.aggregate == OnsetAggregate::Median && B >= 2 && (B & (B - 1)) == 0) {
        // 8 or 16 frames at a time through a sorting network: the same middle values, so the
        // same bits. Lanes past the last column repeat it.
        const OnsetMedians& medians = onset_medians();
        const std::size_t lanes = medians.lanes;
        std::vector<float> buf(B * lanes);
        float med[kMaxOnsetLanes];
        for (; i < n; i += lanes) {
            const float* cur[kMaxOnsetLanes];
            const float* prev[kMaxOnsetLanes];
            for (std::size_t l = 0; l < lanes; ++l) {
                const auto c = static_cast<Eigen::Index>(std::min(i + l, n - 1));
                cur[l] = S.col(c + static_cast<Eigen::Index>(lag)).data();
                prev[l] = S.col(c).data();
            }
            medians.kernel(cur, prev, B, buf.data(), med);
            for (std::size_t l = 0; l < lanes && i + l < n; ++l) env[pad + i + l] = med[l];
        }
        return env;
    }
    std::vector<float> d(B);
    for (; i < n; ++i) {
        const float* cur = S.col(static_cast<Eigen::Index>(i + lag)).data();
        const float* prev = S.col(static_cast<Eigen::Index>(i)).data();
        // ref: np.maximum(0.0, S[:, lag:] - ref[:, :-lag]) in float32.
        for (std::size_t b = 0; b < B; ++b) d[b] = std::max(0.0f, cur[b] - prev[b]);
        float v;
        if (params.aggregate == OnsetAggregate::Mean) {
            // ref: np.mean(axis=0) of a C-ordered float32 array: bands added in order, in float32.
            float s = 0.f;
            for (std::size_t b = 0; b < B; ++b) s += d[b];
            v = s / static_cast<float>(B);
        } else {
            // ref: np.median(axis=0): the middle value, or the float32 mean of the two middle ones.
            // The differences are >= 0 and often 0, so the zeros are counted and only the
            // positive values are partially sorted.
            const std::size_t hi = B / 2;
            const std::size_t lo = B % 2 == 1 ? hi : hi - 1;
            const auto pos_end = std::partition(d.begin(), d.end(), [](float a) { return a == 0.f; });
            const auto zeros = static_cast<std::size_t>(pos_end - d.begin());
            auto order_stat = [&](std::size_t rank) -> float {  // the rank-th smallest value, rank >= zeros
                const auto it = pos_end + static_cast<std::ptrdiff_t>(rank - zeros);
                std::nth_element(pos_end, it, d.end());
                return *it;
            };
            if (zeros > hi) {
                v = 0.f;
            } else {
                const float upper = order_stat(hi);
                float lower = upper;
                if (lo != hi) {
                    if (zeros > lo) lower = 0.f;
                    else lower = *std::max_element(pos_end, pos_end + static_cast<std::ptrdiff_t>(hi - zeros));
                }
                v = lo == hi ? upper : (lower + upper) / 2.0f;
            }
        }
        env[pad + i] = v;
    }
    return env;
}

void TempoParams::validate() const {
    require_param(sample_rate > 0, "sample_rate", sample_rate, "> 0");
    require_param(hop >= 1, "hop", hop, ">= 1");
    require_param(start_bpm > 0, "start_bpm", start_bpm, "> 0");
    require_param(std_bpm > 0, "std_bpm", std_bpm, "> 0");
    require_param(ac_size > 0 && win_length() >= 1 && win_length() <= 100000, "ac_size", ac_size,
                  "a window of 1..100000 frames (ac_size * sample_rate / hop)");
    require_param(std::isfinite(max_tempo), "max_tempo", max_tempo, "finite (<= 0: no limit)");
}

int TempoParams::win_length() const {
    // ref: time_to_samples: (t * sr).astype(int); samples_to_frames: floor(samples // hop).
    const double samples = std::trunc(ac_size * sample_rate);
    if (!(samples >= 0) || samples > 1e12) return 0;
    return static_cast<int>(std::floor(samples / hop));
}

std::vector<double> tempo_frequencies(int n_bins, int hop, int sample_rate) {
    std::vector<double> f(static_cast<std::size_t>(std::max(n_bins, 0)));
    if (n_bins > 0) f[0] = kInf;
    for (int k = 1; k < n_bins; ++k) f[static_cast<std::size_t>(k)] = (60.0 * sample_rate) / (hop * static_cast<double>(k));
    return f;
}

Eigen::MatrixXd tempogram(std::span<const float> onset_env, int win_length) {
    require_param(win_length >= 1, "win_length", win_length, ">= 1");
    const auto N = static_cast<std::size_t>(win_length);
    const std::size_t T = onset_env.size();
    const auto window = hann_window(win_length);
    const auto x = pad_linear_ramp(onset_env, win_length / 2);
    Eigen::MatrixXd tg(win_length, static_cast<Eigen::Index>(T));
    std::vector<double> f(N);
    for (std::size_t t = 0; t < T; ++t) {
        for (std::size_t n = 0; n < N; ++n) f[n] = window[n] * x[t + n];
        double peak = 0.0;
        for (std::size_t k = 0; k < N; ++k) {
            double s = 0.0;
            for (std::size_t n = 0; n + k < N; ++n) s += f[n] * f[n + k];
            tg(static_cast<Eigen::Index>(k), static_cast<Eigen::Index>(t)) = s;
            peak = std::max(peak, std::abs(s));
        }
        // ref: util.normalize(norm=inf, axis=0): columns below tiny(float64) stay as they are.
        if (peak >= std::numeric_limits<double>::min()) tg.col(static_cast<Eigen::Index>(t)) /= peak;
    }
    return tg;
}

TempoEstimator::TempoEstimator(const TempoParams& params) : params_(params) {
    params_.validate();
    win_ = params_.win_length();
    window_ = hann_window(win_);
    bpms_ = tempo_frequencies(win_, params_.hop, params_.sample_rate);
    logprior_.resize(bpms_.size());
    for (std::size_t k = 0; k < bpms_.size(); ++k) {
        // ref: librosa 0.7.2 beat.tempo: log-normal prior, -0.5 ((log2 bpm - log2 start) / std)^2.
        const double z = (std::log2(bpms_[k]) - std::log2(params_.start_bpm)) / params_.std_bpm;
        logprior_[k] = -0.5 * (z * z);
    }
    if (params_.max_tempo > 0) {
        // ref: max_idx = argmax(bpms < max_tempo); logprior[:max_idx] = -inf.
        std::size_t max_idx = 0;
        while (max_idx < bpms_.size() && !(bpms_[max_idx] < params_.max_tempo)) ++max_idx;
        if (max_idx == bpms_.size()) max_idx = 0;  // argmax of an all-False array is 0
        for (std::size_t k = 0; k < max_idx; ++k) logprior_[k] = -kInf;
    }
}

// The mean over frames of the normalised autocorrelations, without forming them.
//
// Frame t is f_t[n] = w[n] x[t+n] (n < N, x the padded envelope, w the periodic Hann window),
// and ac_t[k] = sum_{n < N-k} w[n] w[n+k] p_k[t+n] with p_k[m] = x[m] x[m+k]. With
// theta = 2 pi / N the window product is a short trigonometric sum,
//   w[n] w[n+k] = A0 + A1c cos(theta n) + A1s sin(theta n) + A2c cos(2 theta n) + A2s sin(2 theta n),
// so ac_t[k] follows from five running sums of p_k (plain and modulated by cos/sin of theta m
// and 2 theta m) over the frame's span, taken as differences of prefix sums. The prefix sums
// restart every kBlock frames, so rounding stays relative to the local envelope. Each frame
// is normalised by its energy ac_t[0] = sum (w x)^2, computed directly (the maximum of |ac_t|,
// as librosa normalises; frames whose energy is exactly zero stay zero, as in librosa).
std::vector<double> TempoEstimator::mean_tempogram(std::span<const float> onset_env) const {
    const auto N = static_cast<std::size_t>(win_);
    const std::size_t T = onset_env.size();
    std::vector<double> mean(N, 0.0);
    if (T == 0) return mean;
    std::vector<double> x = pad_linear_ramp(onset_env, win_ / 2);
    x.resize(x.size() + kMaxLagGroup, 0.0);  // a lag group reads up to its width - 1 past the last lag's end

    std::vector<double> cosN(N), sinN(N);
    for (std::size_t j = 0; j < N; ++j) {
        const double a = 2.0 * std::numbers::pi * static_cast<double>(j) / static_cast<double>(N);
        cosN[j] = std::cos(a);
        sinN[j] = std::sin(a);
    }
    std::vector<double> g(T), gc1(T), gs1(T), gc2(T), gs2(T);
    // The phase tables by envelope index m, for the prefix sums.
    std::vector<double> cos1(x.size()), sin1(x.size()), cos2(x.size()), sin2(x.size());
    for (std::size_t m = 0; m < x.size(); ++m) {
        cos1[m] = cosN[m % N];
        sin1[m] = sinN[m % N];
        cos2[m] = cosN[(2 * m) % N];
        sin2[m] = sinN[(2 * m) % N];
    }
    TempogramInputs in{N,           T,           x.data(),    window_.data(), cosN.data(), sinN.data(),
                       cos1.data(), sin1.data(), cos2.data(), sin2.data(),    g.data(),    gc1.data(),
                       gs1.data(),  gc2.data(),  gs2.data()};
    tempogram_kernels().energies(in, g.data());
    // Per-frame weights: g = 1 / energy, and g modulated by cos/sin of theta t and 2 theta t.
    for (std::size_t t = 0; t < T; ++t) {
        const double e = g[t];
        const double gt = e >= std::numeric_limits<double>::min() ? 1.0 / e : 0.0;
        const std::size_t i1 = t % N, i2 = (2 * t) % N;
        g[t] = gt;
        gc1[t] = gt * cosN[i1];
        gs1[t] = gt * sinN[i1];
        gc2[t] = gt * cosN[i2];
        gs2[t] = gt * sinN[i2];
    }

    const TempogramKernels& kernels = tempogram_kernels();
    std::vector<double> prefix(5 * (kTempoBlock + N + 1) * kMaxLagGroup);
    std::size_t k = 0;
    for (; k + kernels.lags <= N; k += kernels.lags) kernels.lag_group(in, k, prefix.data(), mean.data() + k);
    for (; k < N; ++k) mean[k] = lag_sum(in, k, prefix.data());
    return mean;
}

std::vector<double> TempoEstimator::tempo_scores(std::span<const float> onset_env) const {
    const auto tg = mean_tempogram(onset_env);
    std::vector<double> score(tg.size());
    // ref: librosa 0.7.2 beat.tempo: log1p(1e6 * tg) + logprior.
    for (std::size_t k = 0; k < tg.size(); ++k) score[k] = std::log1p(1e6 * tg[k]) + logprior_[k];
    return score;
}

double TempoEstimator::tempo(std::span<const float> onset_env) const {
    const auto score = tempo_scores(onset_env);
    // ref: np.argmax: the first maximum, or the first NaN if there is one.
    std::size_t best = 0;
    for (std::size_t k = 0; k < score.size(); ++k) {
        if (std::isnan(score[k])) {
            best = k;
            break;
        }
        if (score[k] > score[best]) best = k;
    }
    return bpms_[best];
}

double TempoEstimator::beat_track_tempo(std::span<const float> onset_env) const {
    // ref: librosa 0.7.2 beat_track: `if not onset_envelope.any(): return (0, [])`.
    if (std::none_of(onset_env.begin(), onset_env.end(), [](float v) { return v != 0.f; })) return 0.0;
    return tempo(onset_env);
}

void BeatParams::validate() const {
    require_param(sample_rate > 0, "sample_rate", sample_rate, "> 0");
    require_param(hop >= 1, "hop", hop, ">= 1");
    require_param(tightness > 0, "tightness", tightness, "> 0");
}

std::vector<int> track_beats(std::span<const float> onset_env, double bpm, const BeatParams& params) {
    params.validate();
    const std::size_t T = onset_env.size();
    if (!(bpm > 0) || T == 0 || std::none_of(onset_env.begin(), onset_env.end(), [](float v) { return v != 0.f; }))
        return {};
    const double fft_res = static_cast<double>(params.sample_rate) / params.hop;
    // ref: Python round(): half to even.
    const auto period = static_cast<long>(std::nearbyint(60.0 * fft_res / bpm));
    if (period < 1) return {};

    // ref: __normalize_onsets: divide by the float32 standard deviation (ddof 1) when positive.
    std::vector<double> normed(T);
    {
        const float mean = pairwise_sum_f32(onset_env.data(), T) / static_cast<float>(T);
        std::vector<float> sq(T);
        for (std::size_t i = 0; i < T; ++i) {
            const float dlt = onset_env[i] - mean;
            sq[i] = dlt * dlt;
        }
        const float var = T > 1 ? static_cast<float>(static_cast<double>(pairwise_sum_f32(sq.data(), T)) / static_cast<double>(T - 1))
                                : std::numeric_limits<float>::quiet_NaN();
        const float sd = std::sqrt(var);
        for (std::size_t i = 0; i < T; ++i) normed[i] = sd > 0 ? onset_env[i] / sd : onset_env[i];
    }
    // ref: __beat_local_score: convolve with a Gaussian of +-period frames, 'same'.
    std::vector<double> win(static_cast<std::size_t>(2 * period + 1));
    for (long i = -period; i <= period; ++i) {
        const double z = static_cast<double>(i) * 32.0 / static_cast<double>(period);
        win[static_cast<std::size_t>(i + period)] = std::exp(-0.5 * (z * z));
    }
    const auto localscore = convolve_same(normed, win);

    // ref: __beat_track_dp.
    const long w_first = -2 * period;
    const long w_last = -static_cast<long>(std::nearbyint(static_cast<double>(period) / 2.0));
    const std::size_t n_win = static_cast<std::size_t>(w_last - w_first + 1);
    std::vector<double> txwt(n_win);
    for (std::size_t j = 0; j < n_win; ++j) {
        const double lg = std::log(-static_cast<double>(w_first + static_cast<long>(j)) / static_cast<double>(period));
        txwt[j] = -params.tightness * (lg * lg);
    }
    const double score_max = *std::max_element(localscore.begin(), localscore.end());
    std::vector<double> cumscore(T, 0.0);
    std::vector<long> backlink(T, 0);
    bool first_beat = true;
    for (std::size_t i = 0; i < T; ++i) {
        const long w0 = w_first + static_cast<long>(i);  // window[0] for this step
        const auto z_pad = static_cast<std::size_t>(std::max<long>(0, std::min<long>(-w0, static_cast<long>(n_win))));
        std::size_t loc = 0;
        double best = -kInf;
        for (std::size_t j = 0; j < n_win; ++j) {
            const double c = j < z_pad ? txwt[j] : txwt[j] + cumscore[static_cast<std::size_t>(w0 + static_cast<long>(j))];
            if (j == 0 || c > best) {
                best = c;
                loc = j;
            }
        }
        cumscore[i] = localscore[i] + best;
        if (first_beat && localscore[i] < 0.01 * score_max) {
            backlink[i] = -1;
        } else {
            backlink[i] = w0 + static_cast<long>(loc);
            first_beat = false;
        }
    }

    // ref: __last_beat: the last local maximum of cumscore above half the median local maximum.
    std::vector<char> is_max(T);
    std::vector<double> maxima;
    for (std::size_t i = 0; i < T; ++i) {
        const double prev = cumscore[i == 0 ? 0 : i - 1];
        const double next = cumscore[i + 1 == T ? i : i + 1];
        is_max[i] = cumscore[i] > prev && cumscore[i] >= next;
        if (is_max[i]) maxima.push_back(cumscore[i]);
    }
    long last = -1;
    if (!maxima.empty()) {
        const double med = median_f64(maxima);
        for (std::size_t i = 0; i < T; ++i)
            if ((cumscore[i] * (is_max[i] ? 1.0 : 0.0)) * 2.0 > med) last = static_cast<long>(i);
    }
    if (last < 0) last = static_cast<long>(std::max_element(cumscore.begin(), cumscore.end()) - cumscore.begin());

    std::vector<int> beats{static_cast<int>(last)};
    while (backlink[static_cast<std::size_t>(beats.back())] >= 0) beats.push_back(static_cast<int>(backlink[static_cast<std::size_t>(beats.back())]));
    std::reverse(beats.begin(), beats.end());

    // ref: __trim_beats: smooth the beats' local scores with hann(5) = [0, .5, 1, .5, 0] and
    // keep beats[first valid : last valid] (the last valid one excluded, as the slice does).
    std::vector<double> at_beats(beats.size());
    for (std::size_t i = 0; i < beats.size(); ++i) at_beats[i] = localscore[static_cast<std::size_t>(beats[i])];
    const auto smooth = convolve_same(at_beats, {0.0, 0.5, 1.0, 0.5, 0.0});
    double threshold = 0.0;
    if (params.trim) {
        double ms = 0.0;
        for (double v : smooth) ms += v * v;
        threshold = 0.5 * std::sqrt(ms / static_cast<double>(smooth.size()));
    }
    long first_valid = -1, last_valid = -1;
    for (std::size_t i = 0; i < smooth.size(); ++i)
        if (smooth[i] > threshold) {
            if (first_valid < 0) first_valid = static_cast<long>(i);
            last_valid = static_cast<long>(i);
        }
    if (first_valid < 0) return {};
    return {beats.begin() + first_valid, beats.begin() + last_valid};
}

}  // namespace genrekit
