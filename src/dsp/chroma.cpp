#include "genrekit/chroma.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <tuple>

#if defined(__SSE2__)
#include <immintrin.h>
#endif

#include "genrekit/error.hpp"
#include "genrekit/mel.hpp"
#include "simd/vec.hpp"


namespace genrekit {

namespace {

// [lo, hi) of the bins piptrack looks at. ref: librosa 0.7.2 piptrack: fmin = max(fmin, 0),
// fmax = min(fmax, sr/2), bins with fmin <= f < fmax. Only interior bins can be local maxima
// with a defined interpolation: bin 0 never is one (x[0] > x[0] is false) and the last bin lies
// at Nyquist, outside f < fmax.
std::pair<int, int> piptrack_bins(const TuningParams& params, int n_bins) {
    const double fmin = std::max(params.fmin, 0.0), fmax = std::min(params.fmax, params.sample_rate / 2.0);
    const auto freqs = fft_frequencies(params.sample_rate, 2 * (n_bins - 1));
    int lo = n_bins, hi = 0;
    for (int b = 0; b < n_bins; ++b)
        if (fmin <= freqs[static_cast<std::size_t>(b)] && freqs[static_cast<std::size_t>(b)] < fmax) {
            lo = std::min(lo, b);
            hi = b + 1;
        }
    return {std::max(lo, 1), std::min(hi, n_bins - 1)};
}

// ref: numpy.mod / numpy.remainder for floats: the result takes the sign of the divisor.
template <typename T>
T py_mod(T a, T b) {
    T m = std::fmod(a, b);
    if (m != T(0)) {
        if ((b < T(0)) != (m < T(0))) m += b;
    } else {
        m = std::copysign(T(0), b);
    }
    return m;
}

// py_mod(a, 1.0f) without fmodf: below 2^23 in magnitude, fmod(a, 1) is a - trunc(a), an
// exact subtraction (trunc through int32 conversion, exact too); larger finite values are
// integers (fmod 0, so +0 after py_mod); NaN and infinities go through py_mod.
inline float py_mod_1(float a) {
    if (!(std::abs(a) < 8388608.0f)) return py_mod(a, 1.0f);
    float m = a - static_cast<float>(static_cast<std::int32_t>(a));
    if (m != 0.0f) {
        if (m < 0.0f) m += 1.0f;
    } else {
        m = 0.0f;
    }
    return m;
}

// ref: numpy.median of float32 values: the middle element, or the float32 mean of the two
// middle elements. Reorders `v`.
float median_f32(std::vector<float>& v) {
    const std::size_t n = v.size();
    const std::size_t hi = n / 2;
    std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(hi), v.end());
    const float upper = v[hi];
    if (n % 2 == 1) return upper;
    const float lower = *std::max_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(hi));
    return (lower + upper) / 2.0f;
}

// ref: librosa 0.7.2 estimate_tuning: threshold = median of the magnitudes where pitch > 0;
// the frequencies of the peaks with magnitude >= threshold.
std::vector<float> frequencies_above_median(const std::vector<PitchPeak>& peaks) {
    std::vector<float> mags;
    mags.reserve(peaks.size());
    for (const auto& p : peaks)
        if (p.frequency > 0.f) mags.push_back(p.magnitude);
    const float threshold = mags.empty() ? 0.f : median_f32(mags);
    std::vector<float> freqs;
    freqs.reserve(peaks.size() / 2 + 1);
    for (const auto& p : peaks)
        if (p.frequency > 0.f && p.magnitude >= threshold) freqs.push_back(p.frequency);
    return freqs;
}

constexpr std::size_t kProjectMaxRows = 12;  // project_kernel keeps one accumulator per row in registers

// C = W S for a few-row W (the 12 chroma filters): per frame, each row's dot product with the
// frame in float32, 8 bins per vector with one accumulator per row, the 8 lanes then summed
// as a fixed tree, the last bins after. Compiled for AVX2 too (chosen at load time); the same
// operations either way, no FMA. Rows are padded to a multiple of 8 bins with zeros.
[[gnu::target_clones("avx2", "default")]] void project_kernel(const float* Wr, std::size_t rows, std::size_t stride,
                                                              const float* S, std::size_t nb, std::size_t T, float* C) {
    using v8f = float __attribute__((vector_size(32)));
    const std::size_t nv = nb - nb % 8;
    for (std::size_t t = 0; t < T; ++t) {
        const float* s = S + t * nb;
        v8f acc[kProjectMaxRows] = {};
        for (std::size_t b = 0; b < nv; b += 8) {
            const v8f x = simd::load<v8f>(s + b);
            for (std::size_t r = 0; r < rows; ++r) acc[r] += simd::load<v8f>(Wr + r * stride + b) * x;
        }
        for (std::size_t r = 0; r < rows; ++r) {
            const v8f a = acc[r];
            float sum = ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
            for (std::size_t b = nv; b < nb; ++b) sum += Wr[r * stride + b] * s[b];
            C[t * rows + r] = sum;
        }
    }
}

// project_kernel for exactly R rows (the accumulators stay in registers). Each lane of a row's
// accumulator adds W * s for the bins b = lane (mod 8) in bin order, then the lanes are summed
// as the same fixed tree and the tail bins added after: project_kernel's operations exactly.
// With AVX-512 a vector holds the same 8 lanes of two frames, and 4 frames run per step; with
// 8-lane vectors, one frame.
using v8f = float __attribute__((vector_size(32)));

