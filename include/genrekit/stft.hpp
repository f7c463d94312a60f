// Short-time Fourier transform with librosa 0.7.2's conventions: periodic Hann
// window, frames centred by reflect padding of n_fft/2 on both sides,
// T = 1 + len(y) / hop frames. The forward transform runs 8 frames at a time
// through a vectorised radix-2 FFT for power-of-two n_fft (on every CPU), and
// through KissFFT's real FFT otherwise (the two agree to ~1e-7 of the frame's
// peak, float32 rounding); the inverse uses KissFFT.
//
//   genrekit::Stft stft({.n_fft = 2048, .hop = 512});
//   genrekit::ComplexSpectrogram X = stft.forward(y);    // 1025 x T
//   genrekit::Spectrogram mag = genrekit::magnitude(X);
//   std::vector<float> y2 = stft.inverse(X, y.size());   // ~ y
//
//   genrekit::Spectrogram mag, pow;                      // in a loop over files: no allocation
//   stft.forward(y, X, &mag, &pow);                      // once the shapes settle
//
// An Stft owns its FFT plans and scratch buffers: make one per parameter set
// and per thread, and reuse it for every file.
#pragma once

#include <Eigen/Core>
#include <cstddef>
#include <memory>
#include <span>
#include <vector>

namespace genrekit {

// Rows are frequency bins (or bands, coefficients), columns are frames; each
// frame is contiguous in memory (Eigen's column-major order).
using Spectrogram = Eigen::MatrixXf;
using ComplexSpectrogram = Eigen::MatrixXcf;

struct StftParams {
    int n_fft = 2048;    // FFT size = window length
    int hop = 512;       // samples between frames
    bool center = true;  // reflect-pad n_fft/2 on both sides so frame t is centred at t*hop
    void validate() const;
};

enum class PadMode { Reflect, Edge, Constant };

// ref: numpy.pad modes 'reflect' (mirror without repeating the edge), 'edge', 'constant' (zeros).
std::vector<float> pad_signal(std::span<const float> y, std::size_t left, std::size_t right, PadMode mode);

// Number of frames of length `frame` every `hop` samples in n samples (0 when n < frame).
std::size_t frame_count(std::size_t n, std::size_t frame, std::size_t hop);

// ref: scipy.signal.get_window('hann', n, fftbins=True): the periodic Hann window.
std::vector<double> hann_window(int n);

class Stft {
public:
    explicit Stft(const StftParams& params = {});
    ~Stft();
    Stft(Stft&&) noexcept;
    Stft& operator=(Stft&&) noexcept;

    const StftParams& params() const { return params_; }
    int n_bins() const { return params_.n_fft / 2 + 1; }
    std::size_t n_frames(std::size_t n_samples) const;

    // ref: librosa 0.7.2 core/spectrum.py stft(pad_mode='reflect').
    ComplexSpectrogram forward(std::span<const float> y);
    // The same into X, which is resized only when its shape changes. When given, mag and pow
    // receive magnitude(X) and power(X) (the same bits), computed while each frame is in cache
    // (pow needs mag).
    void forward(std::span<const float> y, ComplexSpectrogram& X, Spectrogram* mag = nullptr,
                 Spectrogram* pow = nullptr);
    // Only power(forward(y)), into pow (resized when its shape changes), without keeping X.
    void power_spectrogram(std::span<const float> y, Spectrogram& pow);
    // ref: librosa 0.7.2 core/spectrum.py istft(length=...): window-sum-square normalised overlap-add.
    std::vector<float> inverse(const ComplexSpectrogram& X, std::size_t length);
    // ref: librosa 0.7.2 core/spectrum.py istft(length=None): all T frames are overlap-added and,
    // when centred, n_fft/2 samples are trimmed at both ends, giving hop*(T-1) samples (not
    // centred: n_fft + hop*(T-1)). effects.hpss calls istft this way and then zero-pads with
    // fix_length, so the last len(y) - hop*(T-1) samples of its waveforms are exact zeros.
    std::vector<float> inverse_no_length(const ComplexSpectrogram& X);

    // The magnitude column of frame t computed as librosa does it (float64 FFT rounded to
    // complex64, then abs), for the rare decisions that float32 FFT noise could flip (a
    // roll-off bin on a tie). A double FFT (its plan and window are kept).
    std::vector<float> frame_magnitude_exact(std::span<const float> y, std::size_t t);
    // The same for several frames, column f for frames[f]: for power-of-two n_fft, 4 or 8
    // frames share each vector operation of the FFT (the same bits as one frame at a time).
    Spectrogram frame_magnitudes_exact(std::span<const float> y, std::span<const std::size_t> frames);

private:
    // forward() with every output optional.
    void transform(std::span<const float> y, ComplexSpectrogram* X, Spectrogram* mag, Spectrogram* pow);
    // Overlap-adds the first n_frames frames, normalised by the window sum-square; returns the
    // n_fft + hop*(n_frames-1) samples of the (padded) signal.
    std::vector<float> overlap_add(const ComplexSpectrogram& X, std::size_t n_frames);
    struct Plans;
    StftParams params_;
    std::vector<float> window_;
    std::unique_ptr<Plans> plans_;
};

// ref: librosa 0.7.2 _spectrogram: np.abs(stft) (float32), and np.abs(stft)**2.
Spectrogram magnitude(const ComplexSpectrogram& X);
Spectrogram power(const ComplexSpectrogram& X);
// The same into existing matrices (resized only when the shape changes); pow may be null.
void magnitude(const ComplexSpectrogram& X, Spectrogram& mag, Spectrogram* pow = nullptr);

}  // namespace genrekit
