#include "genrekit/features.hpp"

#include <time.h>

#include <cmath>
#include <cstdint>

#include "genrekit/error.hpp"
#include "genrekit/chroma.hpp"
#include "genrekit/hpss.hpp"
#include "genrekit/mel.hpp"
#include "genrekit/rhythm.hpp"
#include "genrekit/spectral_features.hpp"
#include "genrekit/stats.hpp"

namespace genrekit {

void FeatureParams::validate() const {
    require_param(sample_rate > 0, "sample_rate", sample_rate, "> 0");
    require_param(n_mfcc >= 1 && n_mfcc <= n_mels, "n_mfcc", n_mfcc, "1..n_mels");
}

const std::vector<std::string>& gtzan_feature_columns() {
    static const std::vector<std::string> cols = [] {
        std::vector<std::string> c{"length"};
        for (const char* f : {"chroma_stft", "rms", "spectral_centroid", "spectral_bandwidth", "rolloff",
                              "zero_crossing_rate", "harmony", "perceptr"}) {
            c.push_back(std::string(f) + "_mean");
            c.push_back(std::string(f) + "_var");
        }
        c.push_back("tempo");
        for (int k = 1; k <= 20; ++k) {
            c.push_back("mfcc" + std::to_string(k) + "_mean");
            c.push_back("mfcc" + std::to_string(k) + "_var");
        }
        return c;
    }();
    return cols;
}



struct GtzanFeaturizer::Stages {
    explicit Stages(const FeatureParams& p)
        : stft({.n_fft = p.n_fft, .hop = p.hop}),
          mel({.sample_rate = p.sample_rate, .n_fft = p.n_fft, .n_mels = p.n_mels}),
          dct(p.n_mfcc, p.n_mels),
          chroma({.sample_rate = p.sample_rate, .n_fft = p.n_fft}),
          hpss({}, {.n_fft = p.n_fft, .hop = p.hop}),
          tempo({.sample_rate = p.sample_rate, .hop = p.hop}) {}
    Stft stft;
    MelFilterbank mel;
    Dct dct;
    ChromaStft chroma;
    Hpss hpss;
    TempoEstimator tempo;
    // Per-file matrices, kept so that files of the same length reuse their memory.
    ComplexSpectrogram X;
    Spectrogram mag, pow, mel_power, mel_db, mfcc;
    Spectrogram pow_exact;                  // refine_tuning: pow with some frames recomputed exactly
    std::vector<std::uint8_t> exact_frames;
};

GtzanFeaturizer::GtzanFeaturizer(const FeatureParams& params) : params_(params) {
    params_.validate();
    stages_ = std::make_unique<Stages>(params_);
}
GtzanFeaturizer::~GtzanFeaturizer() = default;
GtzanFeaturizer::GtzanFeaturizer(GtzanFeaturizer&&) noexcept = default;
GtzanFeaturizer& GtzanFeaturizer::operator=(GtzanFeaturizer&&) noexcept = default;

namespace {
// Stage times are the calling thread's CPU time: on an idle machine the same as wall time, and
// unlike it, not inflated when other processes share the cores.
struct Clock {
    using time_point = double;
    static double now() {
        timespec ts{};
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
        return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
    }
};
double since(Clock::time_point t) { return Clock::now() - t; }

// Mean and variance of a librosa array, in the array's dtype, as the row stores them.
// ref: numpy/core/_methods.py _mean and _var (ddof 0), as np_mean_var.
template <typename T>
void push_stats(std::vector<double>& row, std::span<const T> values) {
    T mean = 0, var = 0;
    if (!values.empty()) {
        const T n = static_cast<T>(values.size());
        mean = pairwise_sum(values.data(), values.size()) / n;
        var = pairwise_sum_squared_deviations(values.data(), values.size(), mean) / n;
    }
    row.push_back(static_cast<double>(mean));
    row.push_back(static_cast<double>(var));
}
template <typename T>
void push_stats(std::vector<double>& row, const std::vector<T>& values) {
    push_stats(row, std::span<const T>(values));
}
// The HPSS waveforms' statistics (harmony, perceptr): their pairwise sums come with them (see
// HpssWaveforms), and the two sums of squared deviations are formed in one pass over both.
void push_hpss_stats(std::vector<double>& row, const HpssWaveforms& w) {
    if (!w.has_sums || w.harmonic.size() != w.percussive.size()) {
        push_stats(row, w.harmonic);
        push_stats(row, w.percussive);
        return;
    }
    float mean_h = 0, var_h = 0, mean_p = 0, var_p = 0;
    if (!w.harmonic.empty()) {
        const auto n = static_cast<float>(w.harmonic.size());
        mean_h = w.harmonic_sum / n;
        mean_p = w.percussive_sum / n;
        float sq[2];
        pairwise_sum_squared_deviations(w.harmonic.data(), w.percussive.data(), w.harmonic.size(), mean_h, mean_p, sq);
        var_h = sq[0] / n;
        var_p = sq[1] / n;
    }
    row.push_back(static_cast<double>(mean_h));
    row.push_back(static_cast<double>(var_h));
    row.push_back(static_cast<double>(mean_p));
    row.push_back(static_cast<double>(var_p));
}

// numpy reduces a (rows x frames) C-order array row by row; Eigen stores frames contiguously.
std::vector<float> c_order(const Spectrogram& S) {
    std::vector<float> out(static_cast<std::size_t>(S.size()));
    Eigen::Map<Eigen::Matrix<float, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>>(out.data(), S.rows(), S.cols()) = S;
    return out;
}
}  // namespace

// Float32 FFT noise can move a roll-off across a bin boundary where the cumulative sum
// sits within ~1e-6 of the threshold; those few frames are recomputed from exact
// (float64 FFT) magnitudes, as librosa computes them.
void GtzanFeaturizer::refine_rolloff(SpectralShape& shape, std::span<const float> y) {
    constexpr float kAmbiguous = 2e-5f;
    std::vector<std::size_t> frames;
    for (std::size_t t = 0; t < shape.rolloff.size(); ++t)
        if (shape.rolloff_margin[t] < kAmbiguous) frames.push_back(t);
    if (frames.empty()) return;
    const Spectrogram exact = stages_->stft.frame_magnitudes_exact(y, frames);
    const std::vector<double> rolloff = spectral_rolloff(exact, {.sample_rate = params_.sample_rate});
    for (std::size_t f = 0; f < frames.size(); ++f) shape.rolloff[frames[f]] = rolloff[f];
}

// The tuning estimate is an argmax over a histogram of peak frequencies: float32 FFT noise can
// move a peak across a histogram edge or the median threshold, and on a near-tie that moves
// the estimate (and with it every chroma value). check_tuning says which frames could matter;
// those are recomputed from exact (float64 FFT) magnitudes, as librosa computes them, until the
// estimate cannot move.
double GtzanFeaturizer::refine_tuning(const Spectrogram& pow, std::span<const float> y) {
    // Power noise of the float32 STFT relative to the frame's maximum: measured <= 3e-7
    // (|X| within 1.5e-7 of the frame's peak; tests/test_fft_batch.cpp), with a margin.
    constexpr float kPowerNoise = 2e-6f;
    Stages& st = *stages_;
    const TuningParams tp = st.chroma.params().tuning_params();
    TuningCheck check = check_tuning(pow, tp, kPowerNoise);
    if (check.fragile_frames.empty()) return check.tuning;
    st.pow_exact = pow;
    st.exact_frames.assign(static_cast<std::size_t>(pow.cols()), 0);
    for (int round = 0; round < 4 && !check.fragile_frames.empty(); ++round) {
        const std::vector<std::size_t> frames(check.fragile_frames.begin(), check.fragile_frames.end());
        const Spectrogram m = st.stft.frame_magnitudes_exact(y, frames);
        for (std::size_t f = 0; f < frames.size(); ++f) {
            const auto t = static_cast<Eigen::Index>(frames[f]);
            st.pow_exact.col(t) = m.col(static_cast<Eigen::Index>(f)).array().square();
            st.exact_frames[frames[f]] = 1;
        }
        check = check_tuning(st.pow_exact, tp, kPowerNoise, st.exact_frames);
    }
    return check.tuning;
}

std::vector<double> GtzanFeaturizer::compute(std::span<const float> y, StageTimes* times) {
    if (y.empty()) throw Error("cannot featurize an empty signal");
    StageTimes local;
    StageTimes& t = times ? *times : local;
    t = {};
    Stages& st = *stages_;
    std::vector<double> row;
    row.reserve(gtzan_feature_columns().size());
    row.push_back(static_cast<double>(y.size()));

    // One STFT feeds every spectral stage. ref: librosa 0.7.2 _spectrogram: |X| in float32, power |X|**2.
    auto t0 = Clock::now();
    st.stft.forward(y, st.X, &st.mag, &st.pow);
    const ComplexSpectrogram& X = st.X;
    const Spectrogram& mag = st.mag;
    const Spectrogram& pow = st.pow;
    t.stft = since(t0);

    t0 = Clock::now();
    push_stats(row, c_order(st.chroma.apply_with_tuning(pow, refine_tuning(pow, y))));
    t.chroma = since(t0);

    t0 = Clock::now();
    push_stats(row, rms(y));
    SpectralShape shape = spectral_shape(mag);
    refine_rolloff(shape, y);
    push_stats(row, shape.centroid);
    push_stats(row, shape.bandwidth);
    push_stats(row, shape.rolloff);
    push_stats(row, zero_crossing_rate(y));
    t.spectral = since(t0);

    t0 = Clock::now();
    const HpssWaveforms& w = st.hpss.waveforms(X, mag, y);
    push_hpss_stats(row, w);
    t.hpss = since(t0);

    // ref: librosa 0.7.2 feature.mfcc: power_to_db(melspectrogram(power 2)) through a DCT-II;
    // beat_track's onset envelope uses the same mel dB spectrogram.
    t0 = Clock::now();
    st.mel.apply(pow, st.mel_power);
    power_to_db(st.mel_power, st.mel_db);
    st.dct.apply(st.mel_db, st.mfcc);
    const Spectrogram& mel_db = st.mel_db;
    const Spectrogram& mfcc = st.mfcc;
    t.mel_mfcc = since(t0);

    t0 = Clock::now();
    // ref: librosa 0.7.2 beat.beat_track(y, sr)[0]: median-aggregated onset envelope.
    row.push_back(st.tempo.beat_track_tempo(onset_strength(mel_db, {.n_fft = params_.n_fft, .hop = params_.hop})));
    t.tempo = since(t0);

    const std::vector<float> coeffs = c_order(mfcc);
    const auto frames = static_cast<std::size_t>(mfcc.cols());
    for (std::size_t k = 0; k < static_cast<std::size_t>(mfcc.rows()); ++k)
        push_stats(row, std::span<const float>(coeffs.data() + k * frames, frames));
    return row;
}

double estimate_tempo(std::span<const float> y, const FeatureParams& params) {
    params.validate();
    if (y.empty()) throw Error("cannot estimate the tempo of an empty signal");
    Stft stft({.n_fft = params.n_fft, .hop = params.hop});
    const MelFilterbank mel({.sample_rate = params.sample_rate, .n_fft = params.n_fft, .n_mels = params.n_mels});
    const Spectrogram mel_db = power_to_db(mel.apply(power(stft.forward(y))));
    const TempoEstimator tempo({.sample_rate = params.sample_rate, .hop = params.hop});
    return tempo.beat_track_tempo(onset_strength(mel_db, {.n_fft = params.n_fft, .hop = params.hop}));
}

}  // namespace genrekit
