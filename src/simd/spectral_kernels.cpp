#include "simd/spectral_kernels.hpp"

#include <algorithm>
#include <limits>

#include "simd/pairwise.hpp"
#include "simd/variants.hpp"
#include "simd/vec.hpp"

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
[[gnu::always_inline]] inline void normalize_body(const float* s, double length, float* q, std::size_t n) {
    std::size_t k = 0;
    const double inv = 1.0 / length;
    if (inv >= std::numeric_limits<double>::min() && inv <= std::numeric_limits<double>::max()) {
        constexpr long long kSlack = 64, kMid = 0x10000000, kLow = 0x1FFFFFFF;
        for (; k + 8 <= n; k += 8) {
            const V8d v = __builtin_convertvector(load<V8f>(s + k), V8d);
            V8d p = v * inv;
            const V8l bits = reinterpret_cast<V8l>(p);
            const V8d a = reinterpret_cast<V8d>(bits & 0x7FFFFFFFFFFFFFFFLL);
            // t = (pattern - mid + slack) mod 2^29: no midpoint within slack of p iff t > 2 slack.
            const V8l t = (bits + (kMid + kSlack)) & kLow;
            const V8l ok = reinterpret_cast<V8l>(a >= 0x1p-125) & reinterpret_cast<V8l>(a <= 0x1p126) & (t > 2 * kSlack);
            long long all = ok[0];
            for (int l = 1; l < 8; ++l) all &= ok[l];
            if (!all) p = v / length;
            store(q + k, __builtin_convertvector(p, V8f));
        }
    }
    for (; k < n; ++k) q[k] = static_cast<float>(static_cast<double>(s[k]) / length);
}

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
    ATTR void normalize_f32(const float* s, double length, float* q, std::size_t n) {                      \
        normalize_body(s, length, q, n);                                                                   \
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
    GENREKIT_SIMD_PICK(normalize_f32)(s, length, q, n);
}

void rolloff_lanes(const float* const* col, std::size_t n, float pct, float* run, RolloffLanes& g) {
    GENREKIT_SIMD_PICK(rolloff_lanes)(col, n, pct, run, g);
}

std::uint32_t sign_changes(const float* a, std::size_t len, float threshold) {
    return GENREKIT_SIMD_PICK(sign_changes)(a, len, threshold);
}

}  // namespace genrekit::simd::spectral