template <std::size_t R>
[[gnu::always_inline]] inline void project_finish(const v8f* acc, const float* Wr, std::size_t stride, const float* s,
                                                  std::size_t nv, std::size_t nb, float* c) {
    for (std::size_t r = 0; r < R; ++r) {
        const v8f a = acc[r];
        float sum = ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
        for (std::size_t b = nv; b < nb; ++b) sum += Wr[r * stride + b] * s[b];
        c[r] = sum;
    }
}

template <std::size_t R>
[[gnu::always_inline]] inline void project_one_frame(const float* Wr, std::size_t stride, const float* s, std::size_t nb,
                                                     float* c) {
    const std::size_t nv = nb - nb % 8;
    v8f acc[R];
    for (std::size_t r = 0; r < R; ++r) acc[r] = v8f{};
    for (std::size_t b = 0; b < nv; b += 8) {
        const v8f x = simd::load<v8f>(s + b);
        for (std::size_t r = 0; r < R; ++r) acc[r] += simd::load<v8f>(Wr + r * stride + b) * x;
    }
    project_finish<R>(acc, Wr, stride, s, nv, nb, c);
}

template <std::size_t R>
[[gnu::always_inline]] inline void project_body8(const float* Wr, std::size_t stride, const float* S, std::size_t nb,
                                                 std::size_t T, float* C) {
    for (std::size_t t = 0; t < T; ++t) project_one_frame<R>(Wr, stride, S + t * nb, nb, C + t * R);
}

constexpr std::size_t kChromaRows = 12;  // the default n_chroma, with kernels of its own
using ProjectFn = void (*)(const float*, std::size_t, const float*, std::size_t, std::size_t, float*);

void project12_base(const float* Wr, std::size_t stride, const float* S, std::size_t nb, std::size_t T, float* C) {
    project_body8<kChromaRows>(Wr, stride, S, nb, T, C);
}
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__AVX512F__)
[[gnu::target("avx2")]] void project12_avx2(const float* Wr, std::size_t stride, const float* S, std::size_t nb,
                                            std::size_t T, float* C) {
    project_body8<kChromaRows>(Wr, stride, S, nb, T, C);
}
[[gnu::target("avx512f,avx512dq")]] void project12_avx512(const float* Wr, std::size_t stride, const float* S,
                                                          std::size_t nb, std::size_t T, float* C) {
    constexpr std::size_t R = kChromaRows;
    const std::size_t nv = nb - nb % 8;
    std::size_t t = 0;
    for (; t + 4 <= T; t += 4) {
        const float* s0 = S + t * nb;
        __m512 acc0[R], acc1[R];  // frames t, t+1 and t+2, t+3: 8 lanes each
        for (std::size_t r = 0; r < R; ++r) acc0[r] = acc1[r] = _mm512_setzero_ps();
        for (std::size_t b = 0; b < nv; b += 8) {
            const __m512 x0 = _mm512_insertf32x8(_mm512_castps256_ps512(_mm256_loadu_ps(s0 + b)), _mm256_loadu_ps(s0 + nb + b), 1);
            const __m512 x1 =
                _mm512_insertf32x8(_mm512_castps256_ps512(_mm256_loadu_ps(s0 + 2 * nb + b)), _mm256_loadu_ps(s0 + 3 * nb + b), 1);
            for (std::size_t r = 0; r < R; ++r) {
                const __m512 w = _mm512_broadcast_f32x8(_mm256_loadu_ps(Wr + r * stride + b));
                acc0[r] = _mm512_add_ps(acc0[r], _mm512_mul_ps(w, x0));
                acc1[r] = _mm512_add_ps(acc1[r], _mm512_mul_ps(w, x1));
            }
        }
        v8f part[R];
        for (std::size_t f = 0; f < 4; ++f) {
            const __m512* acc = f < 2 ? acc0 : acc1;
            for (std::size_t r = 0; r < R; ++r)
                part[r] = f % 2 == 0 ? (v8f)_mm512_castps512_ps256(acc[r]) : (v8f)_mm512_extractf32x8_ps(acc[r], 1);
            project_finish<R>(part, Wr, stride, s0 + f * nb, nv, nb, C + (t + f) * R);
        }
    }
    for (; t < T; ++t) project_one_frame<R>(Wr, stride, S + t * nb, nb, C + t * R);
}
ProjectFn select_project12() {
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq")) return project12_avx512;
    if (__builtin_cpu_supports("avx2")) return project12_avx2;
    return project12_base;
}
#else
ProjectFn select_project12() { return project12_base; }
#endif

void project_frames(const Eigen::MatrixXf& W, const Spectrogram& S, Spectrogram& C) {
    const auto rows = static_cast<std::size_t>(W.rows()), nb = static_cast<std::size_t>(W.cols());
    if (rows > kProjectMaxRows) {
        C.noalias() = W * S;
        return;
    }
    const std::size_t stride = (nb + 7) / 8 * 8;
    std::vector<float> Wr(rows * stride, 0.f);
    for (std::size_t r = 0; r < rows; ++r)
        for (std::size_t b = 0; b < nb; ++b) Wr[r * stride + b] = W(static_cast<Eigen::Index>(r), static_cast<Eigen::Index>(b));
    if (rows == kChromaRows) {
        static const ProjectFn project12 = select_project12();
        project12(Wr.data(), stride, S.data(), nb, static_cast<std::size_t>(S.cols()), C.data());
        return;
    }
    project_kernel(Wr.data(), rows, stride, S.data(), nb, static_cast<std::size_t>(S.cols()), C.data());
}

}  // namespace

