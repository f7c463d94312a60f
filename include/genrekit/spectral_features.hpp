// Frame-wise spectral features with librosa 0.7.2's conventions: RMS and zero-crossing rate
// from the time signal, spectral centroid, bandwidth and roll-off from a magnitude spectrogram.
//
//   std::vector<float>  r = genrekit::rms(y);                  // float32, T = 1 + len/512 frames
//   std::vector<double> z = genrekit::zero_crossing_rate(y);   // float64
//   genrekit::Spectrogram mag = genrekit::magnitude(stft.forward(y));
//   genrekit::SpectralShape s = genrekit::spectral_shape(mag); // centroid, bandwidth, rolloff (float64)
//
// Each vector holds the values of librosa's 1 x T array in its dtype (noted per function), so
// np.mean / np.var of librosa's array are the mean / variance of these values computed in that
// dtype (numpy sums float32 arrays in float32 with pairwise summation).
#pragma once

#include <span>
#include <vector>

#include "genrekit/stft.hpp"

namespace genrekit {

struct FrameParams {
    int frame_length = 2048;
    int hop = 512;
    bool center = true;  // pad frame_length/2 on both sides (rms: reflect; zcr: edge)
    void validate() const;
};

// ref: librosa 0.7.2 feature/spectral.py rms(y=y): y reflect-padded by frame_length/2, framed,
// sqrt(mean(x^2)) per frame, all in float32 (numpy's pairwise float32 sum). Returns float32.
std::vector<float> rms(std::span<const float> y, const FrameParams& params = {});

struct ZcrParams {
    FrameParams frame;         // centred frames are edge-padded, as librosa does for zcr
    float threshold = 1e-10f;  // |y| <= threshold counts as zero (ref: core/audio.py zero_crossings)
    void validate() const;
};

// ref: librosa 0.7.2 feature/spectral.py zero_crossing_rate + core/audio.py zero_crossings
// (zero_pos=True: zero counts as positive; pad=False: the first sample of a frame is never a
// crossing). The rate is crossings / frame_length, exact in float64. Returns float64.
std::vector<double> zero_crossing_rate(std::span<const float> y, const ZcrParams& params = {});

struct SpectralParams {
    int sample_rate = 22050;     // bin k is at k * sample_rate / n_fft Hz, n_fft = 2 * (bins - 1)
    double roll_percent = 0.85;  // spectral_rolloff: fraction of the energy below the roll-off, in (0, 1)
    double p = 2.0;              // spectral_bandwidth: order of the deviation, > 0
    bool norm = true;            // spectral_bandwidth: normalise each frame to unit sum first
    void validate() const;
};

struct SpectralShape {
    std::vector<double> centroid, bandwidth, rolloff;  // float64, one value per frame, in Hz
    // Per frame: how near the roll-off decision came to another bin, as |cumsum - threshold|
    // relative to the frame's total at the nearest bin. Float32 FFT noise (~1e-6 relative)
    // can flip frames whose margin is below ~1e-5; callers may recompute those from exact
    // magnitudes (Stft::frame_magnitude_exact).
    std::vector<float> rolloff_margin;
};

// ref: librosa 0.7.2 feature/spectral.py spectral_centroid(S=mag): sum_k freq[k] * S[k,t] / sum_j S[j,t],
// where the normalised S is rounded to float32 as librosa's util.normalize stores it; frames whose
// sum is below tiny(float32) give 0. Returns float64.
std::vector<double> spectral_centroid(const Spectrogram& mag, const SpectralParams& params = {});
// ref: librosa 0.7.2 feature/spectral.py spectral_bandwidth(S=mag, p=2, norm=True):
// (sum_k S_norm[k,t] * |freq[k] - centroid[t]|^p)^(1/p). Returns float64.
std::vector<double> spectral_bandwidth(const Spectrogram& mag, const SpectralParams& params = {});
// ref: librosa 0.7.2 feature/spectral.py spectral_rolloff(S=mag, roll_percent=0.85): the frequency of
// the first bin whose float32 cumulative sum reaches roll_percent (as float32) of the frame's total.
// Returns float64.
std::vector<double> spectral_rolloff(const Spectrogram& mag, const SpectralParams& params = {});
// All three in one pass over the spectrogram.
SpectralShape spectral_shape(const Spectrogram& mag, const SpectralParams& params = {});

}  // namespace genrekit
