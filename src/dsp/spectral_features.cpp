#include "genrekit/spectral_features.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#if defined(__x86_64__) || defined(__SSE2__)
#include <immintrin.h>
#endif
#include <limits>
#include <string>

#include "genrekit/error.hpp"
#include "genrekit/mel.hpp"
#include "genrekit/stats.hpp"
#include "dsp/pairwise_kernels.hpp"
#include "simd/vec.hpp"


namespace genrekit {

void FrameParams::validate() const {
    require_param(frame_length >= 1 && frame_length <= (1 << 20), "frame_length", frame_length, "1..1048576");
    require_param(hop >= 1 && hop <= (1 << 20), "hop", hop, "1..1048576");
}

void ZcrParams::validate() const {
    frame.validate();
    require_param(std::isfinite(threshold) && threshold >= 0, "threshold", threshold, "a finite number >= 0");
}

void SpectralParams::validate() const {
    require_param(sample_rate > 0, "sample_rate", sample_rate, "> 0");
    // ref: librosa 0.7.2 spectral_rolloff: "roll_percent must lie in the range (0, 1)".
    require_param(roll_percent > 0 && roll_percent < 1, "roll_percent", roll_percent, "(0, 1)");
    require_param(std::isfinite(p) && p > 0, "p", p, "a finite number > 0");
}

namespace {

// The float64 sums of one frame for centroid and bandwidth: numpy's pairwise sums of the
// products librosa forms (pairwise_kernels.hpp), one term source per sum.
using pairwise::Vec;

// |s[k]| in float64. ref: librosa 0.7.2 util.normalize(norm=1): np.sum(np.abs(S), axis=0).
struct AbsTerms {
    const float* s;
    [[gnu::always_inline]] double one(std::size_t k) const { return std::abs(static_cast<double>(s[k])); }
    [[gnu::always_inline]] Vec<double> vec(std::size_t k) const {
        using Bits = long long __attribute__((vector_size(64)));
        const Vec<double> v = __builtin_convertvector(simd::load<Vec<float>>(s + k), Vec<double>);
        return reinterpret_cast<Vec<double>>(reinterpret_cast<Bits>(v) & 0x7FFFFFFFFFFFFFFFLL);
    }
};

// freq[k] * q[k]. ref: librosa 0.7.2 spectral_centroid: np.sum(freq * normalize(S), axis=0).
struct WeightedTerms {
    const double* fq;
    const float* q;
    [[gnu::always_inline]] double one(std::size_t k) const { return fq[k] * static_cast<double>(q[k]); }
    [[gnu::always_inline]] Vec<double> vec(std::size_t k) const {
        return simd::load<Vec<double>>(fq + k) * __builtin_convertvector(simd::load<Vec<float>>(q + k), Vec<double>);
    }
};

// w[k] * |freq[k] - c|**2 (squaring the signed difference gives the same bits).
// ref: librosa 0.7.2 spectral_bandwidth(p=2): np.sum(S * abs(freq - centroid)**p, axis=0).
struct SquaredDeviationTerms {
    const double* fq;
    const float* w;
    double c;
    [[gnu::always_inline]] double one(std::size_t k) const {
        const double d = fq[k] - c;
        return static_cast<double>(w[k]) * (d * d);
    }
    [[gnu::always_inline]] Vec<double> vec(std::size_t k) const {
        const Vec<double> d = simd::load<Vec<double>>(fq + k) - c;
        return __builtin_convertvector(simd::load<Vec<float>>(w + k), Vec<double>) * (d * d);
    }
};

// w[k] * |freq[k] - c|**p for any other p, one term at a time.
struct PowerDeviationTerms {
    const double* fq;
    const float* w;
    double c, p;
    double one(std::size_t k) const { return static_cast<double>(w[k]) * std::pow(std::abs(fq[k] - c), p); }
    Vec<double> vec(std::size_t k) const {
        Vec<double> v;
        for (int j = 0; j < 8; ++j) v[j] = one(k + static_cast<std::size_t>(j));
        return v;
    }
};

struct ShapeSums {
    double (*abs)(const float* s, std::size_t n);
    double (*weighted)(const double* fq, const float* q, std::size_t n);
    double (*squared_deviation)(const double* fq, const float* w, double c, std::size_t n);
};

#define GENREKIT_SHAPE_SUMS(SUFFIX, ATTR)                                                                   \
    GENREKIT_PAIRWISE_SUM(pairwise_##SUFFIX, ATTR)                                                          \
    ATTR double abs_sum_##SUFFIX(const float* s, std::size_t n) {                                           \
        return pairwise_##SUFFIX<double>(AbsTerms{s}, 0, n);                                                \
    }                                                                                                       \
    ATTR double weighted_sum_##SUFFIX(const double* fq, const float* q, std::size_t n) {                    \
        return pairwise_##SUFFIX<double>(WeightedTerms{fq, q}, 0, n);                                       \
    }                                                                                                       \
    ATTR double squared_deviation_sum_##SUFFIX(const double* fq, const float* w, double c, std::size_t n) { \
        return pairwise_##SUFFIX<double>(SquaredDeviationTerms{fq, w, c}, 0, n);                            \
    }                                                                                                       \
    [[maybe_unused]] constexpr ShapeSums shape_sums_##SUFFIX{abs_sum_##SUFFIX, weighted_sum_##SUFFIX,       \
                                                             squared_deviation_sum_##SUFFIX};