void TuningParams::validate() const {
    require_param(sample_rate > 0, "sample_rate", sample_rate, "> 0");
    require_param(fmin >= 0, "fmin", fmin, ">= 0");
    require_param(fmax > fmin, "fmax", fmax, "> fmin");
    require_param(threshold >= 0, "threshold", threshold, ">= 0");
    require_param(resolution > 0 && resolution < 1, "resolution", resolution, "0 < resolution < 1");
    require_param(bins_per_octave >= 1, "bins_per_octave", bins_per_octave, ">= 1");
}

namespace {

// Whether any of p[0..3] passes the bin test, 4 bins at a time: most bins of a frame lie far
// below its maximum, so the scans below skip them in blocks. Above: p[i] > v (false for NaN);
// NotAtMost: !(p[i] <= v) (true for NaN), each exactly the scalar test it guards.
enum class Test { Above, NotAtMost };
template <Test kTest>
bool any4(const float* p, float v) {
#if defined(__SSE2__)
    const __m128 x = _mm_loadu_ps(p), r = _mm_set1_ps(v);
    return _mm_movemask_ps(kTest == Test::Above ? _mm_cmpgt_ps(x, r) : _mm_cmpnle_ps(x, r)) != 0;
#else
    for (int i = 0; i < 4; ++i)
        if (kTest == Test::Above ? p[i] > v : !(p[i] <= v)) return true;
    return false;
#endif
}

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__AVX512F__)
#define GENREKIT_CHROMA_SCAN 1
// The largest of n float32 values, 16 at a time; false (and no max) if any is NaN, where the
// order of the comparisons would matter. Without NaN the maximum is the same value whatever the
// order (a zero's sign aside, which no test of the scans below can tell apart).
[[gnu::target("avx512f")]] bool column_max_avx512(const float* s, std::size_t n, float& max) {
    __m512 m = _mm512_set1_ps(-std::numeric_limits<float>::infinity());
    __mmask16 nan = 0;
    std::size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        const __m512 x = _mm512_loadu_ps(s + i);
        nan |= _mm512_cmp_ps_mask(x, x, _CMP_UNORD_Q);
        m = _mm512_max_ps(m, x);
    }
    if (i < n) {
        const __mmask16 k = static_cast<__mmask16>((1u << (n - i)) - 1);
        const __m512 x = _mm512_maskz_loadu_ps(k, s + i);
        nan |= _mm512_mask_cmp_ps_mask(k, x, x, _CMP_UNORD_Q);
        m = _mm512_mask_max_ps(m, k, m, x);
    }
    if (nan) return false;
    max = _mm512_reduce_max_ps(m);
    return true;
}

// For the bins b in [lo, hi): bit b - lo of above is s[b] > above_thr, of possible
// !(s[b] <= floor) (true for NaN): exactly the scalar tests of PeakPicker's scans.
[[gnu::target("avx512f")]] void bin_masks_avx512(const float* s, int lo, int hi, float above_thr, float floor,
                                               std::uint64_t* above, std::uint64_t* possible) {
    const __m512 a = _mm512_set1_ps(above_thr), f = _mm512_set1_ps(floor);
    const int n = hi - lo;
    for (int w = 0; w * 64 < n; ++w) {
        above[w] = possible[w] = 0;
    }
    for (int i = 0; i < n; i += 16) {
        const __mmask16 k = n - i >= 16 ? static_cast<__mmask16>(0xffff) : static_cast<__mmask16>((1u << (n - i)) - 1);
        const __m512 x = _mm512_maskz_loadu_ps(k, s + lo + i);
        const std::uint64_t ab = _mm512_mask_cmp_ps_mask(k, x, a, _CMP_GT_OQ);
        const std::uint64_t pb = _mm512_mask_cmp_ps_mask(k, x, f, _CMP_NLE_UQ);
        above[i / 64] |= ab << (i % 64);
        possible[i / 64] |= pb << (i % 64);
    }
}
#endif

// piptrack's peak picking, one frame at a time.
class PeakPicker {
public:
    // Checks the parameters and that S has the 3 bins a peak needs.
    PeakPicker(const TuningParams& params, const Spectrogram& S)
        : n_fft_(2 * (static_cast<int>(S.rows()) - 1)), thresh_(static_cast<float>(params.threshold)),
          sr_(static_cast<double>(params.sample_rate)) {
        params.validate();
        if (S.rows() < 3) throw Error("piptrack: spectrogram has " + std::to_string(S.rows()) + " bins, needs at least 3");
        std::tie(lo_, hi_) = piptrack_bins(params, static_cast<int>(S.rows()));
    }

