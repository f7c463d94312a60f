// Tuning estimation (librosa 0.7.2 piptrack, estimate_tuning, pitch_tuning) and its robustness
// check, for chroma_stft.
#include "genrekit/chroma.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <limits>
#include <tuple>

#include "dsp/median.hpp"
#include "dsp/py_mod.hpp"
#include "genrekit/error.hpp"
#include "genrekit/mel.hpp"
#include "simd/chroma_kernels.hpp"

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

// ref: librosa 0.7.2 estimate_tuning: threshold = median of the magnitudes where pitch > 0;
// the frequencies of the peaks with magnitude >= threshold.
std::vector<float> frequencies_above_median(const std::vector<PitchPeak>& peaks) {
    std::vector<float> mags;
    mags.reserve(peaks.size());
    for (const auto& p : peaks)
        if (p.frequency > 0.f) mags.push_back(p.magnitude);
    const float threshold = mags.empty() ? 0.f : median(mags);
    std::vector<float> freqs;
    freqs.reserve(peaks.size() / 2 + 1);
    for (const auto& p : peaks)
        if (p.frequency > 0.f && p.magnitude >= threshold) freqs.push_back(p.frequency);
    return freqs;
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

    // Words of the bin masks (bins lo .. hi-1, at least one word).
    std::size_t mask_words() const { return static_cast<std::size_t>(std::max((hi_ - lo_ + 63) / 64, 1)); }

    // The bin masks of column s (whose maximum is col_max; e: the error bound of its values, see
    // decisions_fragile): bit b - lo of above is s[b] > threshold * col_max (only those bins can
    // be peaks), of possible !(s[b] <= the fragile floor) (only those decisions can flip).
    void masks(const float* s, float col_max, float e, std::uint64_t* above, std::uint64_t* possible) const {
        if (hi_ <= lo_) return;
        const float ref = thresh_ * col_max, ref_err = e + thresh_ * e;
        simd::chroma::bin_masks(s, lo_, hi_, ref, ref - ref_err, above, possible);
    }

    // Appends the peaks of frame t (column s, whose maximum is col_max), visiting only the bins
    // set in `above` (see masks): the others cannot be peaks.
    void frame(const float* s, int t, float col_max, const std::uint64_t* above, std::vector<PitchPeak>& peaks) const {
        const float ref_value = thresh_ * col_max;
        for (int w = 0; w * 64 < hi_ - lo_; ++w)
            for (std::uint64_t bits = above[w]; bits != 0; bits &= bits - 1)
                peak_at(s, lo_ + w * 64 + __builtin_ctzll(bits), t, ref_value, peaks);
    }

    // Whether a peak/no-peak decision of the frame (S > threshold * max, and the local-maximum
    // test) could flip when each power value may be off by e, visiting only the bins set in
    // `possible` (see masks): x(b) = 0 surely (s[b] <= ref - ref_err) is never a local maximum.
    bool decisions_fragile(const float* s, float col_max, float e, const std::uint64_t* possible) const {
        const float ref = thresh_ * col_max, ref_err = e + thresh_ * e;
        for (int w = 0; w * 64 < hi_ - lo_; ++w)
            for (std::uint64_t bits = possible[w]; bits != 0; bits &= bits - 1)
                if (fragile_at(s, lo_ + w * 64 + __builtin_ctzll(bits), ref, ref_err, e)) return true;
        return false;
    }

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
    std::vector<std::uint64_t> above(picker.mask_words()), possible(picker.mask_words());
    std::vector<PitchPeak> peaks;
    for (Eigen::Index t = 0; t < S.cols(); ++t) {
        const float* s = S.col(t).data();
        const float col_max = S.col(t).maxCoeff();
        picker.masks(s, col_max, 0.f, above.data(), possible.data());
        picker.frame(s, static_cast<int>(t), col_max, above.data(), peaks);
    }
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
    // Bit masks of the bins the scans must visit (see PeakPicker::masks).
    std::vector<std::uint64_t> above_bits(picker.mask_words()), possible_bits(picker.mask_words());
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
        if (!simd::chroma::column_max(s, static_cast<std::size_t>(n_bins), col_max[ti])) col_max[ti] = S.col(t).maxCoeff();
        eps[ti] = exact || noise <= 0.f ? 0.f : noise * col_max[ti];
        picker.masks(s, col_max[ti], eps[ti], above_bits.data(), possible_bits.data());
        picker.frame(s, static_cast<int>(t), col_max[ti], above_bits.data(), peaks);
        keep_around(s);
        if (eps[ti] != 0.f && picker.decisions_fragile(s, col_max[ti], eps[ti], possible_bits.data())) {
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
        const float threshold = mags.empty() ? 0.f : median(mags);
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
    const float thr_lo = median(tmp);
    tmp = mag_hi;
    const float thr_hi = median(tmp);

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

}  // namespace genrekit