GENREKIT_SHAPE_SUMS(base, )
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__AVX2__)
GENREKIT_SHAPE_SUMS(avx2, [[gnu::target("avx2")]])
GENREKIT_SHAPE_SUMS(avx512, [[gnu::target("avx2,avx512f")]])
#endif

// Chosen once; every variant gives the same bits.
const ShapeSums& shape_sums() {
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__AVX2__)
    static const ShapeSums& s = __builtin_cpu_supports("avx512f") ? shape_sums_avx512
                                : __builtin_cpu_supports("avx2")  ? shape_sums_avx2
                                                                  : shape_sums_base;
    return s;
#else
    return shape_sums_base;
#endif
}

// q[k] = float(s[k] / length) with the division in double (IEEE: the same bits in SSE2 pairs).
void normalize_f32_base(const float* s, double length, float* q, std::size_t n) {
    std::size_t k = 0;
#if defined(__SSE2__)
    const __m128d len = _mm_set1_pd(length);
    for (; k + 4 <= n; k += 4) {
        const __m128 v = _mm_loadu_ps(s + k);
        const __m128 lo = _mm_cvtpd_ps(_mm_div_pd(_mm_cvtps_pd(v), len));
        const __m128 hi = _mm_cvtpd_ps(_mm_div_pd(_mm_cvtps_pd(_mm_movehl_ps(v, v)), len));
        _mm_storeu_ps(q + k, _mm_movelh_ps(lo, hi));
    }
#endif
    for (; k < n; ++k) q[k] = static_cast<float>(static_cast<double>(s[k]) / length);
}

#if defined(__x86_64__) && defined(__GNUC__)
// The same bits as normalize_f32_base, with a multiply by 1/length in place of the division.
// p = fl(s * fl(1/length)) is within relative 2u + u^2 (u = 2^-53) of s/length, so p and
// fl(s/length) are at most 6 doubles apart (as 64-bit patterns of one sign). In the float32
// normal range a double's float rounding (to nearest even) changes, as its pattern steps by 1,
// only where the low 29 pattern bits equal 0x10000000 (a midpoint between two floats). So when
// no pattern within kSlack of p has those bits and |p| is well inside the normal float range,
// float(p) == float(fl(s/length)); otherwise (zeros, NaN, tiny or huge values, and about one
// value in 2^22 near a midpoint) the eight values are divided as in the base kernel.
[[gnu::target("avx2")]] inline __m256d normalize_safe(__m256d p, __m256d absmask, __m256d lo, __m256d hi, __m256i off,
                                                      __m256i low, __m256i lim) {
    const __m256d a = _mm256_and_pd(p, absmask);
    const __m256d in = _mm256_and_pd(_mm256_cmp_pd(a, lo, _CMP_GE_OQ), _mm256_cmp_pd(a, hi, _CMP_LE_OQ));
    // t = (pattern - mid + slack) mod 2^29: no midpoint within slack of p iff t > 2 slack.
    const __m256i t = _mm256_and_si256(_mm256_add_epi64(_mm256_castpd_si256(p), off), low);
    return _mm256_and_pd(in, _mm256_castsi256_pd(_mm256_cmpgt_epi64(t, lim)));
}

