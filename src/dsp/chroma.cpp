#include "genrekit/chroma.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#include "dsp/py_mod.hpp"
#include "genrekit/error.hpp"
#include "simd/chroma_kernels.hpp"

namespace genrekit {

namespace {

// C = W S (simd/chroma_kernels: a few rows at a time; Eigen's product beyond that).
void project_frames(const Eigen::MatrixXf& W, const Spectrogram& S, Spectrogram& C) {
    const auto rows = static_cast<std::size_t>(W.rows()), nb = static_cast<std::size_t>(W.cols());
    if (rows > simd::chroma::kProjectMaxRows) {
        C.noalias() = W * S;
        return;
    }
    const std::size_t stride = (nb + 7) / 8 * 8;
    std::vector<float> Wr(rows * stride, 0.f);
    for (std::size_t r = 0; r < rows; ++r)
        for (std::size_t b = 0; b < nb; ++b) Wr[r * stride + b] = W(static_cast<Eigen::Index>(r), static_cast<Eigen::Index>(b));
    simd::chroma::project(Wr.data(), rows, stride, S.data(), nb, static_cast<std::size_t>(S.cols()), C.data());
}

}  // namespace

void ChromaParams::validate() const {
    require_param(sample_rate > 0, "sample_rate", sample_rate, "> 0");
    require_param(n_fft >= 16 && n_fft % 2 == 0, "n_fft", n_fft, "an even number >= 16");
    require_param(n_chroma >= 1 && n_chroma <= 120, "n_chroma", n_chroma, "1..120");
    require_param(std::isfinite(ctroct), "ctroct", ctroct, "a finite number of octaves");
    require_param(std::isfinite(octwidth), "octwidth", octwidth, "a finite width (<= 0 disables the weighting)");
    tuning_params().validate();
}

TuningParams ChromaParams::tuning_params() const {
    TuningParams t;
    t.sample_rate = sample_rate;
    t.fmin = tuning_fmin;
    t.fmax = tuning_fmax;
    t.threshold = tuning_threshold;
    t.resolution = tuning_resolution;
    t.bins_per_octave = n_chroma;  // ref: chroma_stft calls estimate_tuning(bins_per_octave=n_chroma)
    return t;
}

Eigen::MatrixXf chroma_filterbank(const ChromaParams& params, double tuning) {
    params.validate();
    require_param(std::isfinite(tuning) && std::abs(tuning) <= 1.0, "tuning", tuning, "-1..1 (fractions of a chroma bin)");
    // ref: librosa 0.7.2 filters.py chroma, in float64.
    const int n_fft = params.n_fft;
    const int nc = params.n_chroma;
    const double ncd = nc;
    const double a440 = 440.0 * std::pow(2.0, tuning / ncd);
    const double hz_step = static_cast<double>(params.sample_rate) / n_fft;  // linspace(0, sr, n_fft, endpoint=False)
    std::vector<double> frqbins(static_cast<std::size_t>(n_fft));
    for (int i = 1; i < n_fft; ++i)
        frqbins[static_cast<std::size_t>(i)] = ncd * std::log2((static_cast<double>(i) * hz_step) / (a440 / 16.0));
    // The 0 Hz bin gets a made-up value 1.5 octaves below bin 1.
    frqbins[0] = frqbins[1] - 1.5 * ncd;
    std::vector<double> binwidth(static_cast<std::size_t>(n_fft), 1.0);
    for (int i = 0; i + 1 < n_fft; ++i)
        binwidth[static_cast<std::size_t>(i)] = std::max(frqbins[static_cast<std::size_t>(i) + 1] - frqbins[static_cast<std::size_t>(i)], 1.0);
    const double half = std::nearbyint(ncd / 2.0);  // np.round: half to even

    const int n_keep = 1 + n_fft / 2;
    Eigen::MatrixXd wts(nc, n_keep);
    std::vector<double> col(static_cast<std::size_t>(nc));
    for (int i = 0; i < n_keep; ++i) {
        const double fb = frqbins[static_cast<std::size_t>(i)];
        double sumsq = 0.0;
        for (int c = 0; c < nc; ++c) {
            // Project into -n_chroma/2 .. n_chroma/2, then Gaussian bumps (2*D makes them narrower).
            const double D = py_mod(fb - c + half + 10.0 * ncd, ncd) - half;
            const double z = 2.0 * D / binwidth[static_cast<std::size_t>(i)];
            col[static_cast<std::size_t>(c)] = std::exp(-0.5 * (z * z));
            sumsq += col[static_cast<std::size_t>(c)] * col[static_cast<std::size_t>(c)];
        }
        // ref: util.normalize(norm=2, axis=0); columns below tiny(float64) are left as they are.
        double length = std::sqrt(sumsq);
        if (length < std::numeric_limits<double>::min()) length = 1.0;
        double oct_weight = 1.0;
        if (params.octwidth > 0) {
            const double o = (fb / ncd - params.ctroct) / params.octwidth;
            oct_weight = std::exp(-0.5 * (o * o));
        }
        for (int c = 0; c < nc; ++c) {
            // ref: base_c: np.roll(wts, -3, axis=0), so row r holds the weights of chroma (r + 3).
            const int row = params.base_c ? ((c - 3) % nc + nc) % nc : c;
            wts(row, i) = (col[static_cast<std::size_t>(c)] / length) * oct_weight;
        }
    }
    return wts.cast<float>();
}

ChromaStft::ChromaStft(const ChromaParams& params) : params_(params) { params_.validate(); }

const Eigen::MatrixXf& ChromaStft::filterbank(double tuning) {
    auto it = filterbanks_.find(tuning);
    if (it == filterbanks_.end()) it = filterbanks_.emplace(tuning, chroma_filterbank(params_, tuning)).first;
    return it->second;
}

Spectrogram ChromaStft::apply(const Spectrogram& power, double* tuning_out) {
    if (power.rows() != 1 + params_.n_fft / 2)
        throw Error("chroma: spectrogram has " + std::to_string(power.rows()) + " bins, expected " +
                    std::to_string(1 + params_.n_fft / 2));
    const double tuning = estimate_tuning(power, params_.tuning_params());
    if (tuning_out) *tuning_out = tuning;
    return apply_with_tuning(power, tuning);
}

Spectrogram ChromaStft::apply_with_tuning(const Spectrogram& power, double tuning) {
    if (power.rows() != 1 + params_.n_fft / 2)
        throw Error("chroma: spectrogram has " + std::to_string(power.rows()) + " bins, expected " +
                    std::to_string(1 + params_.n_fft / 2));
    const Eigen::MatrixXf& W = filterbank(tuning);
    Spectrogram C(W.rows(), power.cols());
    project_frames(W, power, C);
    // ref: librosa 0.7.2 util.normalize(norm=inf, axis=0): divide each frame by its largest
    // magnitude unless that is below tiny(float32).
    const float tiny = std::numeric_limits<float>::min();
    for (Eigen::Index t = 0; t < C.cols(); ++t) {
        const float m = C.col(t).cwiseAbs().maxCoeff();
        if (m >= tiny) C.col(t) /= m;
    }
    return C;
}

}  // namespace genrekit
