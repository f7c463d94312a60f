// Micro-benchmarks of the HPSS stage and the simple spectral features on a real 30 s GTZAN
// track (blues.00000, 1025 x 1293 spectrogram), one thread.
//
//   GENREKIT_SHARED=/work/shared build/bin/bench_hpss --benchmark_min_time=1
//
// The shared data is found through GENREKIT_SHARED, else /work/shared.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "genrekit/audio.hpp"
#include "genrekit/hpss.hpp"
#include "genrekit/spectral_features.hpp"
#include "genrekit/stft.hpp"

namespace {

struct Input {
    std::vector<float> y;
    genrekit::ComplexSpectrogram X;
    genrekit::Spectrogram mag;
    bool ok = false;
};

const Input& input() {
    static const Input in = [] {
        Input r;
        const char* env = std::getenv("GENREKIT_SHARED");
        const std::string shared = env && *env ? env : "/work/shared";
        const std::string wav = shared + "/data/gtzan-dev/genres_original/blues/blues.00000.wav";
        if (!std::filesystem::exists(wav)) return r;
        r.y = genrekit::load_audio(wav).samples;
        genrekit::Stft stft;
        r.X = stft.forward(r.y);
        r.mag = genrekit::magnitude(r.X);
        r.ok = true;
        return r;
    }();
    return in;
}

#define REQUIRE_INPUT(state)                                                                  \
    const Input& in = input();                                                                \
    if (!in.ok) {                                                                             \
        state.SkipWithError("blues.00000.wav not found: set GENREKIT_SHARED to the shared dir"); \
        return;                                                                               \
    }

void BM_MedianTime(benchmark::State& state) {
    REQUIRE_INPUT(state)
    genrekit::Spectrogram out;
    for (auto _ : state) {
        genrekit::median_filter_time(in.mag, 31, out);
        benchmark::DoNotOptimize(out.data());
    }
}
BENCHMARK(BM_MedianTime)->Unit(benchmark::kMillisecond);

void BM_MedianFrequency(benchmark::State& state) {
    REQUIRE_INPUT(state)
    genrekit::Spectrogram out;
    for (auto _ : state) {
        genrekit::median_filter_frequency(in.mag, 31, out);
        benchmark::DoNotOptimize(out.data());
    }
}
BENCHMARK(BM_MedianFrequency)->Unit(benchmark::kMillisecond);

void BM_HpssMasks(benchmark::State& state) {
    REQUIRE_INPUT(state)
    genrekit::Hpss hpss;
    genrekit::Spectrogram mh, mp;
    for (auto _ : state) {
        hpss.masks(in.mag, mh, mp);
        benchmark::DoNotOptimize(mh.data());
    }
}
BENCHMARK(BM_HpssMasks)->Unit(benchmark::kMillisecond);

// The whole stage as the featurizer runs it: medians, masks, inverse STFT(s), fix_length.
void BM_HpssWaveforms(benchmark::State& state) {
    REQUIRE_INPUT(state)
    genrekit::Hpss hpss({.percussive_from_residual = state.range(0) != 0});
    for (auto _ : state) {
        const auto& w = hpss.waveforms(in.X, in.mag, in.y);
        benchmark::DoNotOptimize(w.harmonic.data());
    }
    state.SetLabel(state.range(0) ? "percussive = y - harmonic" : "two inverse STFTs");
}
BENCHMARK(BM_HpssWaveforms)->Arg(1)->Arg(0)->Unit(benchmark::kMillisecond);

void BM_InverseStftNoLength(benchmark::State& state) {
    REQUIRE_INPUT(state)
    genrekit::Stft stft;
    for (auto _ : state) {
        auto z = stft.inverse_no_length(in.X);
        benchmark::DoNotOptimize(z.data());
    }
}
BENCHMARK(BM_InverseStftNoLength)->Unit(benchmark::kMillisecond);

void BM_Rms(benchmark::State& state) {
    REQUIRE_INPUT(state)
    for (auto _ : state) {
        auto r = genrekit::rms(in.y);
        benchmark::DoNotOptimize(r.data());
    }
}
BENCHMARK(BM_Rms)->Unit(benchmark::kMillisecond);

void BM_ZeroCrossingRate(benchmark::State& state) {
    REQUIRE_INPUT(state)
    for (auto _ : state) {
        auto z = genrekit::zero_crossing_rate(in.y);
        benchmark::DoNotOptimize(z.data());
    }
}
BENCHMARK(BM_ZeroCrossingRate)->Unit(benchmark::kMillisecond);

void BM_SpectralShape(benchmark::State& state) {
    REQUIRE_INPUT(state)
    for (auto _ : state) {
        auto s = genrekit::spectral_shape(in.mag);
        benchmark::DoNotOptimize(s.centroid.data());
    }
}
BENCHMARK(BM_SpectralShape)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