[[gnu::target("avx2")]] void normalize_f32_avx2(const float* s, double length, float* q, std::size_t n) {
    const double inv = 1.0 / length;
    if (!(inv >= std::numeric_limits<double>::min() && inv <= std::numeric_limits<double>::max()))
        return normalize_f32_base(s, length, q, n);
    constexpr long long kSlack = 64, kMid = 0x10000000, kLow = 0x1FFFFFFF;
    const __m256d vinv = _mm256_set1_pd(inv), vlen = _mm256_set1_pd(length);
    const __m256d absmask = _mm256_castsi256_pd(_mm256_set1_epi64x(0x7FFFFFFFFFFFFFFFLL));
    const __m256d lo = _mm256_set1_pd(0x1p-125), hi = _mm256_set1_pd(0x1p126);
    const __m256i off = _mm256_set1_epi64x(kMid + kSlack), low = _mm256_set1_epi64x(kLow);
    const __m256i lim = _mm256_set1_epi64x(2 * kSlack);
    std::size_t k = 0;
    for (; k + 8 <= n; k += 8) {
        const __m256 v = _mm256_loadu_ps(s + k);
        const __m256d v0 = _mm256_cvtps_pd(_mm256_castps256_ps128(v));
        const __m256d v1 = _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1));
        __m256d p0 = _mm256_mul_pd(v0, vinv), p1 = _mm256_mul_pd(v1, vinv);
        const __m256d ok0 = normalize_safe(p0, absmask, lo, hi, off, low, lim);
        const __m256d ok1 = normalize_safe(p1, absmask, lo, hi, off, low, lim);
        if (_mm256_movemask_pd(_mm256_and_pd(ok0, ok1)) != 0xF) {
            p0 = _mm256_div_pd(v0, vlen);
            p1 = _mm256_div_pd(v1, vlen);
        }
        _mm256_storeu_ps(q + k, _mm256_set_m128(_mm256_cvtpd_ps(p1), _mm256_cvtpd_ps(p0)));
    }
    for (; k < n; ++k) q[k] = static_cast<float>(static_cast<double>(s[k]) / length);
}

// normalize_f32_avx2's test with eight doubles per vector.
[[gnu::target("avx2,avx512f")]] void normalize_f32_avx512(const float* s, double length, float* q, std::size_t n) {
    const double inv = 1.0 / length;
    if (!(inv >= std::numeric_limits<double>::min() && inv <= std::numeric_limits<double>::max()))
        return normalize_f32_base(s, length, q, n);
    constexpr long long kSlack = 64, kMid = 0x10000000, kLow = 0x1FFFFFFF;
    const __m512d vinv = _mm512_set1_pd(inv), vlen = _mm512_set1_pd(length);
    const __m512d lo = _mm512_set1_pd(0x1p-125), hi = _mm512_set1_pd(0x1p126);
    const __m512i off = _mm512_set1_epi64(kMid + kSlack), low = _mm512_set1_epi64(kLow);
    const __m512i lim = _mm512_set1_epi64(2 * kSlack);
    std::size_t k = 0;
    for (; k + 8 <= n; k += 8) {
        const __m512d v = _mm512_cvtps_pd(_mm256_loadu_ps(s + k));
        __m512d p = _mm512_mul_pd(v, vinv);
        const __m512d a = _mm512_abs_pd(p);
        // (pattern - midpoint + slack) mod 2^29 > 2 slack: no midpoint within slack of p.
        const __m512i t = _mm512_and_si512(_mm512_add_epi64(_mm512_castpd_si512(p), off), low);
        const __mmask8 ok = _mm512_cmp_pd_mask(a, lo, _CMP_GE_OQ) & _mm512_cmp_pd_mask(a, hi, _CMP_LE_OQ) &
                            _mm512_cmpgt_epi64_mask(t, lim);
        if (ok != 0xFF) p = _mm512_div_pd(v, vlen);
        _mm256_storeu_ps(q + k, _mm512_cvtpd_ps(p));
    }
    for (; k < n; ++k) q[k] = static_cast<float>(static_cast<double>(s[k]) / length);
}

