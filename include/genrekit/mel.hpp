// Mel filterbank (Slaney), mel spectrogram, power_to_db and MFCC, with
// librosa 0.7.2's conventions.
//
//   genrekit::MelFilterbank mel({.sample_rate = 22050, .n_fft = 2048, .n_mels = 128});
//   genrekit::Spectrogram M = mel.apply(genrekit::power(X));   // 128 x T
//   genrekit::Spectrogram D = genrekit::power_to_db(M);          // dB, top 80 dB kept
//   genrekit::Dct dct(20, 128);
//   genrekit::Spectrogram C = dct.apply(D);                      // 20 x T MFCC
#pragma once

#include <vector>

#include "genrekit/stft.hpp"

namespace genrekit {

// ref: librosa 0.7.2 core/time_frequency.py hz_to_mel / mel_to_hz (Slaney unless htk).
double hz_to_mel(double hz, bool htk = false);
double mel_to_hz(double mel, bool htk = false);
// ref: librosa 0.7.2 mel_frequencies: n points evenly spaced in mel from fmin to fmax.
std::vector<double> mel_frequencies(int n, double fmin, double fmax, bool htk = false);
// ref: librosa 0.7.2 fft_frequencies: linspace(0, sr/2, 1 + n_fft/2).
std::vector<double> fft_frequencies(int sample_rate, int n_fft);

struct MelParams {
    int sample_rate = 22050;
    int n_fft = 2048;
    int n_mels = 128;
    double fmin = 0.0;
    double fmax = 0.0;      // <= 0 means sample_rate / 2
    bool htk = false;       // HTK mel scale instead of Slaney's
    bool slaney_norm = true; // norm='slaney': scale each filter to unit area
    void validate() const;
    double fmax_or_nyquist() const { return fmax > 0 ? fmax : sample_rate / 2.0; }
};

class MelFilterbank {
public:
    explicit MelFilterbank(const MelParams& params = {});
    const MelParams& params() const { return params_; }
    // The full n_mels x (1 + n_fft/2) matrix, as librosa.filters.mel returns it (float32).
    Eigen::MatrixXf dense() const;
    // Applies the filterbank to a power spectrogram; only each filter's non-zero bins are visited.
    Spectrogram apply(const Spectrogram& power) const;
    // The same into M, resized only when its shape changes.
    void apply(const Spectrogram& power, Spectrogram& M) const;

private:
    struct Band {
        int first_bin = 0;
        std::vector<float> weights;
        std::vector<double> weights64;  // the same, widened for apply's float64 sums
    };
    MelParams params_;
    std::vector<Band> bands_;
};

struct DbParams {
    double ref = 1.0;
    double amin = 1e-10;
    double top_db = 80.0;  // < 0 disables the floor
    void validate() const;
};

// ref: librosa 0.7.2 power_to_db: 10*log10(max(amin, S)) - 10*log10(max(amin, ref)),
// then floored at (max - top_db) over the whole array.
Spectrogram power_to_db(const Spectrogram& S, const DbParams& params = {});
void power_to_db(const Spectrogram& S, Spectrogram& D, const DbParams& params = {});  // into D

// DCT-II with orthonormal scaling, keeping the first n_out coefficients.
// ref: librosa 0.7.2 feature.mfcc -> scipy.fftpack.dct(type=2, norm='ortho').
class Dct {
public:
    Dct(int n_out, int n_in);
    Spectrogram apply(const Spectrogram& X) const;
    void apply(const Spectrogram& X, Spectrogram& out) const;  // into out

private:
    Eigen::MatrixXd basis_;        // n_out x n_in
    std::vector<double> basis_t_;  // the kernel's copy: n_in rows of n_out values, padded to whole vectors
};

}  // namespace genrekit
