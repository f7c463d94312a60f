// Onset strength and tempo as librosa 0.7.2's beat.beat_track(y, sr) computes
// them, from the dB mel spectrogram the MFCC stage already has.
//
//   genrekit::Spectrogram mel_db = genrekit::power_to_db(mel.apply(genrekit::power(X)));  // 128 x T
//   std::vector<float> env = genrekit::onset_strength(mel_db);    // median over bands, T values
//   genrekit::TempoEstimator tempo;                                // owns window, BPM grid, prior
//   double bpm = tempo.beat_track_tempo(env);                      // 123.046875 for blues.00000
//   std::vector<int> beats = genrekit::track_beats(env, bpm);      // beat frames (beat_track[1])
//
// beat_track aggregates the mel bands with the median; beat.tempo(y=...) would
// use the mean (OnsetAggregate::Mean), which gives a different tempo on about a
// third of GTZAN. A TempoEstimator is immutable after construction: share it.
#pragma once

#include <span>
#include <vector>

#include "genrekit/stft.hpp"

namespace genrekit {

enum class OnsetAggregate { Median, Mean };

struct OnsetParams {
    int lag = 1;          // frames between the compared spectra
    int n_fft = 2048;     // of the STFT behind mel_db: with center, the envelope is delayed
    int hop = 512;        //   by lag + n_fft / (2 hop) frames, as librosa pads it
    bool center = true;
    OnsetAggregate aggregate = OnsetAggregate::Median;  // ref: beat_track passes np.median
    void validate() const;
};

// ref: librosa 0.7.2 onset.py onset_strength(S=mel_db, aggregate=...): the positive
// difference of each band from `lag` frames before, aggregated over bands (float32, as numpy
// does), padded at the front and cut to T frames. Returns T values; all zero for silence.
std::vector<float> onset_strength(const Spectrogram& mel_db, const OnsetParams& params = {});

struct TempoParams {
    int sample_rate = 22050;
    int hop = 512;
    double start_bpm = 120.0;  // centre of the log-normal prior
    double std_bpm = 1.0;      // its width, in octaves
    double ac_size = 8.0;      // autocorrelation window, seconds (344 frames by default)
    double max_tempo = 320.0;  // BPM; faster lags get zero prior (<= 0: no limit)
    void validate() const;
    // ref: core.time_to_frames(ac_size, sr, hop): floor(int(ac_size * sr) / hop).
    int win_length() const;
};

// ref: librosa 0.7.2 core/time_frequency.py tempo_frequencies: bpm[0] = inf,
// bpm[k] = 60 sr / (hop k).
std::vector<double> tempo_frequencies(int n_bins, int hop, int sample_rate);

// ref: librosa 0.7.2 feature/rhythm.py tempogram(onset_envelope, win_length, norm=inf):
// win_length x T, column t the autocorrelation of the Hann-windowed envelope centred on frame
// t (linear-ramp padded), divided by its maximum. Direct O(T win_length^2) sums in double: a
// reference and debugging aid; TempoEstimator computes only what the tempo needs, faster.
Eigen::MatrixXd tempogram(std::span<const float> onset_env, int win_length);

class TempoEstimator {
public:
    explicit TempoEstimator(const TempoParams& params = {});
    const TempoParams& params() const { return params_; }
    // The BPM of each autocorrelation lag (bpms()[0] is infinite).
    const std::vector<double>& bpms() const { return bpms_; }

    // The tempogram's mean over frames (win_length values), as tempo(aggregate=np.mean) uses
    // it: O(T win_length) with sliding Hann-modulated sums in double, within ~1e-12 of
    // tempogram(...).rowwise().mean().
    std::vector<double> mean_tempogram(std::span<const float> onset_env) const;
    // log1p(1e6 * mean tempogram) + log prior, per lag; -inf where the prior excludes the lag.
    // The tempo is the BPM of the first maximum; the gap to the runner-up measures how close a
    // tie is.
    std::vector<double> tempo_scores(std::span<const float> onset_env) const;

    // ref: librosa 0.7.2 beat.py tempo(onset_envelope=...) with aggregate=np.mean.
    double tempo(std::span<const float> onset_env) const;
    // ref: librosa 0.7.2 beat.py beat_track(...)[0]: 0 when the envelope is all zero, else tempo().
    double beat_track_tempo(std::span<const float> onset_env) const;

private:
    TempoParams params_;
    int win_ = 0;
    std::vector<double> window_;    // periodic Hann, win_ points
    std::vector<double> bpms_;
    std::vector<double> logprior_;  // -inf below the max_tempo lag
};

struct BeatParams {
    int sample_rate = 22050;
    int hop = 512;
    double tightness = 100.0;  // how strictly beats follow the tempo
    bool trim = true;          // drop weak leading/trailing beats
    void validate() const;
};

// ref: librosa 0.7.2 beat.py __beat_tracker (Ellis 2007 dynamic programming): beat frame
// indices for a known tempo. Empty when bpm <= 0 or the envelope is all zero.
std::vector<int> track_beats(std::span<const float> onset_env, double bpm, const BeatParams& params = {});

}  // namespace genrekit
