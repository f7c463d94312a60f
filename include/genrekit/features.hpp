// The GTZAN feature row: the 58 numbers of Kaggle's features_30_sec.csv
// (length, then mean and variance of chroma, rms, spectral centroid,
// bandwidth, rolloff, zero-crossing rate, the HPSS waveforms, tempo and 20
// MFCCs), computed exactly as librosa 0.7.2 computes them.
//
//   genrekit::GtzanFeaturizer fz;                       // one per thread
//   std::vector<double> row = fz.compute(audio.samples); // gtzan_feature_columns() order
//
// A featurizer owns its FFT plans and filterbanks: make one per thread and
// reuse it for every file.
#pragma once

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "genrekit/stft.hpp"

namespace genrekit {

struct FeatureParams {
    int sample_rate = 22050;
    int n_fft = 2048;
    int hop = 512;
    int n_mels = 128;
    int n_mfcc = 20;
    void validate() const;
};

// Column names between `filename` and `label`, in Kaggle's order.
const std::vector<std::string>& gtzan_feature_columns();

// Seconds of the calling thread's CPU time spent in each stage by the last compute() call
// (equal to wall time on an idle machine, and robust to other load).
struct StageTimes {
    double stft = 0, mel_mfcc = 0, chroma = 0, spectral = 0, hpss = 0, tempo = 0;
    double total() const { return stft + mel_mfcc + chroma + spectral + hpss + tempo; }
};

// The tempo of a clip (BPM) exactly as the row's `tempo` column computes it (librosa
// beat_track on the median onset envelope); 0 for silence. Makes its own plans: for
// one-off use such as predict with a spectrogram model.
double estimate_tempo(std::span<const float> y, const FeatureParams& params = {});

class GtzanFeaturizer {
public:
    explicit GtzanFeaturizer(const FeatureParams& params = {});
    ~GtzanFeaturizer();
    GtzanFeaturizer(GtzanFeaturizer&&) noexcept;
    GtzanFeaturizer& operator=(GtzanFeaturizer&&) noexcept;

    const FeatureParams& params() const { return params_; }
    // One row in gtzan_feature_columns() order; finite for any non-empty input.
    std::vector<double> compute(std::span<const float> y, StageTimes* times = nullptr);

private:
    void refine_rolloff(struct SpectralShape& shape, std::span<const float> y);
    double refine_tuning(const Spectrogram& pow, std::span<const float> y);
    struct Stages;
    FeatureParams params_;
    std::unique_ptr<Stages> stages_;
};

}  // namespace genrekit