    // Appends the peaks of frame t (column s, whose maximum is col_max).
    void frame(const float* s, int t, float col_max, std::vector<PitchPeak>& peaks) const {
        // ref: ref_value = threshold * max(S, axis=0), in float32.
        const float ref_value = thresh_ * col_max;
        for (int b0 = lo_; b0 < hi_; b0 += 4) {
            // A peak has x(b) > x(b-1) >= 0, so s[b] > ref_value.
            if (b0 + 4 <= hi_ && !any4<Test::Above>(s + b0, ref_value)) continue;
            for (int b = b0; b < std::min(b0 + 4, hi_); ++b) peak_at(s, b, t, ref_value, peaks);
        }
    }

    // The same, visiting only the bins set in `above` (bit b - lo: s[b] > threshold * col_max,
    // see bin_masks): the others cannot be peaks.
    void frame_bits(const float* s, int t, float col_max, const std::uint64_t* above, std::vector<PitchPeak>& peaks) const {
        const float ref_value = thresh_ * col_max;
        for (int w = 0; w * 64 < hi_ - lo_; ++w)
            for (std::uint64_t bits = above[w]; bits != 0; bits &= bits - 1)
                peak_at(s, lo_ + w * 64 + __builtin_ctzll(bits), t, ref_value, peaks);
    }

    // Whether a peak/no-peak decision of the frame (S > threshold * max, and the local-maximum
    // test) could flip when each power value may be off by e.
    bool decisions_fragile(const float* s, float col_max, float e) const {
        const float ref = thresh_ * col_max, ref_err = e + thresh_ * e;
        for (int b0 = lo_; b0 < hi_; b0 += 4) {
            // x(b) = 0 surely (s[b] <= ref - ref_err) is never a local maximum.
            if (b0 + 4 <= hi_ && !any4<Test::NotAtMost>(s + b0, ref - ref_err)) continue;
            for (int b = b0; b < std::min(b0 + 4, hi_); ++b)
                if (fragile_at(s, b, ref, ref_err, e)) return true;
        }
        return false;
    }

    // The same, visiting only the bins set in `possible` (bit b - lo: !(s[b] <= fragile_floor),
    // see bin_masks).
    bool decisions_fragile_bits(const float* s, float col_max, float e, const std::uint64_t* possible) const {
        const float ref = thresh_ * col_max, ref_err = e + thresh_ * e;
        for (int w = 0; w * 64 < hi_ - lo_; ++w)
            for (std::uint64_t bits = possible[w]; bits != 0; bits &= bits - 1)
                if (fragile_at(s, lo_ + w * 64 + __builtin_ctzll(bits), ref, ref_err, e)) return true;
        return false;
    }

    // The float32 thresholds the two scans test each bin against: s[b] > above_threshold (frame)
    // and !(s[b] <= fragile_floor) (decisions_fragile).
    float above_threshold(float col_max) const { return thresh_ * col_max; }
    float fragile_floor(float col_max, float e) const {
        const float ref = thresh_ * col_max, ref_err = e + thresh_ * e;
        return ref - ref_err;
    }
    int lo() const { return lo_; }
    int hi() const { return hi_; }

private:
    // Appends the peak at bin b, if there is one.
    void peak_at(const float* s, int b, int t, float ref_value, std::vector<PitchPeak>& peaks) const {
        const float tiny = std::numeric_limits<float>::min();
        auto x = [&](int i) { return s[i] > ref_value ? s[i] : 0.f; };  // S * (S > ref_value)
        const float xb = x(b);
        // ref: librosa 0.7.2 util.localmax along frequency: x[b] > x[b-1] and x[b] >= x[b+1].
        if (!(xb > x(b - 1) && xb >= x(b + 1))) return;
        // ref: piptrack's parabolic interpolation, all in float32 as numpy does it.
        const float avg = 0.5f * (s[b + 1] - s[b - 1]);
        const float den = 2.0f * s[b] - s[b + 1] - s[b - 1];
        const float shift = avg / (den + (std::abs(den) < tiny ? 1.0f : 0.0f));
        const float dskew = 0.5f * avg * shift;
        PitchPeak p;
        p.bin = b;
        p.frame = t;
        // (bin + shift) * float(sr) / n_fft in float64, stored as float32.
        p.frequency = static_cast<float>((static_cast<double>(b) + static_cast<double>(shift)) * sr_ / n_fft_);
        p.magnitude = s[b] + dskew;
        peaks.push_back(p);
    }

    // Whether bin b's peak/no-peak decision could flip (decisions_fragile, one bin).
    static bool fragile_at(const float* s, int b, float ref, float ref_err, float e) {
        // The interval of S * (S > ref) for bin b.
        auto x = [&](int i, float& xl, float& xh) {
            if (s[i] > ref + ref_err) {
                xl = s[i] - e;
                xh = s[i] + e;
            } else if (s[i] <= ref - ref_err) {
                xl = xh = 0.f;
            } else {
                xl = 0.f;
                xh = s[i] + e;
            }
        };
        if (s[b] <= ref - ref_err) return false;
        float bl, bh, ml, mh, pl, ph;
        x(b, bl, bh);
        x(b - 1, ml, mh);
        x(b + 1, pl, ph);
        const bool surely = bl > mh && bl >= ph;
        const bool surely_not = bh <= ml || bh < pl;
        return !surely && !surely_not;
    }

