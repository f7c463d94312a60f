#include "genrekit/rhythm.hpp"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numbers>

#include "dsp/median.hpp"
#include "genrekit/error.hpp"
#include "genrekit/stats.hpp"
#include "simd/rhythm_kernels.hpp"

namespace genrekit {

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();

// ref: scipy.signal.convolve(a, w, mode='same'): the centred len(a) part of the full convolution.
std::vector<double> convolve_same(const std::vector<double>& a, const std::vector<double>& w) {
    const auto n = static_cast<std::ptrdiff_t>(a.size());
    const auto m = static_cast<std::ptrdiff_t>(w.size());
    const std::ptrdiff_t c = (m - 1) / 2;
    std::vector<double> out(a.size(), 0.0);
    for (std::ptrdiff_t i = 0; i < n; ++i) {
        double s = 0.0;
        for (std::ptrdiff_t j = 0; j < m; ++j) {
            const std::ptrdiff_t idx = i + c - j;
            if (idx >= 0 && idx < n) s += a[static_cast<std::size_t>(idx)] * w[static_cast<std::size_t>(j)];
        }
        out[static_cast<std::size_t>(i)] = s;
    }
    return out;
}

// ref: librosa 0.7.2 tempogram(center=True): np.pad(env, win_length // 2, mode='linear_ramp',
// end_values=0) in float32; numpy's ramp is linspace(0, edge, width, endpoint=False) in
// float64, rounded to float32 (reversed on the right).
std::vector<double> pad_linear_ramp(std::span<const float> env, int half) {
    const std::size_t T = env.size();
    const auto h = static_cast<std::size_t>(half);
    std::vector<double> x(T + 2 * h, 0.0);
    if (T == 0) return x;
    const double first = env.front(), last = env.back();
    for (std::size_t i = 0; i < h; ++i) {
        x[i] = static_cast<float>(static_cast<double>(i) * (first / static_cast<double>(h)));
        x[h + T + i] = static_cast<float>(static_cast<double>(h - 1 - i) * (last / static_cast<double>(h)));
    }
    for (std::size_t t = 0; t < T; ++t) x[h + t] = env[t];
    return x;
}

}  // namespace

void OnsetParams::validate() const {
    require_param(lag >= 1, "lag", lag, ">= 1");
    require_param(n_fft >= 1, "n_fft", n_fft, ">= 1");
    require_param(hop >= 1, "hop", hop, ">= 1");
}

std::vector<float> onset_strength(const Spectrogram& S, const OnsetParams& params) {
    params.validate();
    const auto T = static_cast<std::size_t>(S.cols());
    const auto B = static_cast<std::size_t>(S.rows());
    // ref: librosa 0.7.2 onset_strength_multi: pad_width = lag (+ n_fft // (2 hop) when centred).
    std::size_t pad = static_cast<std::size_t>(params.lag);
    if (params.center) pad += static_cast<std::size_t>(params.n_fft / (2 * params.hop));
    const auto lag = static_cast<std::size_t>(params.lag);
    std::vector<float> env(T, 0.f);  // pad_width zeros in front, then cut to T frames
    if (B == 0) return env;
    // Column i of the aggregated difference, i < n, lands at output frame pad + i.
    const std::size_t n = T > std::max(lag, pad) ? T - std::max(lag, pad) : 0;
    std::size_t i = 0;
    if (params.aggregate == OnsetAggregate::Median && B >= 2 && (B & (B - 1)) == 0) {
        // 8 or 16 frames at a time through a sorting network: the same middle values, so the
        // same bits.
        if (n > 0) simd::rhythm::onset_band_medians(S.data(), B, lag, n, env.data() + pad);
        return env;
    }
    std::vector<float> d(B);
    for (; i < n; ++i) {
        const float* cur = S.col(static_cast<Eigen::Index>(i + lag)).data();
        const float* prev = S.col(static_cast<Eigen::Index>(i)).data();
        // ref: np.maximum(0.0, S[:, lag:] - ref[:, :-lag]) in float32.
        for (std::size_t b = 0; b < B; ++b) d[b] = std::max(0.0f, cur[b] - prev[b]);
        float v;
        if (params.aggregate == OnsetAggregate::Mean) {
            // ref: np.mean(axis=0) of a C-ordered float32 array: bands added in order, in float32.
            float s = 0.f;
            for (std::size_t b = 0; b < B; ++b) s += d[b];
            v = s / static_cast<float>(B);
        } else {
            // ref: np.median(axis=0): the middle value, or the float32 mean of the two middle ones.
            // The differences are >= 0 and often 0, so the zeros are counted and only the
            // positive values are partially sorted.
            const std::size_t hi = B / 2;
            const std::size_t lo = B % 2 == 1 ? hi : hi - 1;
            const auto pos_end = std::partition(d.begin(), d.end(), [](float a) { return a == 0.f; });
            const auto zeros = static_cast<std::size_t>(pos_end - d.begin());
            auto order_stat = [&](std::size_t rank) -> float {  // the rank-th smallest value, rank >= zeros
                const auto it = pos_end + static_cast<std::ptrdiff_t>(rank - zeros);
                std::nth_element(pos_end, it, d.end());
                return *it;
            };
            if (zeros > hi) {
                v = 0.f;
            } else {
                const float upper = order_stat(hi);
                float lower = upper;
                if (lo != hi) {
                    if (zeros > lo) lower = 0.f;
                    else lower = *std::max_element(pos_end, pos_end + static_cast<std::ptrdiff_t>(hi - zeros));
                }
                v = lo == hi ? upper : (lower + upper) / 2.0f;
            }
        }
        env[pad + i] = v;
    }
    return env;
}

