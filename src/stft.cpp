#include "genrekit/stft.hpp"

#include <kissfft/kiss_fftr.h>
#include <unsupported/Eigen/FFT>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>

#include "genrekit/error.hpp"

namespace genrekit {

void StftParams::validate() const {
    require_param(n_fft >= 16 && n_fft <= (1 << 16) && n_fft % 2 == 0, "n_fft", n_fft, "an even number in 16..65536");
    require_param(hop >= 1 && hop <= n_fft, "hop", hop, "1..n_fft");
}

std::vector<float> pad_signal(std::span<const float> y, std::size_t left, std::size_t right, PadMode mode) {
    const std::size_t n = y.size();
    std::vector<float> out(left + n + right, 0.f);
    std::copy(y.begin(), y.end(), out.begin() + static_cast<std::ptrdiff_t>(left));
    if (n == 0 || mode == PadMode::Constant) return out;
    auto source = [&](std::ptrdiff_t i) -> float {
        const auto len = static_cast<std::ptrdiff_t>(n);
        if (mode == PadMode::Edge) return y[static_cast<std::size_t>(std::clamp<std::ptrdiff_t>(i, 0, len - 1))];
        if (len == 1) return y[0];
        // Reflection about the first and last samples has period 2(n-1).
        const std::ptrdiff_t period = 2 * (len - 1);
        std::ptrdiff_t m = ((i % period) + period) % period;
        if (m >= len) m = period - m;
        return y[static_cast<std::size_t>(m)];
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
    std::vector<float> frame;
    std::vector<kiss_fft_cpx> bins;
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
    const auto n_fft = static_cast<std::size_t>(params_.n_fft);
    const auto hop = static_cast<std::size_t>(params_.hop);
    std::vector<float> padded;
    std::span<const float> x = y;
    if (params_.center) {
        padded = pad_signal(y, n_fft / 2, n_fft / 2, PadMode::Reflect);
        x = padded;
    }
    const std::size_t T = frame_count(x.size(), n_fft, hop);
    if (T == 0)
        throw Error("signal of " + std::to_string(y.size()) + " samples is shorter than n_fft = " + std::to_string(n_fft));
    ComplexSpectrogram X(n_bins(), static_cast<Eigen::Index>(T));
    float* frame = plans_->frame.data();
    for (std::size_t t = 0; t < T; ++t) {
        const float* src = x.data() + t * hop;
        for (std::size_t k = 0; k < n_fft; ++k) frame[k] = window_[k] * src[k];
        kiss_fftr(plans_->fwd, frame, plans_->bins.data());
        std::complex<float>* col = X.col(static_cast<Eigen::Index>(t)).data();
        for (int b = 0; b < n_bins(); ++b) col[b] = {plans_->bins[static_cast<std::size_t>(b)].r, plans_->bins[static_cast<std::size_t>(b)].i};
    }
    return X;
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
    // ref: numpy abs(complex64) -> hypotf, which glibc computes as sqrt in double rounded to
    // float: the same bits as below, which vectorises where hypotf does not.
    Spectrogram S(X.rows(), X.cols());
    const auto* x = reinterpret_cast<const float*>(X.data());
    float* out = S.data();
    const Eigen::Index n = X.size();
    for (Eigen::Index i = 0; i < n; ++i) {
        const double re = x[2 * i], im = x[2 * i + 1];
        out[i] = static_cast<float>(std::sqrt(re * re + im * im));
    }
    return S;
}

Spectrogram power(const ComplexSpectrogram& X) { return magnitude(X).array().square().matrix(); }

std::vector<float> Stft::frame_magnitude_exact(std::span<const float> y, std::size_t t) const {
    const auto n_fft = static_cast<std::size_t>(params_.n_fft);
    const auto hop = static_cast<std::size_t>(params_.hop);
    const std::size_t half = params_.center ? n_fft / 2 : 0;
    const auto n = static_cast<std::ptrdiff_t>(y.size());
    if (t >= n_frames(y.size())) throw Error("frame_magnitude_exact: frame " + std::to_string(t) + " out of range");
    // The frame's samples, reflect-padded at the edges exactly as forward() pads them.
    std::vector<double> frame(n_fft);
    const auto w = hann_window(params_.n_fft);
    for (std::size_t k = 0; k < n_fft; ++k) {
        std::ptrdiff_t i = static_cast<std::ptrdiff_t>(t * hop + k) - static_cast<std::ptrdiff_t>(half);
        if (n == 1) i = 0;
        else {
            const std::ptrdiff_t period = 2 * (n - 1);
            i = ((i % period) + period) % period;
            if (i >= n) i = period - i;
        }
        frame[k] = w[k] * static_cast<double>(y[static_cast<std::size_t>(i)]);
    }
    // ref: librosa 0.7.2 stft: rfft in float64, stored as complex64, np.abs in float32.
    Eigen::FFT<double> fft;
    fft.SetFlag(Eigen::FFT<double>::HalfSpectrum);
    std::vector<std::complex<double>> bins;
    fft.fwd(bins, frame);
    std::vector<float> mag(static_cast<std::size_t>(n_bins()));
    for (std::size_t b = 0; b < mag.size(); ++b) {
        const double re = static_cast<float>(bins[b].real()), im = static_cast<float>(bins[b].imag());
        mag[b] = static_cast<float>(std::sqrt(re * re + im * im));
    }
    return mag;
}

}  // namespace genrekit
