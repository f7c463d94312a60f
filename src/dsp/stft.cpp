#include "genrekit/stft.hpp"

#include <kissfft/kiss_fftr.h>
#include <unsupported/Eigen/FFT>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>
#include <optional>

#include "dsp/fft_batch.hpp"
#include "dsp/fft_exact.hpp"
#include "genrekit/error.hpp"
#include "simd/stft_kernels.hpp"

namespace genrekit {

void StftParams::validate() const {
    require_param(n_fft >= 16 && n_fft <= (1 << 16) && n_fft % 2 == 0, "n_fft", n_fft, "an even number in 16..65536");
    require_param(hop >= 1 && hop <= n_fft, "hop", hop, "1..n_fft");
}

namespace {

// ref: numpy.pad mode='reflect': the sample of y (length n >= 1) at index i of the extended
// signal. Reflection about the first and last samples has period 2(n-1).
std::size_t reflect_index(std::ptrdiff_t i, std::ptrdiff_t n) {
    if (n == 1) return 0;
    if (i >= 0 && i < n) return static_cast<std::size_t>(i);
    const std::ptrdiff_t period = 2 * (n - 1);
    std::ptrdiff_t m = ((i % period) + period) % period;
    if (m >= n) m = period - m;
    return static_cast<std::size_t>(m);
}

using simd::abs_complex;  // simd/stft_kernels.hpp

}  // namespace

std::vector<float> pad_signal(std::span<const float> y, std::size_t left, std::size_t right, PadMode mode) {
    const std::size_t n = y.size();
    std::vector<float> out(left + n + right, 0.f);
    std::copy(y.begin(), y.end(), out.begin() + static_cast<std::ptrdiff_t>(left));
    if (n == 0 || mode == PadMode::Constant) return out;
    auto source = [&](std::ptrdiff_t i) -> float {
        const auto len = static_cast<std::ptrdiff_t>(n);
        if (mode == PadMode::Edge) return y[static_cast<std::size_t>(std::clamp<std::ptrdiff_t>(i, 0, len - 1))];
        return y[reflect_index(i, len)];
    };
    for (std::size_t i = 0; i < left; ++i) out[i] = source(static_cast<std::ptrdiff_t>(i) - static_cast<std::ptrdiff_t>(left));
    for (std::size_t i = 0; i < right; ++i) out[left + n + i] = source(static_cast<std::ptrdiff_t>(n + i));
    return out;
}

std::size_t frame_count(std::size_t n, std::size_t frame, std::size_t hop) {
    return n < frame ? 0 : 1 + (n - frame) / hop;
}

std::vector<double> hann_window(int n) {
    std::vector<double> w(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) w[static_cast<std::size_t>(i)] = 0.5 - 0.5 * std::cos(2.0 * std::numbers::pi * i / n);
    return w;
}

struct Stft::Plans {
    kiss_fftr_cfg fwd = nullptr;
    kiss_fftr_cfg inv = nullptr;
    std::vector<float> frame, edge, mag;
    std::vector<kiss_fft_cpx> bins;
    // The forward transform 8 frames at a time (power-of-two n_fft, on every CPU; KissFFT
    // otherwise). edge holds kLanes reflect-padded frames, cols kLanes output columns when the
    // caller keeps no X.
    fft_batch::Plan batch;
    fft_batch::Scratch batch_scratch;
    std::vector<std::complex<float>> cols;
    // frame_magnitude_exact: a float64 FFT (our radix-2 for powers of two, else Eigen's KissFFT,
    // whose plans are cached inside) and the window in double.
    std::optional<fft_exact::RealFft> exact_pow2;
    Eigen::FFT<double> exact_fft;
    std::vector<double> exact_window, exact_frame;
    std::vector<std::complex<double>> exact_bins;
    std::vector<std::complex<float>> exact_complex64;  // complex64, as librosa stores them
    ~Plans() {
        kiss_fftr_free(fwd);
        kiss_fftr_free(inv);
    }
};

Stft::Stft(const StftParams& params) : params_(params), plans_(std::make_unique<Plans>()) {
    params_.validate();
    const auto w = hann_window(params_.n_fft);
    window_.assign(w.begin(), w.end());
    plans_->fwd = kiss_fftr_alloc(params_.n_fft, 0, nullptr, nullptr);
    plans_->inv = kiss_fftr_alloc(params_.n_fft, 1, nullptr, nullptr);
    if (!plans_->fwd || !plans_->inv) throw Error("cannot allocate an FFT plan for n_fft = " + std::to_string(params_.n_fft));
    plans_->frame.resize(static_cast<std::size_t>(params_.n_fft));
    plans_->bins.resize(static_cast<std::size_t>(n_bins()));
    plans_->mag.resize(static_cast<std::size_t>(n_bins()));
    // Every power-of-two size goes through the batched FFT, on every instruction set: its
    // variants give the same bits as each other (KissFFT's differ), so the features do not
    // depend on the CPU. (Its baseline variant is a little slower than KissFFT.)
    if (fft_batch::supported(params_.n_fft))
        plans_->batch = fft_batch::make_plan(params_.n_fft);
}

Stft::~Stft() = default;
Stft::Stft(Stft&&) noexcept = default;
Stft& Stft::operator=(Stft&&) noexcept = default;

std::size_t Stft::n_frames(std::size_t n_samples) const {
    const auto n_fft = static_cast<std::size_t>(params_.n_fft);
    const std::size_t padded = params_.center ? n_samples + n_fft : n_samples;
    return frame_count(padded, n_fft, static_cast<std::size_t>(params_.hop));
}

ComplexSpectrogram Stft::forward(std::span<const float> y) {
    ComplexSpectrogram X;
    forward(y, X);
    return X;
}

// kiss_fftr writes n_fft/2 + 1 kiss_fft_cpx {r, i}, the layout of std::complex<float>, so
// each frame is transformed straight into its column.
static_assert(sizeof(kiss_fft_cpx) == sizeof(std::complex<float>) && alignof(kiss_fft_cpx) <= alignof(std::complex<float>));

void Stft::forward(std::span<const float> y, ComplexSpectrogram& X, Spectrogram* mag, Spectrogram* pow) {
    if (pow && !mag) throw Error("stft: the power output needs the magnitude output too");
    transform(y, &X, mag, pow);
}

void Stft::power_spectrogram(std::span<const float> y, Spectrogram& pow) { transform(y, nullptr, nullptr, &pow); }

void Stft::transform(std::span<const float> y, ComplexSpectrogram* X, Spectrogram* mag, Spectrogram* pow) {
    const auto n_fft = static_cast<std::size_t>(params_.n_fft);
    const auto hop = static_cast<std::size_t>(params_.hop);
    const std::size_t T = n_frames(y.size());
    if (T == 0)
        throw Error("signal of " + std::to_string(y.size()) + " samples is shorter than n_fft = " + std::to_string(n_fft));
    const Eigen::Index nb = n_bins();
    const auto cols = static_cast<Eigen::Index>(T);
    if (X && (X->rows() != nb || X->cols() != cols)) X->resize(nb, cols);
    if (mag && (mag->rows() != nb || mag->cols() != cols)) mag->resize(nb, cols);
    if (pow && (pow->rows() != nb || pow->cols() != cols)) pow->resize(nb, cols);

    // ref: librosa 0.7.2 stft(center=True): frames of np.pad(y, n_fft // 2, mode='reflect').
    // Frames inside y are read in place; only the few at each end see reflected samples, copied
    // into edge + slot * n_fft.
    const auto n = static_cast<std::ptrdiff_t>(y.size());
    const std::ptrdiff_t offset = params_.center ? static_cast<std::ptrdiff_t>(n_fft / 2) : 0;
    std::vector<float>& edge = plans_->edge;
    auto frame_samples = [&](std::size_t t, std::size_t slot) -> const float* {
        const std::ptrdiff_t start = static_cast<std::ptrdiff_t>(t * hop) - offset;
        if (start >= 0 && start + static_cast<std::ptrdiff_t>(n_fft) <= n) return y.data() + start;
        float* e = edge.data() + slot * n_fft;
        for (std::size_t k = 0; k < n_fft; ++k) {
            const std::ptrdiff_t i = start + static_cast<std::ptrdiff_t>(k);
            // numpy pads an empty signal with zeros; a non-centred frame never leaves y.
            e[k] = n == 0 ? 0.0f : y[reflect_index(i, n)];
        }
        return e;
    };
    auto magnitudes = [&](const std::complex<float>* col, Eigen::Index ti) {
        if (mag || pow)
            abs_complex(reinterpret_cast<const float*>(col), mag ? mag->col(ti).data() : plans_->mag.data(),
                        pow ? pow->col(ti).data() : nullptr, nb);
    };

    if (plans_->batch.valid()) {
        constexpr int L = fft_batch::kLanes;
        edge.resize(L * n_fft);
        // Without X, the columns live in scratch until the next group.
        if (!X) plans_->cols.resize(static_cast<std::size_t>(L * nb));
        for (std::size_t t0 = 0; t0 < T; t0 += L) {
            const int lanes = static_cast<int>(std::min<std::size_t>(L, T - t0));
            const float* frames[L];
            std::complex<float>* out[L];
            for (int l = 0; l < L; ++l) {
                const std::size_t t = std::min(t0 + static_cast<std::size_t>(l), T - 1);  // repeat the last frame
                frames[l] = frame_samples(t, static_cast<std::size_t>(l));
                out[l] = X ? X->col(static_cast<Eigen::Index>(t)).data() : plans_->cols.data() + l * nb;
            }
            fft_batch::forward(plans_->batch, frames, out, lanes, plans_->batch_scratch);
            for (int l = 0; l < lanes; ++l) magnitudes(out[l], static_cast<Eigen::Index>(t0 + static_cast<std::size_t>(l)));
        }
        return;
    }

    edge.resize(n_fft);
    float* frame = plans_->frame.data();
    const float* w = window_.data();
    for (std::size_t t = 0; t < T; ++t) {
        const float* src = frame_samples(t, 0);
        for (std::size_t k = 0; k < n_fft; ++k) frame[k] = w[k] * src[k];
        const auto ti = static_cast<Eigen::Index>(t);
        // Without X, the frame's column lives in scratch until the next frame.
        auto* col = X ? reinterpret_cast<kiss_fft_cpx*>(X->col(ti).data()) : plans_->bins.data();
        kiss_fftr(plans_->fwd, frame, col);
        magnitudes(reinterpret_cast<const std::complex<float>*>(col), ti);
    }
}

std::vector<float> Stft::overlap_add(const ComplexSpectrogram& X, std::size_t n_frames) {
    const auto n_fft = static_cast<std::size_t>(params_.n_fft);
    const auto hop = static_cast<std::size_t>(params_.hop);
    const std::size_t signal_len = n_fft + hop * (n_frames - 1);
    std::vector<float> y(signal_len, 0.f);
    std::vector<float> win_sum(signal_len, 0.f);
    const float scale = 1.0f / static_cast<float>(n_fft);
    float* frame = plans_->frame.data();
    for (std::size_t t = 0; t < n_frames; ++t) {
        const std::complex<float>* col = X.col(static_cast<Eigen::Index>(t)).data();
        for (int b = 0; b < n_bins(); ++b) plans_->bins[static_cast<std::size_t>(b)] = {col[b].real(), col[b].imag()};
        kiss_fftri(plans_->inv, plans_->bins.data(), frame);
        float* dst = y.data() + t * hop;
        float* ws = win_sum.data() + t * hop;
        for (std::size_t k = 0; k < n_fft; ++k) {
            dst[k] += window_[k] * (frame[k] * scale);
            ws[k] += window_[k] * window_[k];
        }
    }
    // ref: librosa 0.7.2 istft: divide by the window sum-square where it exceeds tiny(float32).
    const float tiny = std::numeric_limits<float>::min();
    for (std::size_t i = 0; i < signal_len; ++i)
        if (win_sum[i] > tiny) y[i] /= win_sum[i];
    return y;
}

std::vector<float> Stft::inverse(const ComplexSpectrogram& X, std::size_t length) {
    const auto n_fft = static_cast<std::size_t>(params_.n_fft);
    const auto hop = static_cast<std::size_t>(params_.hop);
    if (X.rows() != n_bins())
        throw Error("istft: spectrogram has " + std::to_string(X.rows()) + " bins, expected " + std::to_string(n_bins()));
    // ref: librosa 0.7.2 istft: with a length, only the frames that cover it are used.
    const std::size_t padded_length = params_.center ? length + n_fft : length;
    const std::size_t n_frames = std::min(static_cast<std::size_t>(X.cols()), (padded_length + hop - 1) / hop);
    if (n_frames == 0) return std::vector<float>(length, 0.f);
    const std::vector<float> y = overlap_add(X, n_frames);
    const std::size_t start = params_.center ? n_fft / 2 : 0;
    std::vector<float> out(length, 0.f);
    for (std::size_t i = 0; i < length && start + i < y.size(); ++i) out[i] = y[start + i];
    return out;
}

std::vector<float> Stft::inverse_no_length(const ComplexSpectrogram& X) {
    const auto n_fft = static_cast<std::size_t>(params_.n_fft);
    if (X.rows() != n_bins())
        throw Error("istft: spectrogram has " + std::to_string(X.rows()) + " bins, expected " + std::to_string(n_bins()));
    if (X.cols() == 0) return {};
    std::vector<float> y = overlap_add(X, static_cast<std::size_t>(X.cols()));
    if (!params_.center) return y;
    // ref: librosa 0.7.2 istft(length=None, center=True): y[n_fft//2 : -(n_fft//2)].
    return std::vector<float>(y.begin() + static_cast<std::ptrdiff_t>(n_fft / 2), y.end() - static_cast<std::ptrdiff_t>(n_fft / 2));
}

Spectrogram magnitude(const ComplexSpectrogram& X) {
    Spectrogram S;
    magnitude(X, S);
    return S;
}

void magnitude(const ComplexSpectrogram& X, Spectrogram& mag, Spectrogram* pow) {
    if (mag.rows() != X.rows() || mag.cols() != X.cols()) mag.resize(X.rows(), X.cols());
    if (pow && (pow->rows() != X.rows() || pow->cols() != X.cols())) pow->resize(X.rows(), X.cols());
    abs_complex(reinterpret_cast<const float*>(X.data()), mag.data(), pow ? pow->data() : nullptr, X.size());
}

Spectrogram power(const ComplexSpectrogram& X) {
    Spectrogram mag, pow;
    magnitude(X, mag, &pow);
    return pow;
}

std::vector<float> Stft::frame_magnitude_exact(std::span<const float> y, std::size_t t) {
    const std::size_t frames[1] = {t};
    const Spectrogram m = frame_magnitudes_exact(y, frames);
    return {m.data(), m.data() + m.size()};
}

Spectrogram Stft::frame_magnitudes_exact(std::span<const float> y, std::span<const std::size_t> frames) {
    const auto n_fft = static_cast<std::size_t>(params_.n_fft);
    const auto hop = static_cast<std::size_t>(params_.hop);
    const auto nb = static_cast<std::size_t>(n_bins());
    const std::size_t half = params_.center ? n_fft / 2 : 0;
    const auto n = static_cast<std::ptrdiff_t>(y.size());
    const std::size_t count = frames.size();
    for (const std::size_t t : frames)
        if (t >= n_frames(y.size())) throw Error("frame_magnitude_exact: frame " + std::to_string(t) + " out of range");
    Plans& p = *plans_;
    if (p.exact_window.size() != n_fft) p.exact_window = hann_window(params_.n_fft);
    // The frames' samples, reflect-padded at the edges exactly as forward() pads them.
    p.exact_frame.resize(n_fft * count);
    for (std::size_t f = 0; f < count; ++f) {
        double* dst = p.exact_frame.data() + f * n_fft;
        const std::ptrdiff_t start = static_cast<std::ptrdiff_t>(frames[f] * hop) - static_cast<std::ptrdiff_t>(half);
        if (start >= 0 && start + static_cast<std::ptrdiff_t>(n_fft) <= n) {  // no padding in this frame
            const float* src = y.data() + start;
            for (std::size_t k = 0; k < n_fft; ++k) dst[k] = p.exact_window[k] * static_cast<double>(src[k]);
        } else {
            for (std::size_t k = 0; k < n_fft; ++k)
                dst[k] = p.exact_window[k] * static_cast<double>(y[reflect_index(start + static_cast<std::ptrdiff_t>(k), n)]);
        }
    }
    // ref: librosa 0.7.2 stft: rfft in float64, stored as complex64, np.abs in float32.
    p.exact_complex64.resize(nb * count);
    if (fft_exact::RealFft::supported(params_.n_fft)) {
        if (!p.exact_pow2) p.exact_pow2.emplace(params_.n_fft);
        std::vector<const double*> x(count);
        std::vector<std::complex<float>*> out(count);
        for (std::size_t f = 0; f < count; ++f) {
            x[f] = p.exact_frame.data() + f * n_fft;
            out[f] = p.exact_complex64.data() + f * nb;
        }
        p.exact_pow2->forward_complex64(x.data(), out.data(), count);
    } else {
        p.exact_fft.SetFlag(Eigen::FFT<double>::HalfSpectrum);
        std::vector<double> frame(n_fft);
        for (std::size_t f = 0; f < count; ++f) {
            std::copy_n(p.exact_frame.data() + f * n_fft, n_fft, frame.data());
            p.exact_fft.fwd(p.exact_bins, frame);
            for (std::size_t b = 0; b < nb; ++b) p.exact_complex64[f * nb + b] = std::complex<float>(p.exact_bins[b]);
        }
    }
    Spectrogram mag(static_cast<Eigen::Index>(nb), static_cast<Eigen::Index>(count));
    abs_complex(reinterpret_cast<const float*>(p.exact_complex64.data()), mag.data(), nullptr,
                static_cast<std::ptrdiff_t>(nb * count));
    return mag;
}

}  // namespace genrekit