void normalize_f32(const float* s, double length, float* q, std::size_t n) {
    static const int isa = __builtin_cpu_supports("avx512f") ? 2 : __builtin_cpu_supports("avx2") ? 1 : 0;
    if (isa == 2) return normalize_f32_avx512(s, length, q, n);
    if (isa == 1) return normalize_f32_avx2(s, length, q, n);
    normalize_f32_base(s, length, q, n);
}
#else
void normalize_f32(const float* s, double length, float* q, std::size_t n) { normalize_f32_base(s, length, q, n); }
#endif

// The roll-off search of 8 frames at once, frames as vector lanes: a float32 running sum is one
// long dependency chain, so 8 chains run side by side. Per lane, the first bin whose running
// sum reaches pct * total (n when none does) and the running sums there.
// ref: librosa 0.7.2 spectral_rolloff: total = np.cumsum(S, axis=0) in float32 (sequential);
// threshold = roll_percent * total[-1] in float32; the lowest bin with total >= threshold.
struct RolloffLanes {
    int at[8];
    float total[8], threshold[8], cum[8], below[8];  // cum: the running sum at min(at, n-1); below: one bin before
};

// `run` is scratch for 8 n floats: the running sums of every bin, bin by bin.
[[gnu::always_inline]] inline void rolloff_lanes_body(const float* const* col, std::size_t n, float pct, float* run,
                                                      RolloffLanes& g) {
    using simd::V8f;
    using simd::V8i;
    V8f c{};  // 0.0f + the first term is that term, as numpy's cumsum starts
    std::size_t k = 0;
    for (; k + 8 <= n; k += 8) {
        V8f r[8];
        for (int l = 0; l < 8; ++l) r[l] = simd::load<V8f>(col[l] + k);
        simd::transpose8(r);  // r[q]: bin k+q of the 8 frames
        for (int q = 0; q < 8; ++q) simd::store(run + 8 * (k + static_cast<std::size_t>(q)), c += r[q]);
    }
    for (; k < n; ++k) {
        V8f v;
        for (int l = 0; l < 8; ++l) v[l] = col[l][k];
        simd::store(run + 8 * k, c += v);
    }
    const V8f threshold = pct * c;
    const int none = static_cast<int>(n);
    V8i at = V8i{} + none;
    for (k = 0; k < n; ++k) {
        const V8i hit = (simd::load<V8f>(run + 8 * k) >= threshold) & (at == none);
        at = hit ? V8i{} + static_cast<int>(k) : at;
        if ((k & 31) == 31) {
            bool open = false;
            for (int l = 0; l < 8; ++l) open |= at[l] == none;
            if (!open) break;
        }
    }
    for (int l = 0; l < 8; ++l) {
        const std::size_t last = std::min(static_cast<std::size_t>(at[l]), n - 1);
        g.at[l] = at[l];
        g.total[l] = c[l];
        g.threshold[l] = threshold[l];
        g.cum[l] = run[8 * last + static_cast<std::size_t>(l)];
        g.below[l] = last > 0 ? run[8 * (last - 1) + static_cast<std::size_t>(l)] : 0.0f;
    }
}

using RolloffKernel = void (*)(const float* const*, std::size_t, float, float*, RolloffLanes&);