    int n_fft_, lo_ = 0, hi_ = 0;
    float thresh_;
    double sr_;
};

}  // namespace

std::vector<PitchPeak> piptrack(const Spectrogram& S, const TuningParams& params) {
    const PeakPicker picker(params, S);
    std::vector<PitchPeak> peaks;
    for (Eigen::Index t = 0; t < S.cols(); ++t) picker.frame(S.col(t).data(), static_cast<int>(t), S.col(t).maxCoeff(), peaks);
    return peaks;
}

TuningHistogram tuning_histogram(std::span<const float> frequencies, double resolution, int bins_per_octave) {
    require_param(resolution > 0 && resolution < 1, "resolution", resolution, "0 < resolution < 1");
    require_param(bins_per_octave >= 1, "bins_per_octave", bins_per_octave, ">= 1");
    TuningHistogram h;
    // ref: numpy.linspace(-0.5, 0.5, ceil(1/resolution) + 1): edge j = j * step + (-0.5), last = 0.5.
    const int n_hist = static_cast<int>(std::ceil(1.0 / resolution));
    h.edges.resize(static_cast<std::size_t>(n_hist) + 1);
    const double step = 1.0 / n_hist;
    for (int j = 0; j < n_hist; ++j) h.edges[static_cast<std::size_t>(j)] = static_cast<double>(j) * step + -0.5;
    h.edges.back() = 0.5;
    h.counts.assign(static_cast<std::size_t>(n_hist), 0);
    for (const float f : frequencies) {
        if (!(f > 0.f)) continue;  // ref: pitch_tuning drops DC (and non-positive) components
        const int j = h.bin_of(tuning_residual(f, bins_per_octave));
        if (j >= 0) ++h.counts[static_cast<std::size_t>(j)];
    }
    return h;
}

float tuning_residual(float f, int bins_per_octave) {
    // ref: hz_to_octs(f) = log2(f / (440/16)) and bins_per_octave * octs, mod 1, in float32.
    const float octs = static_cast<float>(std::log2(static_cast<double>(f / 27.5f)));
    float residual = py_mod_1(static_cast<float>(bins_per_octave) * octs);
    if (residual >= 0.5f) residual -= 1.0f;
    return residual;
}

int TuningHistogram::bin_of(float residual) const {
    // ref: numpy.histogram with explicit edges: [e_j, e_j+1), the last bin closed; the
    // float32 residual is compared with the float64 edges exactly.
    const double r = residual;
    const int n_hist = static_cast<int>(counts.size());
    if (n_hist == 0 || !(r >= edges.front() && r <= edges.back())) return -1;  // NaN too
    const double step = 1.0 / n_hist;
    // (r + 0.5) / step >= 0 here, so truncation is floor.
    int j = std::clamp(static_cast<int>((r + 0.5) / step), 0, n_hist - 1);
    while (j > 0 && r < edges[static_cast<std::size_t>(j)]) --j;
    while (j < n_hist - 1 && r >= edges[static_cast<std::size_t>(j) + 1]) ++j;
    return j;
}

std::size_t TuningHistogram::best() const {
    // ref: np.argmax: the first maximum.
    return static_cast<std::size_t>(std::max_element(counts.begin(), counts.end()) - counts.begin());
}

long TuningHistogram::lead() const {
    if (counts.size() < 2) return counts.empty() ? 0 : counts[0];
    const std::size_t b = best();
    long second = -1;
    for (std::size_t j = 0; j < counts.size(); ++j)
        if (j != b) second = std::max(second, counts[j]);
    return counts[b] - second;
}

long TuningHistogram::total() const {
    long s = 0;
    for (long c : counts) s += c;
    return s;
}

double TuningHistogram::estimate() const {
    // Every positive frequency lands in a bin, so an empty histogram means none was positive.
    return total() == 0 ? 0.0 : edges[best()];
}

double pitch_tuning(std::span<const float> frequencies, double resolution, int bins_per_octave) {
    return tuning_histogram(frequencies, resolution, bins_per_octave).estimate();
}

std::vector<float> tuning_frequencies(const Spectrogram& S, const TuningParams& params) {
    return frequencies_above_median(piptrack(S, params));
}

double estimate_tuning(const Spectrogram& S, const TuningParams& params) {
    return pitch_tuning(tuning_frequencies(S, params), params.resolution, params.bins_per_octave);
}

