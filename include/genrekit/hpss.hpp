// Harmonic/percussive source separation (HPSS) with librosa 0.7.2's
// conventions: median filters of the magnitude spectrogram along time
// (harmonic) and along frequency (percussive), soft masks, and the two
// waveforms that librosa.effects.hpss(y) returns.
//
//   genrekit::Stft stft;                                  // n_fft 2048, hop 512
//   genrekit::ComplexSpectrogram X = stft.forward(y);      // the pipeline's STFT
//   genrekit::Spectrogram mag = genrekit::magnitude(X);
//   genrekit::Hpss hpss;                                   // widths 31, power 2, margin 1
//   const genrekit::HpssWaveforms& w = hpss.waveforms(X, mag, y);
//   // w.harmonic, w.percussive: float32, y.size() samples each, as effects.hpss(y)
//
// An Hpss owns its scratch buffers and an inverse FFT plan: make one per
// thread and reuse it for every file (no allocation once the sizes settle).
#pragma once

#include <memory>
#include <span>
#include <vector>

#include "genrekit/stft.hpp"

namespace genrekit {

struct HpssParams {
    int kernel_harmonic = 31;        // median width along time, in frames (odd)
    int kernel_percussive = 31;      // median width along frequency, in bins (odd)
    float power = 2.0f;              // soft-mask exponent (finite, > 0)
    float margin_harmonic = 1.0f;    // >= 1
    float margin_percussive = 1.0f;  // >= 1
    // The percussive waveform as y - y_harmonic on the samples istft covers, instead of a
    // second inverse STFT. Both are the same linear map of X (the masks sum to 1 and
    // istft(stft(y)) = y), so they differ only by float32 rounding (see the golden test).
    bool percussive_from_residual = true;
    void validate() const;
};

// ref: scipy.ndimage.median_filter(S, size=(1, width), mode='reflect'): each output is the exact
// median of `width` values along a row (time); scipy's 'reflect' repeats the edge sample
// (d c b a | a b c d | d c b a), periodically for windows longer than the row. `out` is resized.
void median_filter_time(const Spectrogram& S, int width, Spectrogram& out);
// ref: scipy.ndimage.median_filter(S, size=(width, 1), mode='reflect'): along each column (frequency).
void median_filter_frequency(const Spectrogram& S, int width, Spectrogram& out);

// ref: librosa 0.7.2 util/utils.py softmask(X, X_ref, power, split_zeros), in float32 as librosa
// computes it for float32 input: Z = max(X, X_ref); where Z < tiny(float32) the mask is 0.5
// (split_zeros) or 0; elsewhere (X/Z)^p / ((X/Z)^p + (X_ref/Z)^p). `mask` is resized.
void softmask(const Spectrogram& X, const Spectrogram& X_ref, float power, bool split_zeros, Spectrogram& mask);

struct HpssSpectrograms {
    ComplexSpectrogram harmonic, percussive;
};

struct HpssWaveforms {
    std::vector<float> harmonic, percussive;  // float32, as librosa's y_harmonic / y_percussive
    // With has_sums, numpy's float32 sums of the two (np.sum, the pairwise_sum of stats.hpp),
    // formed while the samples were written: the same bits as summing the vectors afterwards.
    float harmonic_sum = 0, percussive_sum = 0;
    bool has_sums = false;
};

class Hpss {
public:
    explicit Hpss(const HpssParams& params = {}, const StftParams& stft = {});
    ~Hpss();
    Hpss(Hpss&&) noexcept;
    Hpss& operator=(Hpss&&) noexcept;

    const HpssParams& params() const { return params_; }

    // ref: librosa 0.7.2 decompose.py hpss(S, mask=True): the two soft masks of a magnitude
    // spectrogram (bins x frames). split_zeros is on when both margins are 1, as librosa sets it.
    void masks(const Spectrogram& mag, Spectrogram& mask_harmonic, Spectrogram& mask_percussive);

    // ref: librosa 0.7.2 decompose.py hpss(D): harmonic and percussive complex spectrograms.
    // librosa forms (|D| * mask) * exp(1j*angle(D)); this forms D * mask, which equals it up to
    // one float32 rounding. `mag` must be magnitude(X).
    HpssSpectrograms decompose(const ComplexSpectrogram& X, const Spectrogram& mag);

    // ref: librosa 0.7.2 effects.py hpss(y): X = stft(y) (the caller's, centred, with this
    // object's StftParams), mag = magnitude(X). Each waveform is istft without `length`
    // (hop*(T-1) samples) zero-padded to y.size() by fix_length, so its last
    // y.size() - hop*(T-1) samples are exact zeros, as in librosa. The returned reference is
    // valid until the next call.
    const HpssWaveforms& waveforms(const ComplexSpectrogram& X, const Spectrogram& mag, std::span<const float> y);

private:
    // masks() with the percussive mask optional (null: not computed).
    void masks(const Spectrogram& mag, Spectrogram& mask_harmonic, Spectrogram* mask_percussive);
    // waveforms() with the masks, the overlap-add and the normalisation a few frames at a time
    // (see hpss.cpp).
    void harmonic_fused(const ComplexSpectrogram& X, const Spectrogram& mag, std::span<const float> y);
    struct Scratch;
    HpssParams params_;
    StftParams stft_params_;
    std::unique_ptr<Scratch> scratch_;
};

}  // namespace genrekit