#define GENREKIT_ROLLOFF_KERNEL(SUFFIX, ATTR)                                                              \
    [[maybe_unused]] ATTR void rolloff_lanes_##SUFFIX(const float* const* col, std::size_t n, float pct, \
                                                      float* run, RolloffLanes& g) {                     \
        rolloff_lanes_body(col, n, pct, run, g);                                                         \
    }

GENREKIT_ROLLOFF_KERNEL(base, )
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__AVX2__)
GENREKIT_ROLLOFF_KERNEL(avx2, [[gnu::target("avx2")]])
#endif

// Chosen once; both variants give the same bits.
RolloffKernel rolloff_kernel() {
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__AVX2__)
    static const RolloffKernel k = __builtin_cpu_supports("avx2") ? rolloff_lanes_avx2 : rolloff_lanes_base;
    return k;
#else
    return rolloff_lanes_base;
#endif
}

// Squares x[k]^2 as rms forms them (float32).
struct SquareTerms {
    const float* x;
    [[gnu::always_inline]] float one(std::size_t k) const { return x[k] * x[k]; }
    [[gnu::always_inline]] Vec<float> vec(std::size_t k) const {
        const Vec<float> v = simd::load<Vec<float>>(x + k);
        return v * v;
    }
};

// numpy's pairwise sum of a power-of-two length L >= kLeaf is a balanced tree over leaves of
// kLeaf terms at multiples of kLeaf. When the hop is a multiple of kLeaf too, frames that
// overlap share their leaves: each is summed once.
constexpr std::size_t kLeaf = 128;

// out[b] = the pairwise leaf sum of x[kLeaf b] ^ 2 .. x[kLeaf b + kLeaf - 1] ^ 2, b < blocks.
using SquareLeavesKernel = void (*)(const float* x, std::size_t blocks, float* out);

#define GENREKIT_SQUARE_LEAVES(SUFFIX, ATTR)                                                                     \
    [[maybe_unused]] ATTR void square_leaves_##SUFFIX(const float* x, std::size_t blocks, float* out) {          \
        for (std::size_t b = 0; b < blocks; ++b) out[b] = pairwise::leaf<float>(SquareTerms{x + kLeaf * b}, 0, kLeaf); \
    }

GENREKIT_SQUARE_LEAVES(base, )
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__AVX2__)
GENREKIT_SQUARE_LEAVES(avx2, [[gnu::target("avx2")]])
#endif

// Chosen once; both variants give the same bits.
SquareLeavesKernel square_leaves() {
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__AVX2__)
    static const SquareLeavesKernel k = __builtin_cpu_supports("avx2") ? square_leaves_avx2 : square_leaves_base;
    return k;
#else
    return square_leaves_base;
#endif
}

// ref: librosa 0.7.2 zero_crossings: y[|y| <= threshold] = 0 (a positive zero), then
// np.signbit (zero_pos=True): negative when the sign bit is set and |v| > threshold (or NaN).
[[gnu::always_inline]] inline bool is_negative(float v, float threshold) {
    return !(std::abs(v) <= threshold) && std::signbit(v);
}

// The number of k in 1 .. len-1 where a[k] and a[k-1] differ in is_negative: eight pairs per
// vector (an integer count, so any grouping gives the same number); compiled for AVX2 too.
[[gnu::target_clones("avx2", "default")]] std::uint32_t sign_changes(const float* a, std::size_t len, float threshold) {
    using v8f = float __attribute__((vector_size(32)));
    using v8i = int __attribute__((vector_size(32)));
    auto negative = [threshold](const v8f& v) {  // -1 where is_negative, else 0
        const v8i bits = reinterpret_cast<v8i>(v);
        const v8f magnitude = reinterpret_cast<v8f>(bits & 0x7FFFFFFF);
        return (bits >> 31) & ~(magnitude <= threshold);
    };
    std::size_t k = 1;
    v8i changes{};
    for (; k + 8 <= len; k += 8) changes += negative(simd::load<v8f>(a + k)) ^ negative(simd::load<v8f>(a + k - 1));
    std::uint32_t count = 0;
    for (int l = 0; l < 8; ++l) count += static_cast<std::uint32_t>(-changes[l]);
    for (; k < len; ++k) count += is_negative(a[k], threshold) != is_negative(a[k - 1], threshold) ? 1u : 0u;
    return count;
}