TuningCheck check_tuning(const Spectrogram& S, const TuningParams& params, float noise,
                         std::span<const std::uint8_t> exact_frames) {
    TuningCheck out;
    const PeakPicker picker(params, S);
    const Eigen::Index T = S.cols();
    const int n_bins = static_cast<int>(S.rows());
    // One pass over the frames, each column read while it is in cache: its maximum, its peaks
    // (piptrack), and
    // 1. whether a peak/no-peak decision is within eps of flipping: the effect of that on the
    //    median is not bounded here, so such frames are always recomputed. Each frame's power
    //    may be off by eps = noise * (the frame's maximum); exact frames by 0.
    std::vector<float> eps(static_cast<std::size_t>(T)), col_max(static_cast<std::size_t>(T));
    std::vector<char> fragile(static_cast<std::size_t>(T), 0);
    std::vector<PitchPeak> peaks;
    bool forced = false;
#if defined(GENREKIT_CHROMA_SCAN)
    // With AVX-512: each frame's maximum and two bit masks of the bins the scans must visit.
    static const bool wide = __builtin_cpu_supports("avx512f");
    std::vector<std::uint64_t> above_bits, possible_bits;
    if (wide) {
        const auto words = static_cast<std::size_t>((std::max(picker.hi() - picker.lo(), 0) + 63) / 64);
        above_bits.resize(std::max<std::size_t>(words, 1));
        possible_bits.resize(std::max<std::size_t>(words, 1));
    }
#endif
    // Each peak's power and its neighbours', kept while the column is in cache for step 2.
    std::vector<std::array<float, 3>> around;
    auto keep_around = [&](const float* s) {
        for (std::size_t i = around.size(); i < peaks.size(); ++i) {
            const int b = peaks[i].bin;
            around.push_back({s[b - 1], s[b], s[b + 1]});
        }
    };
    for (Eigen::Index t = 0; t < T; ++t) {
        const auto ti = static_cast<std::size_t>(t);
        const float* s = S.col(t).data();
        const bool exact = ti < exact_frames.size() && exact_frames[ti];
#if defined(GENREKIT_CHROMA_SCAN)
        if (wide) {
            if (!column_max_avx512(s, static_cast<std::size_t>(n_bins), col_max[ti])) col_max[ti] = S.col(t).maxCoeff();
            eps[ti] = exact || noise <= 0.f ? 0.f : noise * col_max[ti];
            if (picker.hi() > picker.lo())
                bin_masks_avx512(s, picker.lo(), picker.hi(), picker.above_threshold(col_max[ti]),
                                 picker.fragile_floor(col_max[ti], eps[ti]), above_bits.data(), possible_bits.data());
            else
                above_bits[0] = possible_bits[0] = 0;
            picker.frame_bits(s, static_cast<int>(t), col_max[ti], above_bits.data(), peaks);
            keep_around(s);
            if (eps[ti] != 0.f && picker.decisions_fragile_bits(s, col_max[ti], eps[ti], possible_bits.data())) {
                fragile[ti] = 1;
                forced = true;
            }
            continue;
        }
#endif
        col_max[ti] = S.col(t).maxCoeff();
        picker.frame(s, static_cast<int>(t), col_max[ti], peaks);
        keep_around(s);
        eps[ti] = exact || noise <= 0.f ? 0.f : noise * col_max[ti];
        if (eps[ti] != 0.f && picker.decisions_fragile(s, col_max[ti], eps[ti])) {
            fragile[ti] = 1;
            forced = true;
        }
    }
    // The same steps as estimate_tuning, so the same result.
    // Each peak's residual, computed once: the histogram and step 2 both need it.
    std::vector<float> residual(peaks.size());
    for (std::size_t i = 0; i < peaks.size(); ++i)
        if (peaks[i].frequency > 0.f) residual[i] = tuning_residual(peaks[i].frequency, params.bins_per_octave);
    // tuning_histogram(frequencies_above_median(peaks)) from those residuals.
    TuningHistogram h = tuning_histogram(std::span<const float>{}, params.resolution, params.bins_per_octave);
    {
        std::vector<float> mags;
        mags.reserve(peaks.size());
        for (const auto& p : peaks)
            if (p.frequency > 0.f) mags.push_back(p.magnitude);
        const float threshold = mags.empty() ? 0.f : median_f32(mags);
        for (std::size_t i = 0; i < peaks.size(); ++i) {
            if (!(peaks[i].frequency > 0.f && peaks[i].magnitude >= threshold)) continue;
            const int j = h.bin_of(residual[i]);
            if (j >= 0) ++h.counts[static_cast<std::size_t>(j)];
        }
    }
    out.tuning = h.estimate();
    if (noise <= 0.f || peaks.empty()) return out;
    const auto freqs_hz = fft_frequencies(params.sample_rate, 2 * (n_bins - 1));

    // 2. Each peak's magnitude and histogram bin as intervals: the interpolation shift avg/den
    //    moves by at most (e*den + |avg|*4e) / (den*(den - 4e)) when avg moves by e and den by 4e,
    //    plus a few float32 roundings. The residual's float32 steps (log2, times 12, mod 1) are
    //    monotonic in the frequency, so the bins between those of the interval's ends are the
    //    only ones reachable.
    constexpr double kShiftRounding = 1e-6;      // bins: > 4 ulps of |shift| <= 0.5
    constexpr double kResidualRounding = 1e-4;   // float32 log2, x12 and mod 1: a few 8e-6 ulps
    const double per_octave = params.bins_per_octave / std::log(2.0);
    const double edge_step = 1.0 / static_cast<double>(h.counts.size());
    const int n_hist = static_cast<int>(h.counts.size());
    const double hz_per_bin = static_cast<double>(params.sample_rate) / (2 * (n_bins - 1));
    std::vector<float> mag_lo, mag_hi;
    struct Span {
        int first = 0, last = -1;  // possible bins, inclusive; first > last: wraps past the top bin
        bool any = false;          // anywhere
    };
    std::vector<Span> spans;
    std::vector<const PitchPeak*> kept;
    for (const auto& p : peaks) {
        if (!(p.frequency > 0.f)) continue;
        kept.push_back(&p);
        const float e = eps[static_cast<std::size_t>(p.frame)];
        const std::array<float, 3>& nb3 = around[static_cast<std::size_t>(&p - peaks.data())];  // s[b - 1], s[b], s[b + 1]
        Span sp;
        if (e == 0.f) {
            sp.first = sp.last = h.bin_of(residual[static_cast<std::size_t>(&p - peaks.data())]);
            sp.any = sp.first < 0;
            mag_lo.push_back(p.magnitude);
            mag_hi.push_back(p.magnitude);
            spans.push_back(sp);
            continue;
        }
        const double avg = 0.5 * (static_cast<double>(nb3[2]) - nb3[0]);
        const double den = 2.0 * nb3[1] - nb3[2] - nb3[0];
        double d_shift = 1.0;  // unbounded when den could reach 0
        if (den > 4.0 * e) d_shift = (e * den + std::abs(avg) * 4.0 * e) / (den * (den - 4.0 * e)) + kShiftRounding;
        const double pos = static_cast<double>(p.frequency) / hz_per_bin;  // b + shift
        const float r = residual[static_cast<std::size_t>(&p - peaks.data())];
        // Most residuals sit far from every edge, beyond the shift's reach plus the residual's
        // float32 rounding (< 1e-4): one bin. The others are evaluated at the interval's ends.
        const double reach = per_octave * d_shift / std::max(pos - d_shift, 1.0) + kResidualRounding;
        const double to_edge = std::abs(std::remainder(static_cast<double>(r) + 0.5, edge_step));
        if (d_shift > 0.5) {
            sp.any = true;
        } else if (to_edge > reach) {
            sp.first = sp.last = h.bin_of(r);
            sp.any = sp.first < 0;
        } else {
            const float r_lo = tuning_residual(static_cast<float>((pos - d_shift) * hz_per_bin), params.bins_per_octave);
            const float r_hi = tuning_residual(static_cast<float>((pos + d_shift) * hz_per_bin), params.bins_per_octave);
            sp.first = h.bin_of(r_lo);
            sp.last = h.bin_of(r_hi);
            if (sp.first < 0 || sp.last < 0) sp.any = true;
        }
        const double shift = den > 0 ? avg / den : 0.0;
        const double d_mag = e + 0.5 * (e * (std::abs(shift) + d_shift) + std::abs(avg) * d_shift);
        mag_lo.push_back(static_cast<float>(p.magnitude - d_mag));
        mag_hi.push_back(static_cast<float>(p.magnitude + d_mag));
        spans.push_back(sp);
    }
    // The median of values each known within [lo, hi] lies between the medians of the bounds.
    std::vector<float> tmp = mag_lo;
    const float thr_lo = median_f32(tmp);
    tmp = mag_hi;
    const float thr_hi = median_f32(tmp);

    // 3. Counts that hold whatever the noise, and the most each bin could gain.
    std::vector<long> sure(static_cast<std::size_t>(n_hist), 0), could(static_cast<std::size_t>(n_hist), 0);
    long anywhere = 0;
    for (std::size_t i = 0; i < kept.size(); ++i) {
        if (mag_hi[i] < thr_lo) continue;  // surely below the threshold
        const bool surely_in = mag_lo[i] >= thr_hi;
        const Span& sp = spans[i];
        if (surely_in && !sp.any && sp.first == sp.last) {
            ++sure[static_cast<std::size_t>(sp.first)];
            continue;
        }
        fragile[static_cast<std::size_t>(kept[i]->frame)] = 1;
        if (sp.any) {
            ++anywhere;
            continue;
        }
        // From first up to last, through the top bin and on from bin 0 when the residual wraps.
        for (int j = sp.first;; j = (j + 1) % n_hist) {
            ++could[static_cast<std::size_t>(j)];
            if (j == sp.last) break;
        }
    }
    // np.argmax keeps the first maximum: the estimate stands if its sure count beats every
    // earlier bin's best case and at least ties every later one's.
    bool robust = !forced && h.total() > 0;
    const std::size_t best = h.best();
    for (std::size_t j = 0; robust && j < sure.size(); ++j) {
        if (j == best) continue;
        const long rival = sure[j] + could[j] + anywhere;
        robust = j < best ? sure[best] > rival : sure[best] >= rival;
    }
    if (robust) return out;
    for (Eigen::Index t = 0; t < T; ++t)
        if (fragile[static_cast<std::size_t>(t)] && eps[static_cast<std::size_t>(t)] > 0.f)
            out.fragile_frames.push_back(static_cast<int>(t));
    return out;
}

