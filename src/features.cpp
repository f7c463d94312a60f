#include "genrekit/features.hpp"

#include <chrono>
#include <cmath>

#include "genrekit/error.hpp"
#include "genrekit/mel.hpp"

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

namespace {
template <typename T>
MeanVar mean_var_impl(std::span<const T> x) {
    MeanVar mv;
    if (x.empty()) return mv;
    double sum = 0;
    for (T v : x) sum += static_cast<double>(v);
    mv.mean = sum / static_cast<double>(x.size());
    double ss = 0;
    for (T v : x) {
        const double d = static_cast<double>(v) - mv.mean;
        ss += d * d;
    }
    mv.var = ss / static_cast<double>(x.size());
    return mv;
}
}  // namespace

MeanVar mean_var(std::span<const float> x) { return mean_var_impl(x); }
MeanVar mean_var(std::span<const double> x) { return mean_var_impl(x); }

struct GtzanFeaturizer::Stages {
    explicit Stages(const FeatureParams& p)
        : stft({.n_fft = p.n_fft, .hop = p.hop}),
          mel({.sample_rate = p.sample_rate, .n_fft = p.n_fft, .n_mels = p.n_mels}),
          dct(p.n_mfcc, p.n_mels) {}
    Stft stft;
    MelFilterbank mel;
    Dct dct;
};

GtzanFeaturizer::GtzanFeaturizer(const FeatureParams& params) : params_(params) {
    params_.validate();
    stages_ = std::make_unique<Stages>(params_);
}
GtzanFeaturizer::~GtzanFeaturizer() = default;
GtzanFeaturizer::GtzanFeaturizer(GtzanFeaturizer&&) noexcept = default;
GtzanFeaturizer& GtzanFeaturizer::operator=(GtzanFeaturizer&&) noexcept = default;

namespace {
using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }
// Statistics of a float32 librosa array are float32 numbers.
double as_f32(double v) { return static_cast<double>(static_cast<float>(v)); }
}  // namespace

std::vector<double> GtzanFeaturizer::compute(std::span<const float> y, StageTimes* times) {
    if (y.empty()) throw Error("cannot featurize an empty signal");
    StageTimes local;
    StageTimes& t = times ? *times : local;
    t = {};
    std::vector<double> row;
    row.reserve(gtzan_feature_columns().size());
    row.push_back(static_cast<double>(y.size()));

    auto t0 = Clock::now();
    const ComplexSpectrogram X = stages_->stft.forward(y);
    const Spectrogram mag = magnitude(X);
    const Spectrogram pow = mag.array().square().matrix();
    t.stft = since(t0);

    t0 = Clock::now();
    const Spectrogram mel_db = power_to_db(stages_->mel.apply(pow));
    const Spectrogram mfcc = stages_->dct.apply(mel_db);
    t.mel_mfcc = since(t0);

    // Stages not wired in yet fill with NaN so an incomplete row can never pass.
    for (int i = 0; i < 17; ++i) row.push_back(NAN);

    for (Eigen::Index k = 0; k < mfcc.rows(); ++k) {
        const Eigen::VectorXf r = mfcc.row(k).transpose();
        const MeanVar mv = mean_var(std::span<const float>(r.data(), static_cast<std::size_t>(r.size())));
        row.push_back(as_f32(mv.mean));
        row.push_back(as_f32(mv.var));
    }
    return row;
}

}  // namespace genrekit