enum Want { kCentroid = 1, kBandwidth = 2, kRolloff = 4 };

SpectralShape shape_impl(const Spectrogram& mag, const SpectralParams& params, int want) {
    params.validate();
    const Eigen::Index nb = mag.rows(), nt = mag.cols();
    if (nb < 2) throw Error("spectral features: the spectrogram has " + std::to_string(nb) + " bins; at least 2 needed");
    const int n_fft = 2 * static_cast<int>(nb - 1);
    // ref: librosa 0.7.2 fft_frequencies(sr, n_fft) = linspace(0, sr/2, 1 + n_fft//2).
    const std::vector<double> freq = fft_frequencies(params.sample_rate, n_fft);
    SpectralShape out;
    if (want & (kCentroid | kBandwidth)) out.centroid.assign(static_cast<std::size_t>(nt), 0.0);
    if (want & kBandwidth) out.bandwidth.assign(static_cast<std::size_t>(nt), 0.0);
    if (want & kRolloff) {
        out.rolloff.assign(static_cast<std::size_t>(nt), 0.0);
        out.rolloff_margin.assign(static_cast<std::size_t>(nt), 1.0f);
    }
    const auto n = static_cast<std::size_t>(nb);
    std::vector<float> snorm(n);
    const float tiny = std::numeric_limits<float>::min();
    const double* fq = freq.data();
    if (want & (kCentroid | kBandwidth)) {
        const ShapeSums& sums = shape_sums();
        for (Eigen::Index t = 0; t < nt; ++t) {
            const float* s = mag.col(t).data();
            const auto ti = static_cast<std::size_t>(t);
            // ref: librosa 0.7.2 util.normalize(S, norm=1, axis=0): the L1 norm in float64; below
            // tiny(float32) the frame is left as is; the quotient is stored in S's dtype (float32).
            double length = sums.abs(s, n);
            if (length < tiny) length = 1.0;
            float* sn = snorm.data();
            normalize_f32(s, length, sn, n);
            // ref: librosa 0.7.2 spectral_centroid: np.sum(freq * normalize(S, norm=1), axis=0).
            const double centroid = sums.weighted(fq, sn, n);
            out.centroid[ti] = centroid;
            if (!(want & kBandwidth)) continue;
            // ref: librosa 0.7.2 spectral_bandwidth: np.sum(S * |freq - centroid|**p, axis=0)**(1/p),
            // S normalised when norm=True (the float32 quotient above).
            const float* w = params.norm ? sn : s;
            if (params.p == 2.0)
                out.bandwidth[ti] = std::sqrt(sums.squared_deviation(fq, w, centroid, n));
            else
                out.bandwidth[ti] =
                    std::pow(pairwise_base<double>(PowerDeviationTerms{fq, w, centroid, params.p}, 0, n), 1.0 / params.p);
        }
    }
    if (want & kRolloff) {
        constexpr int G = 8;
        const float pct = static_cast<float>(params.roll_percent);
        const RolloffKernel kernel = rolloff_kernel();
        std::vector<float> run(8 * n);
        for (Eigen::Index t0 = 0; t0 < nt; t0 += G) {
            const int lanes = static_cast<int>(std::min<Eigen::Index>(G, nt - t0));
            const float* col[G];
            for (int l = 0; l < G; ++l) col[l] = mag.col(t0 + std::min(l, lanes - 1)).data();
            RolloffLanes g;
            kernel(col, n, pct, run.data(), g);
            for (int l = 0; l < lanes; ++l) {
                const auto ti = static_cast<std::size_t>(t0 + l);
                const auto k = static_cast<std::size_t>(g.at[l]);
                if (g.total[l] > 0)
                    out.rolloff_margin[ti] =
                        std::min(g.cum[l] - g.threshold[l], k > 0 ? g.threshold[l] - g.below[l] : g.cum[l]) / g.total[l];
                // With finite input the last bin always qualifies (cum == total >= threshold).
                out.rolloff[ti] = k < n ? freq[k] : freq[n - 1];
            }
        }
    }
    return out;
}