void TempoParams::validate() const {
    require_param(sample_rate > 0, "sample_rate", sample_rate, "> 0");
    require_param(hop >= 1, "hop", hop, ">= 1");
    require_param(start_bpm > 0, "start_bpm", start_bpm, "> 0");
    require_param(std_bpm > 0, "std_bpm", std_bpm, "> 0");
    require_param(ac_size > 0 && win_length() >= 1 && win_length() <= 100000, "ac_size", ac_size,
                  "a window of 1..100000 frames (ac_size * sample_rate / hop)");
    require_param(std::isfinite(max_tempo), "max_tempo", max_tempo, "finite (<= 0: no limit)");
}

int TempoParams::win_length() const {
    // ref: time_to_samples: (t * sr).astype(int); samples_to_frames: floor(samples // hop).
    const double samples = std::trunc(ac_size * sample_rate);
    if (!(samples >= 0) || samples > 1e12) return 0;
    return static_cast<int>(std::floor(samples / hop));
}

std::vector<double> tempo_frequencies(int n_bins, int hop, int sample_rate) {
    std::vector<double> f(static_cast<std::size_t>(std::max(n_bins, 0)));
    if (n_bins > 0) f[0] = kInf;
    for (int k = 1; k < n_bins; ++k) f[static_cast<std::size_t>(k)] = (60.0 * sample_rate) / (hop * static_cast<double>(k));
    return f;
}

Eigen::MatrixXd tempogram(std::span<const float> onset_env, int win_length) {
    require_param(win_length >= 1, "win_length", win_length, ">= 1");
    const auto N = static_cast<std::size_t>(win_length);
    const std::size_t T = onset_env.size();
    const auto window = hann_window(win_length);
    const auto x = pad_linear_ramp(onset_env, win_length / 2);
    Eigen::MatrixXd tg(win_length, static_cast<Eigen::Index>(T));
    std::vector<double> f(N);
    for (std::size_t t = 0; t < T; ++t) {
        for (std::size_t n = 0; n < N; ++n) f[n] = window[n] * x[t + n];
        double peak = 0.0;
        for (std::size_t k = 0; k < N; ++k) {
            double s = 0.0;
            for (std::size_t n = 0; n + k < N; ++n) s += f[n] * f[n + k];
            tg(static_cast<Eigen::Index>(k), static_cast<Eigen::Index>(t)) = s;
            peak = std::max(peak, std::abs(s));
        }
        // ref: util.normalize(norm=inf, axis=0): columns below tiny(float64) stay as they are.
        if (peak >= std::numeric_limits<double>::min()) tg.col(static_cast<Eigen::Index>(t)) /= peak;
    }
    return tg;
}

