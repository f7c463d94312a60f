#include "genrekit/hpss.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>

#include "dsp/fft_batch.hpp"
#include "genrekit/error.hpp"
#include "genrekit/stats.hpp"
#include "simd/hpss_mask_kernels.hpp"
#include "simd/hpss_median_kernels.hpp"
#include "simd/pairwise.hpp"
#include "simd/pairwise_kernels.hpp"

namespace genrekit {

void HpssParams::validate() const {
    require_param(kernel_harmonic >= 1 && kernel_harmonic <= 255 && kernel_harmonic % 2 == 1, "kernel_harmonic",
                  kernel_harmonic, "an odd number in 1..255");
    require_param(kernel_percussive >= 1 && kernel_percussive <= 255 && kernel_percussive % 2 == 1,
                  "kernel_percussive", kernel_percussive, "an odd number in 1..255");
    require_param(std::isfinite(power) && power > 0, "power", power, "a finite number > 0");
    // ref: librosa 0.7.2 decompose.hpss: "Margins must be >= 1.0".
    require_param(std::isfinite(margin_harmonic) && margin_harmonic >= 1, "margin_harmonic", margin_harmonic,
                  "a finite number >= 1");
    require_param(std::isfinite(margin_percussive) && margin_percussive >= 1, "margin_percussive",
                  margin_percussive, "a finite number >= 1");
}

namespace {

namespace hk = simd::hpss;
using hk::ext_count;
using hk::ext_indices;
using hk::kBlock;
using hk::kMaxLanes;
using hk::kStrip;
using hk::reflect_indices;

// Index and gather buffers of the median filters, kept by Hpss between calls.
struct MedianScratch {
    std::vector<int> idx, ext;
    std::vector<float> buf;
};

void median_time_impl(const Spectrogram& S, int width, Spectrogram& out, MedianScratch& ms) {
    const int nb = static_cast<int>(S.rows()), nt = static_cast<int>(S.cols());
    out.resize(S.rows(), S.cols());
    if (nb == 0 || nt == 0) return;
    reflect_indices(nt, width / 2, ms.idx);
    ext_indices(ms.idx, nt, ms.ext);
    ms.buf.resize(static_cast<std::size_t>((ext_count(nt) + nt) * kStrip * kMaxLanes));
    if (nb < kMaxLanes) {
        // Fewer rows than the widest variant's lanes: pad by repeating the last row.
        Spectrogram padded(kMaxLanes, S.cols()), padded_out(kMaxLanes, S.cols());
        for (int r = 0; r < kMaxLanes; ++r) padded.row(r) = S.row(std::min(r, nb - 1));
        hk::median_time(padded.data(), padded_out.data(), kMaxLanes, nt, width, ms.idx.data(), ms.ext.data(),
                        ms.buf.data());
        out = padded_out.topRows(nb);
        return;
    }
    hk::median_time(S.data(), out.data(), nb, nt, width, ms.idx.data(), ms.ext.data(), ms.buf.data());
}

// The indices and gather buffers of a frequency median over nb bins; returns the offset in ms.buf
// of the output buffer (the gathered input comes first).
std::size_t prepare_median_freq(int nb, int width, MedianScratch& ms) {
    reflect_indices(nb, width / 2, ms.idx);
    ext_indices(ms.idx, nb, ms.ext);
    const std::size_t in_size = static_cast<std::size_t>(std::max(nb, ext_count(nb)) * kMaxLanes);
    ms.buf.resize(std::max(ms.buf.size(), in_size + static_cast<std::size_t>(nb * kMaxLanes)));
    return in_size;
}

void median_freq_impl(const Spectrogram& S, int width, Spectrogram& out, MedianScratch& ms) {
    const int nb = static_cast<int>(S.rows()), nt = static_cast<int>(S.cols());
    out.resize(S.rows(), S.cols());
    if (nb == 0 || nt == 0) return;
    const std::size_t in_size = prepare_median_freq(nb, width, ms);
    hk::median_freq(S.data(), out.data(), nb, nt, width, ms.idx.data(), ms.ext.data(), ms.buf.data(),
                    ms.buf.data() + in_size);
}

void require_width(int width) {
    require_param(width >= 1 && width <= hk::kMaxWidth && width % 2 == 1, "width", width, "an odd number in 1..255");
}

// ref: librosa 0.7.2 util/utils.py softmask, for one element, in float32.
[[gnu::always_inline]] inline float softmask_one(float x, float x_ref, float power, bool split_zeros) {
    const float z = std::max(x, x_ref);
    if (z < std::numeric_limits<float>::min()) return split_zeros ? 0.5f : 0.0f;
    float m = x / z, r = x_ref / z;
    if (power == 2.0f) {  // numpy evaluates **2 as a square
        m = m * m;
        r = r * r;
    } else {
        m = std::pow(m, power);
        r = std::pow(r, power);
    }
    return m / (m + r);
}

// out = X * mask (complex times real: both parts scaled; the same bits as a complex product with
// imaginary part 0).
void apply_mask(const ComplexSpectrogram& X, const Spectrogram& mask, ComplexSpectrogram& out) {
    out.resize(X.rows(), X.cols());
    const float* x = reinterpret_cast<const float*>(X.data());
    const float* m = mask.data();
    float* o = reinterpret_cast<float*>(out.data());
    const Eigen::Index n = X.size();
    for (Eigen::Index i = 0; i < n; ++i) {
        o[2 * i] = x[2 * i] * m[i];
        o[2 * i + 1] = x[2 * i + 1] * m[i];
    }
}

// ref: librosa 0.7.2 window_sumsquare for nt frames: the squared window summed over frames
// (float32, frames in order), N + hop*(nt-1) samples. Away from the ends it depends only on
// i mod hop, so it is computed once per residue.
void compute_window_sumsquare(const fft_batch::Plan& p, std::size_t hop, int nt, std::vector<float>& ws) {
    const auto N = static_cast<std::size_t>(p.n_fft);
    const std::size_t signal_len = N + hop * static_cast<std::size_t>(nt - 1);
    ws.resize(signal_len);
    auto ws_at = [&](std::size_t i) {
        const std::size_t t_hi = std::min(static_cast<std::size_t>(nt - 1), i / hop);
        const std::size_t t_lo = i >= N ? (i - N) / hop + 1 : 0;
        float acc = 0.0f;
        for (std::size_t t = t_lo; t <= t_hi; ++t) {
            const float wv = p.window[i - t * hop];
            acc += wv * wv;
        }
        return acc;
    };
    const std::size_t interior_end = std::min(signal_len, hop * static_cast<std::size_t>(nt));
    for (std::size_t i = 0; i < signal_len; ++i) {
        if (i >= N + hop && i < interior_end) {
            ws[i] = ws[i - hop];
        } else {
            ws[i] = ws_at(i);
        }
    }
}

// ref: librosa 0.7.2 istft(length=None, center=True): the overlap-added frames y (N + hop*(nt-1)
// samples) divided by the window sum-square where it exceeds tiny, hop*(nt-1) samples written
// to out[0..], the rest of `out` zero (fix_length). `ws` is scratch. With `residual` (out.size()
// floats), also residual[i] = signal[i] - out[i] on those samples and 0 after them.
void istft_normalize(const fft_batch::Plan& p, int hop_length, int nt, const std::vector<float>& y,
                     std::vector<float>& ws, int& ws_frames, std::vector<float>& out, const float* signal = nullptr,
                     float* residual = nullptr) {
    const auto N = static_cast<std::size_t>(p.n_fft), hop = static_cast<std::size_t>(hop_length);
    const std::size_t signal_len = N + hop * static_cast<std::size_t>(nt - 1);
    // The window sum-square depends only on the frame count: kept while that stays (ws_frames).
    if (ws_frames != nt || ws.size() != signal_len) compute_window_sumsquare(p, hop, nt, ws);
    ws_frames = nt;
    const std::size_t start = N / 2, covered = hop * static_cast<std::size_t>(nt - 1);
    const std::size_t n = std::min(covered, out.size());
    hk::divide_by_window(y.data() + start, ws.data() + start, n, out.data(), signal, residual);
    std::fill(out.begin() + static_cast<std::ptrdiff_t>(n), out.end(), 0.0f);
    if (residual) std::fill(residual + n, residual + out.size(), 0.0f);
}

// ref: librosa 0.7.2 istft(length=None, center=True) of X * mask, as istft_normalize writes it.
// `y` and `ws` are scratch.
void istft_masked(const ComplexSpectrogram& X, const Spectrogram& mask, const fft_batch::Plan& p, int hop_length,
                  fft_batch::Scratch& scratch, std::vector<float>& y, std::vector<float>& ws, int& ws_frames,
                  std::vector<float>& out) {
    const int nb = static_cast<int>(X.rows()), nt = static_cast<int>(X.cols());
    const std::size_t signal_len =
        static_cast<std::size_t>(p.n_fft) + static_cast<std::size_t>(hop_length) * static_cast<std::size_t>(nt - 1);
    y.assign(signal_len, 0.0f);
    for (int t0 = 0; t0 < nt; t0 += fft_batch::kLanes)
        fft_batch::inverse_overlap_add(p, X.data(), mask.data(), nb, nt, t0, hop_length, scratch, y.data());
    istft_normalize(p, hop_length, nt, y, ws, ws_frames, out);
}

}  // namespace

void median_filter_time(const Spectrogram& S, int width, Spectrogram& out) {
    require_width(width);
    MedianScratch ms;
    median_time_impl(S, width, out, ms);
}

void median_filter_frequency(const Spectrogram& S, int width, Spectrogram& out) {
    require_width(width);
    MedianScratch ms;
    median_freq_impl(S, width, out, ms);
}

void softmask(const Spectrogram& X, const Spectrogram& X_ref, float power, bool split_zeros, Spectrogram& mask) {
    if (X.rows() != X_ref.rows() || X.cols() != X_ref.cols())
        throw Error("softmask: shape mismatch: " + std::to_string(X.rows()) + "x" + std::to_string(X.cols()) +
                    " != " + std::to_string(X_ref.rows()) + "x" + std::to_string(X_ref.cols()));
    require_param(std::isfinite(power) && power > 0, "power", power, "a finite number > 0");
    mask.resize(X.rows(), X.cols());
    const float* x = X.data();
    const float* r = X_ref.data();
    float* m = mask.data();
    const Eigen::Index n = X.size();
    for (Eigen::Index i = 0; i < n; ++i) m[i] = softmask_one(x[i], r[i], power, split_zeros);
}

struct Hpss::Scratch {
    Spectrogram harm, perc, mask_h, mask_p;  // median filters and masks
    ComplexSpectrogram masked;               // X * mask, the input of the inverse STFT
    MedianScratch median;
    Spectrogram perc_slice, mask_slice;  // harmonic_fused: kSlice frames of the percussive median and mask
    HpssWaveforms waves;
    Stft stft;
    fft_batch::Plan fft;                       // the vectorised inverse STFT (power-of-two n_fft)
    fft_batch::Scratch fft_scratch;
    std::vector<float> ola, wss;
    int wss_frames = -1;                       // the frame count wss holds the window sum-square of
    std::vector<float> wss_period;             // harmonic_fused: wss over one hop of its periodic part, twice
    std::vector<std::size_t> leaf_ends;        // the pairwise-sum leaves of leaf_n samples (their ends)
    std::size_t leaf_n = static_cast<std::size_t>(-1);
    std::vector<float> leaf_harm, leaf_perc;   // the leaves' sums
    std::vector<float> harm_strips;            // harmonic_fused: the time median in strips
    explicit Scratch(const StftParams& p) : stft(p) {
        if (fft_batch::supported(p.n_fft)) fft = fft_batch::make_plan(p.n_fft);
    }
};

Hpss::Hpss(const HpssParams& params, const StftParams& stft)
    : params_(params), stft_params_(stft), scratch_(std::make_unique<Scratch>(stft)) {
    params_.validate();
}

Hpss::~Hpss() = default;
Hpss::Hpss(Hpss&&) noexcept = default;
Hpss& Hpss::operator=(Hpss&&) noexcept = default;

void Hpss::masks(const Spectrogram& mag, Spectrogram& mask_harmonic, Spectrogram& mask_percussive) {
    masks(mag, mask_harmonic, &mask_percussive);
}

void Hpss::masks(const Spectrogram& mag, Spectrogram& mask_harmonic, Spectrogram* mask_percussive) {
    Scratch& s = *scratch_;
    // ref: librosa 0.7.2 decompose.hpss: harm = median_filter(S, size=(1, win_harm), mode='reflect'),
    // perc = median_filter(S, size=(win_perc, 1), mode='reflect').
    median_time_impl(mag, params_.kernel_harmonic, s.harm, s.median);
    median_freq_impl(mag, params_.kernel_percussive, s.perc, s.median);
    // ref: librosa 0.7.2 decompose.hpss: split_zeros = (margin_harm == 1 and margin_perc == 1);
    // mask_harm = softmask(harm, perc * margin_harm), mask_perc = softmask(perc, harm * margin_perc).
    const bool split_zeros = params_.margin_harmonic == 1.0f && params_.margin_percussive == 1.0f;
    const float power = params_.power, margin_h = params_.margin_harmonic, margin_p = params_.margin_percussive;
    const Eigen::Index n = mag.size();
    auto one = [&](const Spectrogram& x, const Spectrogram& ref, float margin, Spectrogram& mask) {
        if (mask.rows() != mag.rows() || mask.cols() != mag.cols()) mask.resize(mag.rows(), mag.cols());
        if (power == 2.0f) {  // numpy evaluates **2 as a square
            hk::softmask_p2(x.data(), ref.data(), margin, split_zeros ? 0.5f : 0.0f, mask.data(), n);
            return;
        }
        for (Eigen::Index i = 0; i < n; ++i)
            mask.data()[i] = softmask_one(x.data()[i], ref.data()[i] * margin, power, split_zeros);
    };
    one(s.harm, s.perc, margin_h, mask_harmonic);
    if (mask_percussive) one(s.perc, s.harm, margin_p, *mask_percussive);
}

HpssSpectrograms Hpss::decompose(const ComplexSpectrogram& X, const Spectrogram& mag) {
    if (X.rows() != mag.rows() || X.cols() != mag.cols())
        throw Error("hpss: the magnitude spectrogram's shape differs from the STFT's");
    Scratch& s = *scratch_;
    masks(mag, s.mask_h, s.mask_p);
    HpssSpectrograms out;
    // ref: librosa 0.7.2 decompose.hpss: (S * mask) * phase; here X * mask (see the header).
    apply_mask(X, s.mask_h, out.harmonic);
    apply_mask(X, s.mask_p, out.percussive);
    return out;
}

// The harmonic half of masks(), istft_masked() and istft_normalize() run kSlice frames at a
// time: the percussive median, the harmonic mask and the masked inverse transforms of a slice
// stay in cache, where whole-track passes would write and read back two 5 MB matrices. The
// overlap-add goes to a window of N + kSlice*hop samples that slides along the signal: once a
// slice is added, the samples no later frame reaches are final, so they are divided by the
// window sum-square (and the percussive residual formed) right away, and the tail the next
// frames still add to moves to the front. The same operations on the same values in the same
// order (frames still overlap-added in order): the same bits. Writes s.waves (the harmonic
// waveform and the percussive residual, y.size() samples each). Needs power 2, both margins 1
// and a power-of-two n_fft.
void Hpss::harmonic_fused(const ComplexSpectrogram& X, const Spectrogram& mag, std::span<const float> y) {
    constexpr int kSlice = 32;
    Scratch& s = *scratch_;
    const int nb = static_cast<int>(mag.rows()), nt = static_cast<int>(mag.cols()), hop = stft_params_.hop;
    // ref: librosa 0.7.2 decompose.hpss, as masks() (split_zeros: both margins are 1).
    // Width 31 (the sorted-block kernel) leaves the time median in strips (median_time_strips),
    // which the soft mask reads as they are; otherwise it is a whole matrix.
    MedianScratch& ms = s.median;
    const bool strips = params_.kernel_harmonic == 2 * kBlock - 1 && nb >= kMaxLanes;
    int strip_lanes = 0;  // the layout median_time_strips wrote
    if (strips) {
        reflect_indices(nt, params_.kernel_harmonic / 2, ms.idx);
        ext_indices(ms.idx, nt, ms.ext);
        ms.buf.resize(std::max(ms.buf.size(), static_cast<std::size_t>(ext_count(nt) * kStrip * kMaxLanes)));
        s.harm_strips.resize(hk::strips_size(nb, nt));
        strip_lanes = hk::median_time_strips(mag.data(), s.harm_strips.data(), nb, nt, ms.ext.data(), ms.buf.data());
    } else {
        median_time_impl(mag, params_.kernel_harmonic, s.harm, s.median);
    }
    const int width = params_.kernel_percussive;
    const std::size_t in_size = prepare_median_freq(nb, width, ms);
    s.perc_slice.resize(nb, kSlice);
    s.mask_slice.resize(nb, kSlice);
    const auto N = static_cast<std::size_t>(s.fft.n_fft), H = static_cast<std::size_t>(hop);
    const std::size_t signal_len = N + H * static_cast<std::size_t>(nt - 1);
    // The window sum-square depends only on the frame count: kept while that stays (wss_frames).
    if (s.wss_frames != nt || s.wss.size() != signal_len) compute_window_sumsquare(s.fft, H, nt, s.wss);
    s.wss_frames = nt;
    // ref: librosa 0.7.2 istft(center=True) trims N/2 samples at the start; fix_length(len(y)).
    const std::size_t start = N / 2, covered = H * static_cast<std::size_t>(nt - 1);
    const std::size_t n_out = std::min(covered, y.size());
    s.waves.harmonic.resize(y.size());
    s.waves.percussive.resize(y.size());
    float* const harm_out = s.waves.harmonic.data();
    float* const perc_out = s.waves.percussive.data();
    // On [N, interior_end) the sum-square repeats every hop (compute_window_sumsquare copies it so):
    // read from one period held twice, in cache, instead of the whole-signal array.
    const std::size_t interior_end = std::min(signal_len, H * static_cast<std::size_t>(nt));
    const bool periodic = interior_end >= N + H;
    if (periodic) {
        s.wss_period.resize(2 * H);
        for (std::size_t j = 0; j < 2 * H; ++j) s.wss_period[j] = s.wss[N + j % H];
    }
    auto normalize = [&](const float* src, std::size_t first, std::size_t count, std::size_t o) {
        // signal samples first .. first+count-1 (src) to output samples o .. (and the residual).
        const std::size_t end = first + count;
        while (first < end) {
            std::size_t stop = end;
            const float* w = s.wss.data() + first;
            if (periodic && first >= N && first < interior_end) {
                stop = std::min({end, interior_end, first + H});
                w = s.wss_period.data() + (first - N) % H;
            } else if (periodic && first < N) {
                stop = std::min(end, N);
            }
            hk::divide_by_window(src, w, stop - first, harm_out + o, y.data() + o, perc_out + o);
            src += stop - first;
            o += stop - first;
            first = stop;
        }
    };
    const std::size_t win_len = N + H * kSlice, keep = N > H ? N - H : 0;
    s.ola.assign(win_len, 0.0f);
    float* const ola = s.ola.data();
    std::size_t done = 0;  // output samples written
    // numpy's pairwise sums of the two waveforms (np.mean's), leaf by leaf as the samples are final.
    if (s.leaf_n != y.size()) {
        s.leaf_ends.clear();
        simd::pairwise::leaf_ends(y.size(), 0, s.leaf_ends);
        s.leaf_n = y.size();
    }
    s.leaf_harm.resize(s.leaf_ends.size());
    s.leaf_perc.resize(s.leaf_ends.size());
    std::size_t leaf = 0, leaf_start = 0;
    auto sum_leaves = [&](std::size_t upto) {
        std::size_t last = leaf;
        while (last < s.leaf_ends.size() && s.leaf_ends[last] <= upto) ++last;
        if (last == leaf) return;
        simd::pairwise::leaf_sums2(harm_out, perc_out, leaf_start, s.leaf_ends.data() + leaf, last - leaf,
                                   s.leaf_harm.data() + leaf, s.leaf_perc.data() + leaf);
        leaf_start = s.leaf_ends[last - 1];
        leaf = last;
    };
    for (int t0 = 0; t0 < nt; t0 += kSlice) {
        const int cnt = std::min(kSlice, nt - t0);
        const std::ptrdiff_t off = static_cast<std::ptrdiff_t>(t0) * nb;
        hk::median_freq(mag.data() + off, s.perc_slice.data(), nb, cnt, width, ms.idx.data(), ms.ext.data(),
                        ms.buf.data(), ms.buf.data() + in_size);
        if (strips)
            hk::softmask_p2_strips(s.harm_strips.data(), strip_lanes, nt, t0, cnt, nb, s.perc_slice.data(),
                                   params_.margin_harmonic, 0.5f, s.mask_slice.data());
        else
            hk::softmask_p2(s.harm.data() + off, s.perc_slice.data(), params_.margin_harmonic, 0.5f, s.mask_slice.data(),
                            static_cast<std::ptrdiff_t>(cnt) * nb);
        for (int l0 = 0; l0 < cnt; l0 += fft_batch::kLanes)
            fft_batch::inverse_overlap_add(s.fft, X.data() + off, s.mask_slice.data(), nb, cnt, l0, hop, s.fft_scratch,
                                           ola);
        // ola[0] is signal sample base; samples before `complete` have all their frames.
        const bool last = t0 + cnt == nt;
        const std::size_t base = H * static_cast<std::size_t>(t0);
        const std::size_t complete = last ? signal_len : H * static_cast<std::size_t>(t0 + cnt);
        const std::size_t o_end = complete > start ? std::min(n_out, complete - start) : 0;
        if (o_end > done) {
            const std::size_t first = done + start;  // >= base
            normalize(ola + (first - base), first, o_end - done, done);
            done = o_end;
            sum_leaves(done);
        }
        if (!last) {
            const std::size_t shift = H * static_cast<std::size_t>(cnt);
            std::memmove(ola, ola + shift, keep * sizeof(float));
            std::fill(ola + keep, ola + win_len, 0.0f);
        }
    }
    // fix_length: zeros after the samples istft covers.
    std::fill(harm_out + n_out, harm_out + y.size(), 0.0f);
    std::fill(perc_out + n_out, perc_out + y.size(), 0.0f);
    sum_leaves(y.size());
    const float* lh = s.leaf_harm.data();
    const float* lp = s.leaf_perc.data();
    s.waves.harmonic_sum = simd::pairwise::sum_of_leaves(y.size(), lh);
    s.waves.percussive_sum = simd::pairwise::sum_of_leaves(y.size(), lp);
    s.waves.has_sums = true;
}

const HpssWaveforms& Hpss::waveforms(const ComplexSpectrogram& X, const Spectrogram& mag, std::span<const float> y) {
    Scratch& s = *scratch_;
    const auto n_fft = static_cast<std::size_t>(stft_params_.n_fft);
    const auto hop = static_cast<std::size_t>(stft_params_.hop);
    if (!stft_params_.center) throw Error("hpss waveforms: the STFT must be centred (center = true), as effects.hpss uses");
    if (X.rows() != static_cast<Eigen::Index>(n_fft / 2 + 1) || X.rows() != mag.rows() || X.cols() != mag.cols())
        throw Error("hpss waveforms: the STFT is " + std::to_string(X.rows()) + "x" + std::to_string(X.cols()) +
                    " and the magnitude " + std::to_string(mag.rows()) + "x" + std::to_string(mag.cols()) +
                    "; expected " + std::to_string(n_fft / 2 + 1) + " bins in both");
    if (static_cast<std::size_t>(X.cols()) != s.stft.n_frames(y.size()))
        throw Error("hpss waveforms: the STFT has " + std::to_string(X.cols()) + " frames but a signal of " +
                    std::to_string(y.size()) + " samples gives " + std::to_string(s.stft.n_frames(y.size())));
    const bool complementary = params_.margin_harmonic == 1.0f && params_.margin_percussive == 1.0f;
    const bool residual = params_.percussive_from_residual && complementary;
    const std::size_t covered = hop * static_cast<std::size_t>(X.cols() - 1);  // istft(length=None) output

    // ref: librosa 0.7.2 effects.hpss: fix_length(istft(stft_harm), len(y)): trimmed, then zero-padded.
    auto invert = [&](const Spectrogram& mask, std::vector<float>& out) {
        out.resize(y.size());
        if (s.fft.valid()) return istft_masked(X, mask, s.fft, stft_params_.hop, s.fft_scratch, s.ola, s.wss, s.wss_frames, out);
        // Not a power of two: KissFFT through Stft.
        apply_mask(X, mask, s.masked);
        const std::vector<float> z = s.stft.inverse_no_length(s.masked);
        out.assign(y.size(), 0.0f);
        std::copy_n(z.begin(), std::min(z.size(), y.size()), out.begin());
    };
    if (residual && s.fft.valid() && params_.power == 2.0f) {
        // The percussive residual (as below) formed as the harmonic samples are.
        harmonic_fused(X, mag, y);
        return s.waves;
    }
    s.waves.has_sums = false;
    masks(mag, s.mask_h, residual ? nullptr : &s.mask_p);  // the residual needs no percussive mask
    invert(s.mask_h, s.waves.harmonic);
    if (residual) {
        // istft(X * mask_p) = istft(X) - istft(X * mask_h), and istft(X) = y where it is defined.
        s.waves.percussive.assign(y.size(), 0.0f);
        const std::size_t n = std::min(covered, y.size());
        for (std::size_t i = 0; i < n; ++i) s.waves.percussive[i] = y[i] - s.waves.harmonic[i];
    } else {
        invert(s.mask_p, s.waves.percussive);
    }
    return s.waves;
}

}  // namespace genrekit