// The index of y (length n >= 1) that sample i of the signal padded by `half` on both sides
// holds. ref: numpy.pad modes 'reflect' and 'edge'.
std::size_t padded_source(std::ptrdiff_t i, std::ptrdiff_t half, std::ptrdiff_t n, PadMode mode) {
    i -= half;
    if (i >= 0 && i < n) return static_cast<std::size_t>(i);
    if (mode == PadMode::Edge || n == 1) return i < 0 ? 0 : static_cast<std::size_t>(n - 1);
    const std::ptrdiff_t period = 2 * (n - 1);
    std::ptrdiff_t m = ((i % period) + period) % period;
    if (m >= n) m = period - m;
    return static_cast<std::size_t>(m);
}

// Per-thread scratch for the signal-length buffers below: its size follows the longest
// signal seen, so memory does not grow with the number of files.
template <typename T>
std::vector<T>& scratch(std::size_t n) {
    thread_local std::vector<T> buf;
    buf.resize(n);
    return buf;
}

}  // namespace

std::vector<float> rms(std::span<const float> y, const FrameParams& params) {
    params.validate();
    // ref: librosa 0.7.2 rms: np.pad(y, frame_length // 2, mode='reflect') when centred.
    const auto L = static_cast<std::size_t>(params.frame_length);
    const auto hop = static_cast<std::size_t>(params.hop);
    const auto half = params.center ? static_cast<std::ptrdiff_t>(params.frame_length / 2) : 0;
    const auto n = static_cast<std::ptrdiff_t>(y.size());
    const std::size_t N = y.size() + 2 * static_cast<std::size_t>(half);
    const std::size_t T = frame_count(N, L, hop);
    std::vector<float> out(T);
    if (T == 0) return out;
    // The padded signal's value at i.
    auto padded = [&](std::size_t i) {
        return n == 0 ? 0.0f : y[padded_source(static_cast<std::ptrdiff_t>(i), half, n, PadMode::Reflect)];
    };
    // ref: librosa 0.7.2 rms: np.sqrt(np.mean(np.abs(x)**2, axis=0)), float32 throughout.
    auto store = [&](std::size_t t, float sum) { out[t] = std::sqrt((0.0f + sum) / static_cast<float>(L)); };
    if (L >= kLeaf && (L & (L - 1)) == 0 && hop % kLeaf == 0) {
        // Shared leaves (the default 2048 / 512): the padded signal's leaves are summed once.
        const std::size_t blocks = ((T - 1) * hop + L) / kLeaf;
        std::vector<float>& leaf = scratch<float>(blocks);
        const auto h = static_cast<std::size_t>(half), len = y.size();
        // Blocks wholly inside the unpadded middle are read in place; the rest are copied.
        const std::size_t first = std::min(blocks, (h + kLeaf - 1) / kLeaf);
        const std::size_t last = std::max(first, std::min(blocks, (h + len) / kLeaf));
        const SquareLeavesKernel kernel = square_leaves();
        if (last > first) kernel(y.data() + (first * kLeaf - h), last - first, leaf.data() + first);
        float copy[kLeaf];
        for (std::size_t b = 0; b < blocks; ++b) {
            if (b == first && last > first) b = last;
            if (b >= blocks) break;
            for (std::size_t i = 0; i < kLeaf; ++i) copy[i] = padded(kLeaf * b + i);
            kernel(copy, 1, &leaf[b]);
        }
        for (std::size_t t = 0; t < T; ++t) {
            const float* frame_leaves = leaf.data() + t * hop / kLeaf;
            store(t, pairwise::sum_of_leaves(L, frame_leaves));
        }
        return out;
    }
    // Each sample lies in frame_length / hop frames: square the padded signal once.
    std::vector<float>& sq = scratch<float>(N);
    for (std::size_t i = 0; i < N; ++i) {
        const float v = padded(i);
        sq[i] = v * v;
    }
    for (std::size_t t = 0; t < T; ++t) store(t, pairwise_sum(sq.data() + t * hop, L));
    return out;
}