void ChromaParams::validate() const {
    require_param(sample_rate > 0, "sample_rate", sample_rate, "> 0");
    require_param(n_fft >= 16 && n_fft % 2 == 0, "n_fft", n_fft, "an even number >= 16");
    require_param(n_chroma >= 1 && n_chroma <= 120, "n_chroma", n_chroma, "1..120");
    require_param(std::isfinite(ctroct), "ctroct", ctroct, "a finite number of octaves");
    require_param(std::isfinite(octwidth), "octwidth", octwidth, "a finite width (<= 0 disables the weighting)");
    tuning_params().validate();
}

TuningParams ChromaParams::tuning_params() const {
    TuningParams t;
    t.sample_rate = sample_rate;
    t.fmin = tuning_fmin;
    t.fmax = tuning_fmax;
    t.threshold = tuning_threshold;
    t.resolution = tuning_resolution;
    t.bins_per_octave = n_chroma;  // ref: chroma_stft calls estimate_tuning(bins_per_octave=n_chroma)
    return t;
}

Eigen::MatrixXf chroma_filterbank(const ChromaParams& params, double tuning) {
    params.validate();
    require_param(std::isfinite(tuning) && std::abs(tuning) <= 1.0, "tuning", tuning, "-1..1 (fractions of a chroma bin)");
    // ref: librosa 0.7.2 filters.py chroma, in float64.
    const int n_fft = params.n_fft;
    const int nc = params.n_chroma;
    const double ncd = nc;
    const double a440 = 440.0 * std::pow(2.0, tuning / ncd);
    const double hz_step = static_cast<double>(params.sample_rate) / n_fft;  // linspace(0, sr, n_fft, endpoint=False)
    std::vector<double> frqbins(static_cast<std::size_t>(n_fft));
    for (int i = 1; i < n_fft; ++i)
        frqbins[static_cast<std::size_t>(i)] = ncd * std::log2((static_cast<double>(i) * hz_step) / (a440 / 16.0));
    // The 0 Hz bin gets a made-up value 1.5 octaves below bin 1.
    frqbins[0] = frqbins[1] - 1.5 * ncd;
    std::vector<double> binwidth(static_cast<std::size_t>(n_fft), 1.0);
    for (int i = 0; i + 1 < n_fft; ++i)
        binwidth[static_cast<std::size_t>(i)] = std::max(frqbins[static_cast<std::size_t>(i) + 1] - frqbins[static_cast<std::size_t>(i)], 1.0);
    const double half = std::nearbyint(ncd / 2.0);  // np.round: half to even

    const int n_keep = 1 + n_fft / 2;
    Eigen::MatrixXd wts(nc, n_keep);
    std::vector<double> col(static_cast<std::size_t>(nc));
    for (int i = 0; i < n_keep; ++i) {
        const double fb = frqbins[static_cast<std::size_t>(i)];
        double sumsq = 0.0;
        for (int c = 0; c < nc; ++c) {
            // Project into -n_chroma/2 .. n_chroma/2, then Gaussian bumps (2*D makes them narrower).
            const double D = py_mod(fb - c + half + 10.0 * ncd, ncd) - half;
            const double z = 2.0 * D / binwidth[static_cast<std::size_t>(i)];
            col[static_cast<std::size_t>(c)] = std::exp(-0.5 * (z * z));
            sumsq += col[static_cast<std::size_t>(c)] * col[static_cast<std::size_t>(c)];
        }
        // ref: util.normalize(norm=2, axis=0); columns below tiny(float64) are left as they are.
        double length = std::sqrt(sumsq);
        if (length < std::numeric_limits<double>::min()) length = 1.0;
        double oct_weight = 1.0;
        if (params.octwidth > 0) {
            const double o = (fb / ncd - params.ctroct) / params.octwidth;
            oct_weight = std::exp(-0.5 * (o * o));
        }
        for (int c = 0; c < nc; ++c) {
            // ref: base_c: np.roll(wts, -3, axis=0), so row r holds the weights of chroma (r + 3).
            const int row = params.base_c ? ((c - 3) % nc + nc) % nc : c;
            wts(row, i) = (col[static_cast<std::size_t>(c)] / length) * oct_weight;
        }
    }
    return wts.cast<float>();
}