TempoEstimator::TempoEstimator(const TempoParams& params) : params_(params) {
    params_.validate();
    win_ = params_.win_length();
    window_ = hann_window(win_);
    bpms_ = tempo_frequencies(win_, params_.hop, params_.sample_rate);
    logprior_.resize(bpms_.size());
    for (std::size_t k = 0; k < bpms_.size(); ++k) {
        // ref: librosa 0.7.2 beat.tempo: log-normal prior, -0.5 ((log2 bpm - log2 start) / std)^2.
        const double z = (std::log2(bpms_[k]) - std::log2(params_.start_bpm)) / params_.std_bpm;
        logprior_[k] = -0.5 * (z * z);
    }
    if (params_.max_tempo > 0) {
        // ref: max_idx = argmax(bpms < max_tempo); logprior[:max_idx] = -inf.
        std::size_t max_idx = 0;
        while (max_idx < bpms_.size() && !(bpms_[max_idx] < params_.max_tempo)) ++max_idx;
        if (max_idx == bpms_.size()) max_idx = 0;  // argmax of an all-False array is 0
        for (std::size_t k = 0; k < max_idx; ++k) logprior_[k] = -kInf;
    }
}

// The mean over frames of the normalised autocorrelations, without forming them.
//
// Frame t is f_t[n] = w[n] x[t+n] (n < N, x the padded envelope, w the periodic Hann window),
// and ac_t[k] = sum_{n < N-k} w[n] w[n+k] p_k[t+n] with p_k[m] = x[m] x[m+k]. With
// theta = 2 pi / N the window product is a short trigonometric sum,
//   w[n] w[n+k] = A0 + A1c cos(theta n) + A1s sin(theta n) + A2c cos(2 theta n) + A2s sin(2 theta n),
// so ac_t[k] follows from five running sums of p_k (plain and modulated by cos/sin of theta m
// and 2 theta m) over the frame's span, taken as differences of prefix sums. The prefix sums
// restart every kBlock frames, so rounding stays relative to the local envelope. Each frame
// is normalised by its energy ac_t[0] = sum (w x)^2, computed directly (the maximum of |ac_t|,
// as librosa normalises; frames whose energy is exactly zero stay zero, as in librosa).
std::vector<double> TempoEstimator::mean_tempogram(std::span<const float> onset_env) const {
    const auto N = static_cast<std::size_t>(win_);
    const std::size_t T = onset_env.size();
    std::vector<double> mean(N, 0.0);
    if (T == 0) return mean;
    std::vector<double> x = pad_linear_ramp(onset_env, win_ / 2);
    x.resize(x.size() + simd::rhythm::kMaxLagGroup, 0.0);  // a lag group reads up to its width - 1 past the last lag's end

    std::vector<double> cosN(N), sinN(N);
    for (std::size_t j = 0; j < N; ++j) {
        const double a = 2.0 * std::numbers::pi * static_cast<double>(j) / static_cast<double>(N);
        cosN[j] = std::cos(a);
        sinN[j] = std::sin(a);
    }
    std::vector<double> g(T), gc1(T), gs1(T), gc2(T), gs2(T);
    // The phase tables by envelope index m, for the prefix sums.
    std::vector<double> cos1(x.size()), sin1(x.size()), cos2(x.size()), sin2(x.size());
    for (std::size_t m = 0; m < x.size(); ++m) {
        cos1[m] = cosN[m % N];
        sin1[m] = sinN[m % N];
        cos2[m] = cosN[(2 * m) % N];
        sin2[m] = sinN[(2 * m) % N];
    }
    simd::rhythm::TempogramInputs in{N,           T,           x.data(),    window_.data(), cosN.data(), sinN.data(),
                       cos1.data(), sin1.data(), cos2.data(), sin2.data(),    g.data(),    gc1.data(),
                       gs1.data(),  gc2.data(),  gs2.data()};
    simd::rhythm::tempogram_energies(in, g.data());
    // Per-frame weights: g = 1 / energy, and g modulated by cos/sin of theta t and 2 theta t.
    for (std::size_t t = 0; t < T; ++t) {
        const double e = g[t];
        const double gt = e >= std::numeric_limits<double>::min() ? 1.0 / e : 0.0;
        const std::size_t i1 = t % N, i2 = (2 * t) % N;
        g[t] = gt;
        gc1[t] = gt * cosN[i1];
        gs1[t] = gt * sinN[i1];
        gc2[t] = gt * cosN[i2];
        gs2[t] = gt * sinN[i2];
    }

    std::vector<double> prefix(5 * (simd::rhythm::kTempoBlock + N + 1) * simd::rhythm::kMaxLagGroup);
    simd::rhythm::tempogram_lag_means(in, prefix.data(), mean.data());
    return mean;
}