std::vector<double> zero_crossing_rate(std::span<const float> y, const ZcrParams& params) {
    params.validate();
    // ref: librosa 0.7.2 zero_crossing_rate: np.pad(y, frame_length // 2, mode='edge') when centred.
    const auto L = static_cast<std::size_t>(params.frame.frame_length);
    const auto hop = static_cast<std::size_t>(params.frame.hop);
    const auto half = params.frame.center ? static_cast<std::ptrdiff_t>(params.frame.frame_length / 2) : 0;
    const auto n = static_cast<std::ptrdiff_t>(y.size());
    const std::size_t N = y.size() + 2 * static_cast<std::size_t>(half);
    const std::size_t T = frame_count(N, L, hop);
    std::vector<double> out(T);
    if (T == 0) return out;
    // A frame starting at s counts the crossings at s+1 .. s+L-1 (the first sample of a frame is
    // never a crossing). Counted without a running count, so the loops vectorise; the counts are
    // integers, so any grouping gives the same rate. Inside the unpadded middle the samples are
    // read in place; the padded edges one by one.
    const float thr = params.threshold;
    const auto h = static_cast<std::size_t>(half), len = y.size();
    auto neg_at = [&](std::size_t i) {
        const float v = n == 0 ? 0.0f : y[padded_source(static_cast<std::ptrdiff_t>(i), half, n, PadMode::Edge)];
        return is_negative(v, thr);
    };
    auto crossings = [&](std::size_t from, std::size_t to) -> std::uint32_t {  // at from .. to-1, from >= 1
        if (to <= from) return 0;
        if (from - 1 >= h && to <= h + len) return sign_changes(y.data() + (from - 1 - h), to - from + 1, thr);
        std::uint32_t count = 0;
        for (std::size_t i = from; i < to; ++i) count += neg_at(i) != neg_at(i - 1) ? 1u : 0u;
        return count;
    };
    if (L % hop == 0) {
        // Frame t is blocks t .. t+L/hop-1 of the crossings at (b hop, (b+1) hop], less the one
        // at t hop + L: each crossing is looked at once per block, not once per frame.
        const std::size_t blocks = (T - 1) + L / hop;
        std::vector<std::uint32_t>& per_block = scratch<std::uint32_t>(blocks);
        for (std::size_t b = 0; b < blocks; ++b) per_block[b] = crossings(b * hop + 1, std::min(N, (b + 1) * hop + 1));
        for (std::size_t t = 0; t < T; ++t) {
            std::uint32_t count = 0;
            for (std::size_t b = t; b < t + L / hop; ++b) count += per_block[b];
            const std::size_t end = t * hop + L;
            if (end < N) count -= crossings(end, end + 1);
            out[t] = static_cast<double>(count) / static_cast<double>(L);
        }
        return out;
    }
    for (std::size_t t = 0; t < T; ++t)
        out[t] = static_cast<double>(crossings(t * hop + 1, t * hop + L)) / static_cast<double>(L);
    return out;
}

std::vector<double> spectral_centroid(const Spectrogram& mag, const SpectralParams& params) {
    return shape_impl(mag, params, kCentroid).centroid;
}

std::vector<double> spectral_bandwidth(const Spectrogram& mag, const SpectralParams& params) {
    return shape_impl(mag, params, kBandwidth).bandwidth;
}

std::vector<double> spectral_rolloff(const Spectrogram& mag, const SpectralParams& params) {
    return shape_impl(mag, params, kRolloff).rolloff;
}

SpectralShape spectral_shape(const Spectrogram& mag, const SpectralParams& params) {
    return shape_impl(mag, params, kCentroid | kBandwidth | kRolloff);
}

}  // namespace genrekit
