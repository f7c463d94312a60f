#include "genrekit/mel.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "genrekit/error.hpp"
#include "simd/mel_kernels.hpp"


namespace genrekit {

namespace {
// ref: librosa 0.7.2 hz_to_mel: linear below 1 kHz (200/3 Hz per mel), logarithmic above.
constexpr double kFSp = 200.0 / 3.0;
constexpr double kMinLogHz = 1000.0;
constexpr double kMinLogMel = kMinLogHz / kFSp;
const double kLogStep = std::log(6.4) / 27.0;

using simd::mel::BandView;
using simd::mel::kDctLanes;
using simd::mel::kDctMaxVectors;
constexpr int kMelLanes = simd::mel::kGroupFrames;
}  // namespace

double hz_to_mel(double hz, bool htk) {
    if (htk) return 2595.0 * std::log10(1.0 + hz / 700.0);
    if (hz >= kMinLogHz) return kMinLogMel + std::log(hz / kMinLogHz) / kLogStep;
    return hz / kFSp;
}

double mel_to_hz(double mel, bool htk) {
    if (htk) return 700.0 * (std::pow(10.0, mel / 2595.0) - 1.0);
    if (mel >= kMinLogMel) return kMinLogHz * std::exp(kLogStep * (mel - kMinLogMel));
    return kFSp * mel;
}

std::vector<double> mel_frequencies(int n, double fmin, double fmax, bool htk) {
    const double lo = hz_to_mel(fmin, htk), hi = hz_to_mel(fmax, htk);
    std::vector<double> f(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) {
        // ref: numpy.linspace: start + i*step, with the last point exactly `stop`.
        const double m = n == 1 ? lo : (i == n - 1 ? hi : lo + i * ((hi - lo) / (n - 1)));
        f[static_cast<std::size_t>(i)] = mel_to_hz(m, htk);
    }
    return f;
}

std::vector<double> fft_frequencies(int sample_rate, int n_fft) {
    const int n = 1 + n_fft / 2;
    std::vector<double> f(static_cast<std::size_t>(n));
    const double step = (sample_rate / 2.0) / (n - 1);
    for (int i = 0; i < n; ++i) f[static_cast<std::size_t>(i)] = i == n - 1 ? sample_rate / 2.0 : i * step;
    return f;
}

void MelParams::validate() const {
    require_param(sample_rate > 0, "sample_rate", sample_rate, "> 0");
    require_param(n_fft >= 16 && n_fft % 2 == 0, "n_fft", n_fft, "an even number >= 16");
    require_param(n_mels >= 1 && n_mels <= 1024, "n_mels", n_mels, "1..1024");
    require_param(fmin >= 0 && fmin < sample_rate / 2.0, "fmin", fmin, "0 <= fmin < sample_rate/2");
    require_param(fmax <= sample_rate / 2.0 && (fmax <= 0 || fmax > fmin), "fmax", fmax,
                  "0 (Nyquist) or fmin < fmax <= sample_rate/2");
}

MelFilterbank::MelFilterbank(const MelParams& params) : params_(params) {
    params_.validate();
    const int n_bins = 1 + params_.n_fft / 2;
    const auto fftfreqs = fft_frequencies(params_.sample_rate, params_.n_fft);
    const auto mel_f = mel_frequencies(params_.n_mels + 2, params_.fmin, params_.fmax_or_nyquist(), params_.htk);
    bands_.resize(static_cast<std::size_t>(params_.n_mels));
    for (int m = 0; m < params_.n_mels; ++m) {
        const auto i = static_cast<std::size_t>(m);
        // ref: librosa 0.7.2 filters.mel: triangles from the ramps in float64, stored as float32.
        const double fdiff_lo = mel_f[i + 1] - mel_f[i];
        const double fdiff_hi = mel_f[i + 2] - mel_f[i + 1];
        const double enorm = params_.slaney_norm ? 2.0 / (mel_f[i + 2] - mel_f[i]) : 1.0;
        Band& band = bands_[i];
        band.first_bin = -1;
        for (int b = 0; b < n_bins; ++b) {
            const double lower = -(mel_f[i] - fftfreqs[static_cast<std::size_t>(b)]) / fdiff_lo;
            const double upper = (mel_f[i + 2] - fftfreqs[static_cast<std::size_t>(b)]) / fdiff_hi;
            const double w = std::max(0.0, std::min(lower, upper));
            // librosa multiplies the float32 weight by the float64 enorm, in float32 storage.
            const float wf = static_cast<float>(static_cast<float>(w) * enorm);
            if (wf > 0.f) {
                if (band.first_bin < 0) band.first_bin = b;
                band.weights.resize(static_cast<std::size_t>(b - band.first_bin + 1), 0.f);
                band.weights.back() = wf;
            }
        }
        if (band.first_bin < 0) band.first_bin = 0;  // an empty filter, as librosa warns about
        band.weights64.assign(band.weights.begin(), band.weights.end());
    }
}

Eigen::MatrixXf MelFilterbank::dense() const {
    Eigen::MatrixXf W = Eigen::MatrixXf::Zero(params_.n_mels, 1 + params_.n_fft / 2);
    for (int m = 0; m < params_.n_mels; ++m) {
        const Band& band = bands_[static_cast<std::size_t>(m)];
        for (std::size_t k = 0; k < band.weights.size(); ++k) W(m, band.first_bin + static_cast<int>(k)) = band.weights[k];
    }
    return W;
}

Spectrogram MelFilterbank::apply(const Spectrogram& S) const {
    Spectrogram M;
    apply(S, M);
    return M;
}

void MelFilterbank::apply(const Spectrogram& S, Spectrogram& M) const {
    if (S.rows() != 1 + params_.n_fft / 2)
        throw Error("mel: spectrogram has " + std::to_string(S.rows()) + " bins, the filterbank expects " +
                    std::to_string(1 + params_.n_fft / 2));
    if (M.rows() != params_.n_mels || M.cols() != S.cols()) M.resize(params_.n_mels, S.cols());
    // Each band is a float64 running sum over its bins (one dependency chain), so kMelLanes
    // frames run side by side in SIMD lanes: their bins are first transposed to bins x frames.
    // Every sum still adds the same products in bin order.
    constexpr int G = kMelLanes;
    const Eigen::Index T = S.cols();
    const auto nb = static_cast<std::size_t>(S.rows());
    std::vector<double> buf(nb * G);
    std::vector<BandView> views;
    for (const Band& band : bands_) views.push_back({band.first_bin, band.weights64.size(), band.weights64.data()});
    std::vector<float> stage(views.size() * G), spare(views.size());
    for (Eigen::Index t0 = 0; t0 < T; t0 += G) {
        const int lanes = static_cast<int>(std::min<Eigen::Index>(G, T - t0));
        const float* cols[G];
        float* out[G];
        for (int l = 0; l < G; ++l) {
            cols[l] = S.col(t0 + std::min(l, lanes - 1)).data();
            out[l] = l < lanes ? M.col(t0 + l).data() : spare.data();  // lanes past the end: scratch
        }
        simd::mel::mel_group(cols, nb, views.data(), views.size(), buf.data(), stage.data(), out);
    }
}

void DbParams::validate() const {
    require_param(amin > 0, "amin", amin, "> 0");
    require_param(ref > 0, "ref", ref, "> 0");
}

Spectrogram power_to_db(const Spectrogram& S, const DbParams& params) {
    Spectrogram D;
    power_to_db(S, D, params);
    return D;
}

void power_to_db(const Spectrogram& S, Spectrogram& D, const DbParams& params) {
    params.validate();
    const float amin = static_cast<float>(params.amin);
    const float ref_db = static_cast<float>(10.0 * std::log10(std::max(params.amin, params.ref)));
    if (D.rows() != S.rows() || D.cols() != S.cols()) D.resize(S.rows(), S.cols());
    float peak = -std::numeric_limits<float>::infinity();
    for (Eigen::Index i = 0; i < S.size(); ++i) {
        const float v = 10.0f * std::log10(std::max(amin, S.data()[i])) - ref_db;
        D.data()[i] = v;
        peak = std::max(peak, v);
    }
    if (params.top_db >= 0 && D.size() > 0) {
        const float floor = peak - static_cast<float>(params.top_db);
        for (Eigen::Index i = 0; i < D.size(); ++i) D.data()[i] = std::max(D.data()[i], floor);
    }
}

Dct::Dct(int n_out, int n_in) {
    require_param(n_in >= 1, "n_in", n_in, ">= 1");
    require_param(n_out >= 1 && n_out <= n_in, "n_mfcc", n_out, "1..n_mels");
    // ref: scipy.fftpack.dct type 2, norm='ortho': sqrt(1/N) for k = 0, sqrt(2/N) otherwise.
    basis_.resize(n_out, n_in);
    for (int k = 0; k < n_out; ++k) {
        const double scale = std::sqrt((k == 0 ? 1.0 : 2.0) / n_in);
        for (int n = 0; n < n_in; ++n) basis_(k, n) = scale * std::cos(std::numbers::pi * k * (2.0 * n + 1.0) / (2.0 * n_in));
    }
    // The kernel's copy: n_in rows of the n_out coefficients, padded with zeros to whole vectors.
    const std::size_t stride = (static_cast<std::size_t>(n_out) + kDctLanes - 1) / kDctLanes * kDctLanes;
    basis_t_.assign(static_cast<std::size_t>(n_in) * stride, 0.0);
    for (int k = 0; k < n_out; ++k)
        for (int n = 0; n < n_in; ++n) basis_t_[static_cast<std::size_t>(n) * stride + static_cast<std::size_t>(k)] = basis_(k, n);
}

Spectrogram Dct::apply(const Spectrogram& X) const {
    Spectrogram out;
    apply(X, out);
    return out;
}

void Dct::apply(const Spectrogram& X, Spectrogram& out) const {
    if (X.rows() != basis_.cols())
        throw Error("dct: input has " + std::to_string(X.rows()) + " rows, expected " + std::to_string(basis_.cols()));
    const auto n_out = static_cast<std::size_t>(basis_.rows());
    const std::size_t nv = (n_out + kDctLanes - 1) / kDctLanes;
    if (nv > kDctMaxVectors) {
        out = (basis_ * X.cast<double>()).cast<float>();
        return;
    }
    if (&out == &X) {  // in place: the kernel reads X while writing out
        Spectrogram tmp;
        apply(X, tmp);
        out = std::move(tmp);
        return;
    }
    if (out.rows() != basis_.rows() || out.cols() != X.cols()) out.resize(basis_.rows(), X.cols());
    simd::mel::dct(basis_t_.data(), static_cast<std::size_t>(X.rows()), X.data(), static_cast<std::size_t>(X.cols()),
                   n_out, out.data());
}

}  // namespace genrekit