std::vector<double> TempoEstimator::tempo_scores(std::span<const float> onset_env) const {
    const auto tg = mean_tempogram(onset_env);
    std::vector<double> score(tg.size());
    // ref: librosa 0.7.2 beat.tempo: log1p(1e6 * tg) + logprior.
    for (std::size_t k = 0; k < tg.size(); ++k) score[k] = std::log1p(1e6 * tg[k]) + logprior_[k];
    return score;
}

double TempoEstimator::tempo(std::span<const float> onset_env) const {
    const auto score = tempo_scores(onset_env);
    // ref: np.argmax: the first maximum, or the first NaN if there is one.
    std::size_t best = 0;
    for (std::size_t k = 0; k < score.size(); ++k) {
        if (std::isnan(score[k])) {
            best = k;
            break;
        }
        if (score[k] > score[best]) best = k;
    }
    return bpms_[best];
}

double TempoEstimator::beat_track_tempo(std::span<const float> onset_env) const {
    // ref: librosa 0.7.2 beat_track: `if not onset_envelope.any(): return (0, [])`.
    if (std::none_of(onset_env.begin(), onset_env.end(), [](float v) { return v != 0.f; })) return 0.0;
    return tempo(onset_env);
}

void BeatParams::validate() const {
    require_param(sample_rate > 0, "sample_rate", sample_rate, "> 0");
    require_param(hop >= 1, "hop", hop, ">= 1");
    require_param(tightness > 0, "tightness", tightness, "> 0");
}

