#include "genrekit/spectral_features.hpp"

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

// pairwise_sum of f(0), ..., f(n-1) without storing them: the same additions in the same order.
// f is called once per index, in increasing order.
template <typename T, typename F>
T pairwise_sum_map(std::size_t first, std::size_t n, F& f) {
    if (n < 8) {
        T res = 0;
        for (std::size_t i = 0; i < n; ++i) res += f(first + i);
        return res;
    }
    if (n <= 128) {
        T r[8];
        for (std::size_t j = 0; j < 8; ++j) r[j] = f(first + j);
        std::size_t i = 8;
        for (; i < n - (n % 8); i += 8)
            for (std::size_t j = 0; j < 8; ++j) r[j] += f(first + i + j);
        T res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for (; i < n; ++i) res += f(first + i);
        return res;
    }
    std::size_t n2 = n / 2;
    n2 -= n2 % 8;
    const T left = pairwise_sum_map<T>(first, n2, f);
    return left + pairwise_sum_map<T>(first + n2, n - n2, f);
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

void normalize_f32(const float* s, double length, float* q, std::size_t n) {
    static const bool avx2 = __builtin_cpu_supports("avx2");
    if (avx2) return normalize_f32_avx2(s, length, q, n);
    normalize_f32_base(s, length, q, n);
}
#else
void normalize_f32(const float* s, double length, float* q, std::size_t n) { normalize_f32_base(s, length, q, n); }
#endif

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
        for (Eigen::Index t = 0; t < nt; ++t) {
            const float* s = mag.col(t).data();
            const auto ti = static_cast<std::size_t>(t);
            // ref: librosa 0.7.2 util.normalize(S, norm=1, axis=0): the L1 norm in float64; below
            // tiny(float32) the frame is left as is; the quotient is stored in S's dtype (float32).
            auto absval = [s](std::size_t k) { return std::abs(static_cast<double>(s[k])); };
            double length = pairwise_sum_map<double>(0, n, absval);
            if (length < tiny) length = 1.0;
            float* sn = snorm.data();
            normalize_f32(s, length, sn, n);
            // ref: librosa 0.7.2 spectral_centroid: np.sum(freq * normalize(S, norm=1), axis=0).
            auto weighted = [sn, fq](std::size_t k) { return fq[k] * static_cast<double>(sn[k]); };
            const double centroid = pairwise_sum_map<double>(0, n, weighted);
            out.centroid[ti] = centroid;
            if (!(want & kBandwidth)) continue;
            // ref: librosa 0.7.2 spectral_bandwidth: np.sum(S * |freq - centroid|**p, axis=0)**(1/p),
            // S normalised when norm=True (the float32 quotient above).
            const float* w = params.norm ? sn : s;
            if (params.p == 2.0) {
                auto dev = [w, fq, centroid](std::size_t k) {
                    const double d = std::abs(fq[k] - centroid);
                    return static_cast<double>(w[k]) * (d * d);
                };
                out.bandwidth[ti] = std::sqrt(pairwise_sum_map<double>(0, n, dev));
            } else {
                const double p = params.p;
                auto dev = [w, fq, centroid, p](std::size_t k) {
                    return static_cast<double>(w[k]) * std::pow(std::abs(fq[k] - centroid), p);
                };
                out.bandwidth[ti] = std::pow(pairwise_sum_map<double>(0, n, dev), 1.0 / p);
            }
        }
    }
    if (want & kRolloff) {
        // ref: librosa 0.7.2 spectral_rolloff: total = np.cumsum(S, axis=0) in float32 (sequential);
        // threshold = roll_percent * total[-1] in float32; the lowest bin with total >= threshold.
        // A float32 running sum is one long dependency chain, so 8 frames run side by side.
        constexpr int G = 8;
        const float pct = static_cast<float>(params.roll_percent);
        for (Eigen::Index t0 = 0; t0 < nt; t0 += G) {
            const int lanes = static_cast<int>(std::min<Eigen::Index>(G, nt - t0));
            const float* col[G];
            float total[G], threshold[G], cum[G], below[G];
            std::size_t at[G];
            for (int l = 0; l < G; ++l) {
                col[l] = mag.col(t0 + std::min(l, lanes - 1)).data();
                total[l] = 0.0f;
            }
            for (std::size_t k = 0; k < n; ++k)
                for (int l = 0; l < G; ++l) total[l] += col[l][k];
            for (int l = 0; l < G; ++l) {
                threshold[l] = pct * total[l];
                cum[l] = below[l] = 0.0f;
                at[l] = n;
            }
            int open = G;
            for (std::size_t k = 0; k < n && open > 0; ++k)
                for (int l = 0; l < G; ++l) {
                    if (at[l] < n) continue;
                    below[l] = cum[l];
                    cum[l] += col[l][k];
                    if (cum[l] >= threshold[l]) {
                        at[l] = k;
                        --open;
                    }
                }
            for (int l = 0; l < lanes; ++l) {
                const auto ti = static_cast<std::size_t>(t0 + l);
                const std::size_t k = at[l];
                if (total[l] > 0)
                    out.rolloff_margin[ti] = std::min(cum[l] - threshold[l], k > 0 ? threshold[l] - below[l] : cum[l]) / total[l];
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
    const auto half = params.center ? static_cast<std::ptrdiff_t>(params.frame_length / 2) : 0;
    const auto n = static_cast<std::ptrdiff_t>(y.size());
    const std::size_t N = y.size() + 2 * static_cast<std::size_t>(half);
    const std::size_t T = frame_count(N, L, static_cast<std::size_t>(params.hop));
    std::vector<float> out(T);
    if (T == 0) return out;
    // Each sample lies in frame_length / hop frames: square the padded signal once.
    std::vector<float>& sq = scratch<float>(N);
    for (std::size_t i = 0; i < N; ++i) {
        if (i == static_cast<std::size_t>(half) && n > 0) {  // the unpadded middle, read in place
            float* dst = sq.data() + half;
            for (std::size_t k = 0; k < y.size(); ++k) dst[k] = y[k] * y[k];
            i += y.size() - 1;
            continue;
        }
        const float v = n == 0 ? 0.0f : y[padded_source(static_cast<std::ptrdiff_t>(i), half, n, PadMode::Reflect)];
        sq[i] = v * v;
    }
    for (std::size_t t = 0; t < T; ++t) {
        // ref: librosa 0.7.2 rms: np.sqrt(np.mean(np.abs(x)**2, axis=0)), float32 throughout.
        const float power = (0.0f + pairwise_sum(sq.data() + t * static_cast<std::size_t>(params.hop), L)) / static_cast<float>(L);
        out[t] = std::sqrt(power);
    }
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
    // ref: librosa 0.7.2 zero_crossings: y[|y| <= threshold] = 0 (a positive zero), then
    // np.signbit (zero_pos=True); a crossing where consecutive sign bits differ.
    std::vector<unsigned char>& neg = scratch<unsigned char>(N);
    const float thr = params.threshold;
    auto is_neg = [thr](float v) -> unsigned char { return !(std::abs(v) <= thr) && std::signbit(v); };
    for (std::size_t i = 0; i < N; ++i) {
        if (i == static_cast<std::size_t>(half) && n > 0) {  // the unpadded middle, read in place
            unsigned char* dst = neg.data() + half;
            for (std::size_t k = 0; k < y.size(); ++k) dst[k] = is_neg(y[k]);
            i += y.size() - 1;
            continue;
        }
        neg[i] = is_neg(n == 0 ? 0.0f : y[padded_source(static_cast<std::ptrdiff_t>(i), half, n, PadMode::Edge)]);
    }
    // A frame starting at s counts the crossings at s+1 .. s+L-1 (the first sample of a frame is
    // never a crossing). Summed frame by frame: no running count, so the loop vectorises.
    const unsigned char* sign = neg.data();
    for (std::size_t t = 0; t < T; ++t) {
        const unsigned char* f = sign + t * hop;
        std::uint32_t count = 0;
        for (std::size_t i = 1; i < L; ++i) count += f[i] != f[i - 1] ? 1u : 0u;
        out[t] = static_cast<double>(count) / static_cast<double>(L);
    }
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
