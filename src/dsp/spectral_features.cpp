#include "genrekit/spectral_features.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include "genrekit/error.hpp"
#include "genrekit/mel.hpp"
#include "genrekit/stats.hpp"
#include "simd/pairwise.hpp"
#include "simd/pairwise_kernels.hpp"
#include "simd/spectral_kernels.hpp"

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

namespace sk = simd::spectral;
// numpy's pairwise sum of a power-of-two length L >= kLeaf is a balanced tree over leaves of
// kLeaf terms at multiples of kLeaf. When the hop is a multiple of kLeaf too, frames that
// overlap share their leaves: each is summed once (rms).
using simd::pairwise::kLeaf;

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
            double length = sk::abs_sum(s, n);
            if (length < tiny) length = 1.0;
            float* sn = snorm.data();
            sk::normalize_f32(s, length, sn, n);
            // ref: librosa 0.7.2 spectral_centroid: np.sum(freq * normalize(S, norm=1), axis=0).
            const double centroid = sk::weighted_sum(fq, sn, n);
            out.centroid[ti] = centroid;
            if (!(want & kBandwidth)) continue;
            // ref: librosa 0.7.2 spectral_bandwidth: np.sum(S * |freq - centroid|**p, axis=0)**(1/p),
            // S normalised when norm=True (the float32 quotient above).
            const float* w = params.norm ? sn : s;
            if (params.p == 2.0)
                out.bandwidth[ti] = std::sqrt(sk::squared_deviation_sum(fq, w, centroid, n));
            else
                out.bandwidth[ti] = std::pow(sk::power_deviation_sum(fq, w, centroid, params.p, n), 1.0 / params.p);
        }
    }
    if (want & kRolloff) {
        constexpr int G = 8;
        const float pct = static_cast<float>(params.roll_percent);
        std::vector<float> run(8 * n);
        for (Eigen::Index t0 = 0; t0 < nt; t0 += G) {
            const int lanes = static_cast<int>(std::min<Eigen::Index>(G, nt - t0));
            const float* col[G];
            for (int l = 0; l < G; ++l) col[l] = mag.col(t0 + std::min(l, lanes - 1)).data();
            sk::RolloffLanes g;
            sk::rolloff_lanes(col, n, pct, run.data(), g);
            for (int l = 0; l < lanes; ++l) {
                const auto ti = static_cast<std::size_t>(t0 + l);
                const auto k = static_cast<std::size_t>(g.at[l]);
                if (g.total[l] > 0)
                    out.rolloff_margin[ti] =
                        std::min(g.cum[l] - g.threshold[l], k > 0 ? g.threshold[l] - g.below[l] : g.cum[l]) / g.total[l];
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
    const auto hop = static_cast<std::size_t>(params.hop);
    const auto half = params.center ? static_cast<std::ptrdiff_t>(params.frame_length / 2) : 0;
    const auto n = static_cast<std::ptrdiff_t>(y.size());
    const std::size_t N = y.size() + 2 * static_cast<std::size_t>(half);
    const std::size_t T = frame_count(N, L, hop);
    std::vector<float> out(T);
    if (T == 0) return out;
    // The padded signal's value at i.
    auto padded = [&](std::size_t i) {
        return n == 0 ? 0.0f : y[padded_source(static_cast<std::ptrdiff_t>(i), half, n, PadMode::Reflect)];
    };
    // ref: librosa 0.7.2 rms: np.sqrt(np.mean(np.abs(x)**2, axis=0)), float32 throughout.
    auto store = [&](std::size_t t, float sum) { out[t] = std::sqrt((0.0f + sum) / static_cast<float>(L)); };
    if (L >= kLeaf && (L & (L - 1)) == 0 && hop % kLeaf == 0) {
        // Shared leaves (the default 2048 / 512): the padded signal's leaves are summed once.
        const std::size_t blocks = ((T - 1) * hop + L) / kLeaf;
        std::vector<float>& leaf = scratch<float>(blocks);
        const auto h = static_cast<std::size_t>(half), len = y.size();
        // Blocks wholly inside the unpadded middle are read in place; the rest are copied.
        const std::size_t first = std::min(blocks, (h + kLeaf - 1) / kLeaf);
        const std::size_t last = std::max(first, std::min(blocks, (h + len) / kLeaf));
        if (last > first) simd::pairwise::square_leaves(y.data() + (first * kLeaf - h), last - first, leaf.data() + first);
        float copy[kLeaf];
        for (std::size_t b = 0; b < blocks; ++b) {
            if (b == first && last > first) b = last;
            if (b >= blocks) break;
            for (std::size_t i = 0; i < kLeaf; ++i) copy[i] = padded(kLeaf * b + i);
            simd::pairwise::square_leaves(copy, 1, &leaf[b]);
        }
        for (std::size_t t = 0; t < T; ++t) {
            const float* frame_leaves = leaf.data() + t * hop / kLeaf;
            store(t, simd::pairwise::sum_of_leaves(L, frame_leaves));
        }
        return out;
    }
    // Each sample lies in frame_length / hop frames: square the padded signal once.
    std::vector<float>& sq = scratch<float>(N);
    for (std::size_t i = 0; i < N; ++i) {
        const float v = padded(i);
        sq[i] = v * v;
    }
    for (std::size_t t = 0; t < T; ++t) store(t, pairwise_sum(sq.data() + t * hop, L));
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
    // A frame starting at s counts the crossings at s+1 .. s+L-1 (the first sample of a frame is
    // never a crossing). Counted without a running count, so the loops vectorise; the counts are
    // integers, so any grouping gives the same rate. Inside the unpadded middle the samples are
    // read in place; the padded edges one by one.
    const float thr = params.threshold;
    const auto h = static_cast<std::size_t>(half), len = y.size();
    auto neg_at = [&](std::size_t i) {
        const float v = n == 0 ? 0.0f : y[padded_source(static_cast<std::ptrdiff_t>(i), half, n, PadMode::Edge)];
        return sk::is_negative(v, thr);
    };
    auto crossings = [&](std::size_t from, std::size_t to) -> std::uint32_t {  // at from .. to-1, from >= 1
        if (to <= from) return 0;
        if (from - 1 >= h && to <= h + len) return sk::sign_changes(y.data() + (from - 1 - h), to - from + 1, thr);
        std::uint32_t count = 0;
        for (std::size_t i = from; i < to; ++i) count += neg_at(i) != neg_at(i - 1) ? 1u : 0u;
        return count;
    };
    if (L % hop == 0) {
        // Frame t is blocks t .. t+L/hop-1 of the crossings at (b hop, (b+1) hop], less the one
        // at t hop + L: each crossing is looked at once per block, not once per frame.
        const std::size_t blocks = (T - 1) + L / hop;
        std::vector<std::uint32_t>& per_block = scratch<std::uint32_t>(blocks);
        for (std::size_t b = 0; b < blocks; ++b) per_block[b] = crossings(b * hop + 1, std::min(N, (b + 1) * hop + 1));
        for (std::size_t t = 0; t < T; ++t) {
            std::uint32_t count = 0;
            for (std::size_t b = t; b < t + L / hop; ++b) count += per_block[b];
            const std::size_t end = t * hop + L;
            if (end < N) count -= crossings(end, end + 1);
            out[t] = static_cast<double>(count) / static_cast<double>(L);
        }
        return out;
    }
    for (std::size_t t = 0; t < T; ++t)
        out[t] = static_cast<double>(crossings(t * hop + 1, t * hop + L)) / static_cast<double>(L);
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