std::vector<int> track_beats(std::span<const float> onset_env, double bpm, const BeatParams& params) {
    params.validate();
    const std::size_t T = onset_env.size();
    if (!(bpm > 0) || T == 0 || std::none_of(onset_env.begin(), onset_env.end(), [](float v) { return v != 0.f; }))
        return {};
    const double fft_res = static_cast<double>(params.sample_rate) / params.hop;
    // ref: Python round(): half to even.
    const auto period = static_cast<long>(std::nearbyint(60.0 * fft_res / bpm));
    if (period < 1) return {};

    // ref: __normalize_onsets: divide by the float32 standard deviation (ddof 1) when positive.
    std::vector<double> normed(T);
    {
        const float mean = pairwise_sum(onset_env.data(), T) / static_cast<float>(T);
        const float ss = pairwise_sum_squared_deviations(onset_env.data(), T, mean);
        const float var = T > 1 ? static_cast<float>(static_cast<double>(ss) / static_cast<double>(T - 1))
                                : std::numeric_limits<float>::quiet_NaN();
        const float sd = std::sqrt(var);
        for (std::size_t i = 0; i < T; ++i) normed[i] = sd > 0 ? onset_env[i] / sd : onset_env[i];
    }
    // ref: __beat_local_score: convolve with a Gaussian of +-period frames, 'same'.
    std::vector<double> win(static_cast<std::size_t>(2 * period + 1));
    for (long i = -period; i <= period; ++i) {
        const double z = static_cast<double>(i) * 32.0 / static_cast<double>(period);
        win[static_cast<std::size_t>(i + period)] = std::exp(-0.5 * (z * z));
    }
    const auto localscore = convolve_same(normed, win);

    // ref: __beat_track_dp.
    const long w_first = -2 * period;
    const long w_last = -static_cast<long>(std::nearbyint(static_cast<double>(period) / 2.0));
    const std::size_t n_win = static_cast<std::size_t>(w_last - w_first + 1);
    std::vector<double> txwt(n_win);
    for (std::size_t j = 0; j < n_win; ++j) {
        const double lg = std::log(-static_cast<double>(w_first + static_cast<long>(j)) / static_cast<double>(period));
        txwt[j] = -params.tightness * (lg * lg);
    }
    const double score_max = *std::max_element(localscore.begin(), localscore.end());
    std::vector<double> cumscore(T, 0.0);
    std::vector<long> backlink(T, 0);
    bool first_beat = true;
    for (std::size_t i = 0; i < T; ++i) {
        const long w0 = w_first + static_cast<long>(i);  // window[0] for this step
        const auto z_pad = static_cast<std::size_t>(std::max<long>(0, std::min<long>(-w0, static_cast<long>(n_win))));
        std::size_t loc = 0;
        double best = -kInf;
        for (std::size_t j = 0; j < n_win; ++j) {
            const double c = j < z_pad ? txwt[j] : txwt[j] + cumscore[static_cast<std::size_t>(w0 + static_cast<long>(j))];
            if (j == 0 || c > best) {
                best = c;
                loc = j;
            }
        }
        cumscore[i] = localscore[i] + best;
        if (first_beat && localscore[i] < 0.01 * score_max) {
            backlink[i] = -1;
        } else {
            backlink[i] = w0 + static_cast<long>(loc);
            first_beat = false;
        }
    }

    // ref: __last_beat: the last local maximum of cumscore above half the median local maximum.
    std::vector<char> is_max(T);
    std::vector<double> maxima;
    for (std::size_t i = 0; i < T; ++i) {
        const double prev = cumscore[i == 0 ? 0 : i - 1];
        const double next = cumscore[i + 1 == T ? i : i + 1];
        is_max[i] = cumscore[i] > prev && cumscore[i] >= next;
        if (is_max[i]) maxima.push_back(cumscore[i]);
    }
    long last = -1;
    if (!maxima.empty()) {
        const double med = median(maxima);
        for (std::size_t i = 0; i < T; ++i)
            if ((cumscore[i] * (is_max[i] ? 1.0 : 0.0)) * 2.0 > med) last = static_cast<long>(i);
    }
    if (last < 0) last = static_cast<long>(std::max_element(cumscore.begin(), cumscore.end()) - cumscore.begin());

    std::vector<int> beats{static_cast<int>(last)};
    while (backlink[static_cast<std::size_t>(beats.back())] >= 0) beats.push_back(static_cast<int>(backlink[static_cast<std::size_t>(beats.back())]));
    std::reverse(beats.begin(), beats.end());

    // ref: __trim_beats: smooth the beats' local scores with hann(5) = [0, .5, 1, .5, 0] and
    // keep beats[first valid : last valid] (the last valid one excluded, as the slice does).
    std::vector<double> at_beats(beats.size());
    for (std::size_t i = 0; i < beats.size(); ++i) at_beats[i] = localscore[static_cast<std::size_t>(beats[i])];
    const auto smooth = convolve_same(at_beats, {0.0, 0.5, 1.0, 0.5, 0.0});
    double threshold = 0.0;
    if (params.trim) {
        double ms = 0.0;
        for (double v : smooth) ms += v * v;
        threshold = 0.5 * std::sqrt(ms / static_cast<double>(smooth.size()));
    }
    long first_valid = -1, last_valid = -1;
    for (std::size_t i = 0; i < smooth.size(); ++i)
        if (smooth[i] > threshold) {
            if (first_valid < 0) first_valid = static_cast<long>(i);
            last_valid = static_cast<long>(i);
        }
    if (first_valid < 0) return {};
    return {beats.begin() + first_valid, beats.begin() + last_valid};
}

}  // namespace genrekit
