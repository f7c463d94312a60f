#include "simd/spectral_kernels.hpp"

#include <algorithm>
#include <limits>

#include "simd/pairwise.hpp"
#include "simd/variants.hpp"
#include "simd/vec.hpp"

#if GENREKIT_SIMD_VARIANTS
#include <immintrin.h>  // the normalisation's AVX2 and AVX-512 variants
#endif

namespace genrekit::simd::spectral {
namespace {

using pairwise::Vec;

// The term sources of the shape sums (see the header), one term or eight at a time.
struct AbsTerms {
    const float* s;
    [[gnu::always_inline]] double one(std::size_t k) const { return std::abs(static_cast<double>(s[k])); }
    [[gnu::always_inline]] Vec<double> vec(std::size_t k) const {
        const Vec<double> v = __builtin_convertvector(load<Vec<float>>(s + k), Vec<double>);
        return reinterpret_cast<Vec<double>>(reinterpret_cast<V8l>(v) & 0x7FFFFFFFFFFFFFFFLL);
    }
};

struct WeightedTerms {
    const double* fq;
    const float* q;
    [[gnu::always_inline]] double one(std::size_t k) const { return fq[k] * static_cast<double>(q[k]); }
    [[gnu::always_inline]] Vec<double> vec(std::size_t k) const {
        return load<Vec<double>>(fq + k) * __builtin_convertvector(load<Vec<float>>(q + k), Vec<double>);
    }
};

struct SquaredDeviationTerms {
    const double* fq;
    const float* w;
    double c;
    [[gnu::always_inline]] double one(std::size_t k) const {
        const double d = fq[k] - c;
        return static_cast<double>(w[k]) * (d * d);
    }
    [[gnu::always_inline]] Vec<double> vec(std::size_t k) const {
        const Vec<double> d = load<Vec<double>>(fq + k) - c;
        return __builtin_convertvector(load<Vec<float>>(w + k), Vec<double>) * (d * d);
    }
};

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

// q[k] = float(s[k] / length), with a multiply by 1/length in place of the division where that
// gives the same bits. p = fl(s * fl(1/length)) is within relative 2u + u^2 (u = 2^-53) of
// s/length, so p and fl(s/length) are at most 6 doubles apart (as 64-bit patterns of one sign).
// In the float32 normal range a double's float rounding (to nearest even) changes, as its
// pattern steps by 1, only where the low 29 pattern bits equal 0x10000000 (a midpoint between
// two floats). So when no pattern within kSlack of p has those bits and |p| is well inside the
// normal float range, float(p) == float(fl(s/length)); otherwise (zeros, NaN, tiny or huge
// values, and about one value in 2^22 near a midpoint) the eight values are divided.
// The baseline divides; the AVX2 and AVX-512 variants multiply and check, written with
// intrinsics outside the family's stamp: GCC turned the same test in generic vectors into
// lane-by-lane compares (the spectral stage took 2.5x as long).
void normalize_baseline(const float* s, double length, float* q, std::size_t n) {
    for (std::size_t k = 0; k < n; ++k) q[k] = static_cast<float>(static_cast<double>(s[k]) / length);
}

#if GENREKIT_SIMD_VARIANTS
constexpr long long kSlack = 64, kMid = 0x10000000, kLow = 0x1FFFFFFF;

bool normal_inverse(double length) {
    const double inv = 1.0 / length;
    return inv >= std::numeric_limits<double>::min() && inv <= std::numeric_limits<double>::max();
}

// All ones in the lanes of p where multiplying gave the division's float (see above).
GENREKIT_TARGET_AVX2 [[gnu::always_inline]] inline __m256d normalize_safe(__m256d p, __m256d absmask, __m256d lo, __m256d hi,
                                                                        __m256i off, __m256i low, __m256i lim) {
    const __m256d a = _mm256_and_pd(p, absmask);
    const __m256d in = _mm256_and_pd(_mm256_cmp_pd(a, lo, _CMP_GE_OQ), _mm256_cmp_pd(a, hi, _CMP_LE_OQ));
    // t = (pattern - mid + slack) mod 2^29: no midpoint within slack of p iff t > 2 slack.
    const __m256i t = _mm256_and_si256(_mm256_add_epi64(_mm256_castpd_si256(p), off), low);
    return _mm256_and_pd(in, _mm256_castsi256_pd(_mm256_cmpgt_epi64(t, lim)));
}

GENREKIT_TARGET_AVX2 void normalize_avx2(const float* s, double length, float* q, std::size_t n) {
    if (!normal_inverse(length)) return normalize_baseline(s, length, q, n);
    const __m256d vinv = _mm256_set1_pd(1.0 / length), vlen = _mm256_set1_pd(length);
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
        const __m256d ok = _mm256_and_pd(normalize_safe(p0, absmask, lo, hi, off, low, lim),
                                         normalize_safe(p1, absmask, lo, hi, off, low, lim));
        if (_mm256_movemask_pd(ok) != 0xF) {
            p0 = _mm256_div_pd(v0, vlen);
            p1 = _mm256_div_pd(v1, vlen);
        }
        _mm256_storeu_ps(q + k, _mm256_set_m128(_mm256_cvtpd_ps(p1), _mm256_cvtpd_ps(p0)));
    }
    normalize_baseline(s + k, length, q + k, n - k);
}

// normalize_avx2's test with eight doubles per vector.
GENREKIT_TARGET_AVX512 void normalize_avx512(const float* s, double length, float* q, std::size_t n) {
    if (!normal_inverse(length)) return normalize_baseline(s, length, q, n);
    const __m512d vinv = _mm512_set1_pd(1.0 / length), vlen = _mm512_set1_pd(length);
    const __m512d lo = _mm512_set1_pd(0x1p-125), hi = _mm512_set1_pd(0x1p126);
    const __m512i off = _mm512_set1_epi64(kMid + kSlack), low = _mm512_set1_epi64(kLow);
    const __m512i lim = _mm512_set1_epi64(2 * kSlack);
    std::size_t k = 0;
    for (; k + 8 <= n; k += 8) {
        const __m512d v = _mm512_cvtps_pd(_mm256_loadu_ps(s + k));
        __m512d p = _mm512_mul_pd(v, vinv);
        const __m512d a = _mm512_abs_pd(p);
        const __m512i t = _mm512_and_si512(_mm512_add_epi64(_mm512_castpd_si512(p), off), low);
        const __mmask8 ok = _mm512_cmp_pd_mask(a, lo, _CMP_GE_OQ) & _mm512_cmp_pd_mask(a, hi, _CMP_LE_OQ) &
                            _mm512_cmpgt_epi64_mask(t, lim);
        if (ok != 0xFF) p = _mm512_div_pd(v, vlen);
        _mm256_storeu_ps(q + k, _mm512_cvtpd_ps(p));
    }
    normalize_baseline(s + k, length, q + k, n - k);
}
#else
constexpr auto normalize_avx2 = normalize_baseline, normalize_avx512 = normalize_baseline;
#endif

// A float32 running sum is one long dependency chain, so 8 chains (frames) run side by side.
[[gnu::always_inline]] inline void rolloff_lanes_body(const float* const* col, std::size_t n, float pct, float* run,
                                                      RolloffLanes& g) {
    V8f c{};  // 0.0f + the first term is that term, as numpy's cumsum starts
    std::size_t k = 0;
    for (; k + 8 <= n; k += 8) {
        V8f r[8];
        for (int l = 0; l < 8; ++l) r[l] = load<V8f>(col[l] + k);
        transpose8(r);  // r[q]: bin k+q of the 8 frames
        for (int q = 0; q < 8; ++q) store(run + 8 * (k + static_cast<std::size_t>(q)), c += r[q]);
    }
    for (; k < n; ++k) {
        V8f v;
        for (int l = 0; l < 8; ++l) v[l] = col[l][k];
        store(run + 8 * k, c += v);
    }
    const V8f threshold = pct * c;
    const int none = static_cast<int>(n);
    V8i at = V8i{} + none;
    for (k = 0; k < n; ++k) {
        const V8i hit = (load<V8f>(run + 8 * k) >= threshold) & (at == none);
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

// Eight pairs per vector (an integer count, so any grouping gives the same number).
[[gnu::always_inline]] inline std::uint32_t sign_changes_body(const float* a, std::size_t len, float threshold) {
    auto negative = [threshold](const V8f& v) {  // -1 where is_negative, else 0
        const V8i bits = reinterpret_cast<V8i>(v);
        const V8f magnitude = reinterpret_cast<V8f>(bits & 0x7FFFFFFF);
        return (bits >> 31) & ~(magnitude <= threshold);
    };
    std::size_t k = 1;
    V8i changes{};
    for (; k + 8 <= len; k += 8) changes += negative(load<V8f>(a + k)) ^ negative(load<V8f>(a + k - 1));
    std::uint32_t count = 0;
    for (int l = 0; l < 8; ++l) count += static_cast<std::uint32_t>(-changes[l]);
    for (; k < len; ++k) count += is_negative(a[k], threshold) != is_negative(a[k - 1], threshold) ? 1u : 0u;
    return count;
}

#define GENREKIT_SPECTRAL_VARIANT(NS, ATTR, ISA)                                                           \
    namespace NS {                                                                                         \
    GENREKIT_PAIRWISE_SUM(tree, ATTR)                                                                      \
    ATTR double abs_sum(const float* s, std::size_t n) { return tree<double>(AbsTerms{s}, 0, n); }         \
    ATTR double weighted_sum(const double* fq, const float* q, std::size_t n) {                            \
        return tree<double>(WeightedTerms{fq, q}, 0, n);                                                   \
    }                                                                                                      \
    ATTR double squared_deviation_sum(const double* fq, const float* w, double c, std::size_t n) {         \
        return tree<double>(SquaredDeviationTerms{fq, w, c}, 0, n);                                        \
    }                                                                                                      \
    ATTR void rolloff_lanes(const float* const* col, std::size_t n, float pct, float* run, RolloffLanes& g) { \
        rolloff_lanes_body(col, n, pct, run, g);                                                           \
    }                                                                                                      \
    ATTR std::uint32_t sign_changes(const float* a, std::size_t len, float threshold) {                    \
        return sign_changes_body(a, len, threshold);                                                       \
    }                                                                                                      \
    }

GENREKIT_SIMD_STAMP(GENREKIT_SPECTRAL_VARIANT)

}  // namespace

double abs_sum(const float* s, std::size_t n) { return GENREKIT_SIMD_PICK(abs_sum)(s, n); }

double weighted_sum(const double* fq, const float* q, std::size_t n) {
    return GENREKIT_SIMD_PICK(weighted_sum)(fq, q, n);
}

double squared_deviation_sum(const double* fq, const float* w, double c, std::size_t n) {
    return GENREKIT_SIMD_PICK(squared_deviation_sum)(fq, w, c, n);
}

double power_deviation_sum(const double* fq, const float* w, double c, double p, std::size_t n) {
    return baseline::tree<double>(PowerDeviationTerms{fq, w, c, p}, 0, n);
}

void normalize_f32(const float* s, double length, float* q, std::size_t n) {
    pick(normalize_baseline, normalize_avx2, normalize_avx512)(s, length, q, n);
}

void rolloff_lanes(const float* const* col, std::size_t n, float pct, float* run, RolloffLanes& g) {
    GENREKIT_SIMD_PICK(rolloff_lanes)(col, n, pct, run, g);
}

std::uint32_t sign_changes(const float* a, std::size_t len, float threshold) {
    return GENREKIT_SIMD_PICK(sign_changes)(a, len, threshold);
}

}  // namespace genrekit::simd::spectral
