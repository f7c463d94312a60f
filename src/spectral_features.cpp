#include "genrekit/spectral_features.hpp"

#include <cmath>
#include <limits>
#include <string>

#include "genrekit/error.hpp"
#include "genrekit/mel.hpp"

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

// ref: numpy pairwise_sum (umath loops_utils.h), which np.sum / np.mean use along a contiguous axis.
template <typename T>
T pairwise_sum(const T* a, std::size_t n) {
    if (n < 8) {
        T res = 0;
        for (std::size_t i = 0; i < n; ++i) res += a[i];
        return res;
    }
    if (n <= 128) {
        T r[8];
        for (std::size_t j = 0; j < 8; ++j) r[j] = a[j];
        std::size_t i = 8;
        for (; i < n - (n % 8); i += 8)
            for (std::size_t j = 0; j < 8; ++j) r[j] += a[i + j];
        T res = ((r[0] + r[1]) + (r[2] + r[3])) + ((r[4] + r[5]) + (r[6] + r[7]));
        for (; i < n; ++i) res += a[i];
        return res;
    }
    std::size_t n2 = n / 2;
    n2 -= n2 % 8;
    return pairwise_sum(a, n2) + pairwise_sum(a + n2, n - n2);
}

// The frames of a padded signal, as librosa's util.frame: 1 + (n - frame_length) / hop of them.
std::vector<float> padded_signal(std::span<const float> y, const FrameParams& p, PadMode mode) {
    const auto half = static_cast<std::size_t>(p.frame_length / 2);
    if (p.center) return pad_signal(y, half, half, mode);
    return {y.begin(), y.end()};
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
    std::vector<double> buf(n);
    std::vector<float> snorm(n), unnormed(n);
    const float tiny = std::numeric_limits<float>::min();
    for (Eigen::Index t = 0; t < nt; ++t) {
        const float* s = mag.col(t).data();
        const auto ti = static_cast<std::size_t>(t);
        if (want & (kCentroid | kBandwidth)) {
            // ref: librosa 0.7.2 util.normalize(S, norm=1, axis=0): the L1 norm in float64; below
            // tiny(float32) the frame is left as is; the quotient is stored in S's dtype (float32).
            for (std::size_t k = 0; k < n; ++k) buf[k] = std::abs(static_cast<double>(s[k]));
            double length = pairwise_sum(buf.data(), n);
            if (length < tiny) length = 1.0;
            for (std::size_t k = 0; k < n; ++k) snorm[k] = static_cast<float>(static_cast<double>(s[k]) / length);
            // ref: librosa 0.7.2 spectral_centroid: np.sum(freq * normalize(S, norm=1), axis=0).
            for (std::size_t k = 0; k < n; ++k) buf[k] = freq[k] * static_cast<double>(snorm[k]);
            const double centroid = pairwise_sum(buf.data(), n);
            out.centroid[ti] = centroid;
            if (want & kBandwidth) {
                // ref: librosa 0.7.2 spectral_bandwidth: np.sum(S * |freq - centroid|**p, axis=0)**(1/p),
                // S normalised when norm=True (the float32 quotient above).
                const float* w = params.norm ? snorm.data() : s;
                if (params.p == 2.0) {
                    for (std::size_t k = 0; k < n; ++k) {
                        const double d = std::abs(freq[k] - centroid);
                        buf[k] = static_cast<double>(w[k]) * (d * d);
                    }
                    out.bandwidth[ti] = std::sqrt(pairwise_sum(buf.data(), n));
                } else {
                    for (std::size_t k = 0; k < n; ++k)
                        buf[k] = static_cast<double>(w[k]) * std::pow(std::abs(freq[k] - centroid), params.p);
                    out.bandwidth[ti] = std::pow(pairwise_sum(buf.data(), n), 1.0 / params.p);
                }
            }
        }
        if (want & kRolloff) {
            // ref: librosa 0.7.2 spectral_rolloff: total = np.cumsum(S, axis=0) in float32 (sequential);
            // threshold = roll_percent * total[-1] in float32; the lowest bin with total >= threshold.
            float total = 0.0f;
            for (std::size_t k = 0; k < n; ++k) total += s[k];
            const float threshold = static_cast<float>(params.roll_percent) * total;
            float cum = 0.0f, below = 0.0f;
            std::size_t k = 0;
            for (; k < n; ++k) {
                below = cum;
                cum += s[k];
                if (cum >= threshold) break;
            }
            if (total > 0)
                out.rolloff_margin[ti] = std::min(cum - threshold, k > 0 ? threshold - below : cum) / total;
            // With finite input the last bin always qualifies (cum == total >= threshold).
            out.rolloff[ti] = k < n ? freq[k] : freq[n - 1];
        }
    }
    return out;
}

}  // namespace

std::vector<float> rms(std::span<const float> y, const FrameParams& params) {
    params.validate();
    // ref: librosa 0.7.2 rms: np.pad(y, frame_length // 2, mode='reflect') when centred.
    const std::vector<float> x = padded_signal(y, params, PadMode::Reflect);
    const auto L = static_cast<std::size_t>(params.frame_length);
    const std::size_t T = frame_count(x.size(), L, static_cast<std::size_t>(params.hop));
    std::vector<float> out(T);
    std::vector<float> sq(L);
    for (std::size_t t = 0; t < T; ++t) {
        const float* f = x.data() + t * static_cast<std::size_t>(params.hop);
        for (std::size_t k = 0; k < L; ++k) sq[k] = f[k] * f[k];
        // ref: librosa 0.7.2 rms: np.sqrt(np.mean(np.abs(x)**2, axis=0)), float32 throughout.
        const float power = (0.0f + pairwise_sum(sq.data(), L)) / static_cast<float>(L);
        out[t] = std::sqrt(power);
    }
    return out;
}

std::vector<double> zero_crossing_rate(std::span<const float> y, const ZcrParams& params) {
    params.validate();
    // ref: librosa 0.7.2 zero_crossing_rate: np.pad(y, frame_length // 2, mode='edge') when centred.
    const std::vector<float> x = padded_signal(y, params.frame, PadMode::Edge);
    const auto L = static_cast<std::size_t>(params.frame.frame_length);
    const auto hop = static_cast<std::size_t>(params.frame.hop);
    const std::size_t T = frame_count(x.size(), L, hop);
    // ref: librosa 0.7.2 zero_crossings: y[|y| <= threshold] = 0 (a positive zero), then
    // np.signbit (zero_pos=True); a crossing where consecutive sign bits differ.
    std::vector<unsigned char> neg(x.size());
    for (std::size_t i = 0; i < x.size(); ++i) neg[i] = !(std::abs(x[i]) <= params.threshold) && std::signbit(x[i]);
    std::vector<double> out(T);
    for (std::size_t t = 0; t < T; ++t) {
        const unsigned char* f = neg.data() + t * hop;
        std::size_t crossings = 0;
        for (std::size_t k = 1; k < L; ++k) crossings += f[k] != f[k - 1];
        out[t] = static_cast<double>(crossings) / static_cast<double>(L);
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
