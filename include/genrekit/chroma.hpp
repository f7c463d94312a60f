// Chroma from a power spectrogram, with librosa 0.7.2's tuning estimate
// (piptrack -> pitch_tuning) run first, as feature.chroma_stft(y, sr) does.
//
//   genrekit::Stft stft;
//   genrekit::Spectrogram P = genrekit::power(stft.forward(y));   // 1025 x T, |X|^2
//   genrekit::ChromaStft chroma;                                    // default params = librosa's
//   double tuning = 0;
//   genrekit::Spectrogram C = chroma.apply(P, &tuning);             // 12 x T, each frame max 1
//   // tuning == -0.18 for blues.00000: a multiple of 0.01, in [-0.5, 0.5)
//
// A ChromaStft owns its filterbanks: one per tuning value met so far, made
// once and reused for every later file with that tuning (100 values at most
// with the default resolution: -0.50, -0.49, ..., 0.49). The cache makes it
// stateful: like Stft, make one per thread.
#pragma once

#include <cstdint>
#include <map>
#include <span>
#include <vector>

#include "genrekit/stft.hpp"

namespace genrekit {

// Pitch tracking and tuning parameters.
// ref: librosa 0.7.2 core/pitch.py estimate_tuning / piptrack / pitch_tuning defaults.
struct TuningParams {
    int sample_rate = 22050;
    double fmin = 150.0;        // Hz; bins with fmin <= f < fmax are searched for peaks
    double fmax = 4000.0;       // Hz (clipped to sample_rate / 2)
    double threshold = 0.1;     // a peak must exceed threshold * (the frame's maximum)
    double resolution = 0.01;   // histogram step, as a fraction of a bin (0.01 = cents)
    int bins_per_octave = 12;
    void validate() const;
};

// One spectral peak found by piptrack: its bin, frame, interpolated frequency and magnitude,
// stored as float32 exactly as librosa's `pitches` and `magnitudes` arrays hold them.
struct PitchPeak {
    int bin = 0;
    int frame = 0;
    float frequency = 0.f;
    float magnitude = 0.f;
};

// ref: librosa 0.7.2 core/pitch.py piptrack(S=...). S is the spectrogram given to it
// (chroma_stft passes the power spectrogram), n_fft = 2 * (rows - 1). Returns the non-zero
// entries of librosa's (pitches, magnitudes) in frame-major order.
std::vector<PitchPeak> piptrack(const Spectrogram& S, const TuningParams& params = {});

// ref: librosa 0.7.2 core/pitch.py pitch_tuning: histogram of the frequencies' deviation
// from the equal-tempered grid (A440); returns the left edge of the fullest bin, or 0 when
// no frequency is positive.
double pitch_tuning(std::span<const float> frequencies, double resolution = 0.01, int bins_per_octave = 12);

// The histogram behind pitch_tuning (non-positive frequencies dropped): bin j counts the
// deviations in [edges[j], edges[j+1]), the last bin closed. best() is the first fullest bin;
// lead() its count minus the runner-up's, i.e. how far the estimate is from a tie.
struct TuningHistogram {
    std::vector<double> edges;  // counts.size() + 1 values, -0.5 .. 0.5
    std::vector<long> counts;
    std::size_t best() const;
    long lead() const;
    // The estimate pitch_tuning returns: the left edge of the first fullest bin, 0 when empty.
    double estimate() const;
    // The bin a deviation falls in, or -1 outside [-0.5, 0.5].
    int bin_of(float residual) const;
    long total() const;
};
TuningHistogram tuning_histogram(std::span<const float> frequencies, double resolution = 0.01, int bins_per_octave = 12);

// The frequencies estimate_tuning hands to pitch_tuning: piptrack's peaks whose magnitude is
// at least the median peak magnitude.
std::vector<float> tuning_frequencies(const Spectrogram& S, const TuningParams& params = {});

// ref: librosa 0.7.2 core/pitch.py estimate_tuning(S=...): piptrack, keep the peaks whose
// magnitude is at least the median peak magnitude, then pitch_tuning. Every frame counts,
// the padded edge frames included.
double estimate_tuning(const Spectrogram& S, const TuningParams& params = {});

// ref: pitch_tuning's deviation of a frequency from the grid, in [-0.5, 0.5) bins (float32).
float tuning_residual(float frequency, int bins_per_octave = 12);

// estimate_tuning, plus the frames whose float32 FFT noise could change its result.
// The histogram's argmax is a discrete decision: when S carries noise of up to
// noise * (the frame's maximum) in every value (a float32 FFT: ~3e-7), peaks near a
// histogram edge, near the median threshold, or near piptrack's own comparisons could move.
// fragile_frames is empty when no such movement can change the estimate; otherwise it lists
// the frames to recompute exactly (float64 FFT, as librosa does) before calling again with
// them marked in exact_frames (noise 0 there).
struct TuningCheck {
    double tuning = 0;
    std::vector<int> fragile_frames;
};
TuningCheck check_tuning(const Spectrogram& S, const TuningParams& params, float noise,
                         std::span<const std::uint8_t> exact_frames = {});

struct ChromaParams {
    int sample_rate = 22050;
    int n_fft = 2048;
    int n_chroma = 12;
    double ctroct = 5.0;      // centre of the octave weighting, in octaves above A0 = 27.5 Hz (5 -> 880 Hz)
    double octwidth = 2.0;    // Gaussian octave weighting width in octaves; <= 0 disables it
    bool base_c = true;       // rows start at C (else at A)
    // Tuning estimate (ref: chroma_stft calls estimate_tuning with bins_per_octave = n_chroma).
    double tuning_fmin = 150.0;
    double tuning_fmax = 4000.0;
    double tuning_threshold = 0.1;
    double tuning_resolution = 0.01;
    void validate() const;
    TuningParams tuning_params() const;
};

// ref: librosa 0.7.2 filters.py chroma(sr, n_fft, n_chroma, tuning, ctroct, octwidth, norm=2,
// base_c): n_chroma x (1 + n_fft/2), computed in float64 and stored as float32.
Eigen::MatrixXf chroma_filterbank(const ChromaParams& params, double tuning);

class ChromaStft {
public:
    explicit ChromaStft(const ChromaParams& params = {});
    const ChromaParams& params() const { return params_; }

    // ref: librosa 0.7.2 feature/spectral.py chroma_stft(S=power, tuning=None, norm=inf):
    // estimates the tuning from `power`, then filterbank x power, each frame divided by its
    // maximum (frames whose maximum is below float32's tiny are left as they are, so silence
    // gives zeros). If `tuning_out` is given, the tuning used is stored there.
    Spectrogram apply(const Spectrogram& power, double* tuning_out = nullptr);
    // The same with a known tuning (fraction of a chroma bin), skipping the estimate.
    Spectrogram apply_with_tuning(const Spectrogram& power, double tuning);

    // The filterbank for a tuning, made on first use and cached.
    const Eigen::MatrixXf& filterbank(double tuning);

private:
    ChromaParams params_;
    std::map<double, Eigen::MatrixXf> filterbanks_;
};

}  // namespace genrekit