ChromaStft::ChromaStft(const ChromaParams& params) : params_(params) { params_.validate(); }

const Eigen::MatrixXf& ChromaStft::filterbank(double tuning) {
    auto it = filterbanks_.find(tuning);
    if (it == filterbanks_.end()) it = filterbanks_.emplace(tuning, chroma_filterbank(params_, tuning)).first;
    return it->second;
}

Spectrogram ChromaStft::apply(const Spectrogram& power, double* tuning_out) {
    if (power.rows() != 1 + params_.n_fft / 2)
        throw Error("chroma: spectrogram has " + std::to_string(power.rows()) + " bins, expected " +
                    std::to_string(1 + params_.n_fft / 2));
    const double tuning = estimate_tuning(power, params_.tuning_params());
    if (tuning_out) *tuning_out = tuning;
    return apply_with_tuning(power, tuning);
}

Spectrogram ChromaStft::apply_with_tuning(const Spectrogram& power, double tuning) {
    if (power.rows() != 1 + params_.n_fft / 2)
        throw Error("chroma: spectrogram has " + std::to_string(power.rows()) + " bins, expected " +
                    std::to_string(1 + params_.n_fft / 2));
    const Eigen::MatrixXf& W = filterbank(tuning);
    Spectrogram C(W.rows(), power.cols());
    project_frames(W, power, C);
    // ref: librosa 0.7.2 util.normalize(norm=inf, axis=0): divide each frame by its largest
    // magnitude unless that is below tiny(float32).
    const float tiny = std::numeric_limits<float>::min();
    for (Eigen::Index t = 0; t < C.cols(); ++t) {
        const float m = C.col(t).cwiseAbs().maxCoeff();
        if (m >= tiny) C.col(t) /= m;
    }
    return C;
}

}  // namespace genrekit
