// Chroma (with its tuning estimate) and onset envelope + tempo on a real 30 s
// track, one thread. Budget: the whole 57-feature row in <= 40 ms, so each of
// chroma+tuning and onset+tempo should take a few ms. Inputs (power spectrogram,
// mel dB) are made once outside the timed loop, as the featurize pipeline shares them.
#include <benchmark/benchmark.h>

#include "bench_common.hpp"
#include "genrekit/audio.hpp"
#include "genrekit/chroma.hpp"
#include "genrekit/mel.hpp"
#include "genrekit/rhythm.hpp"
#include "genrekit/stft.hpp"

namespace {

struct Inputs {
    genrekit::Spectrogram power, mel_db;
    std::vector<float> env;
    bool ok = false;
};

const Inputs& inputs() {
    static const Inputs in = [] {
        Inputs r;
        const std::string path = gkbench::blues_track();
        if (path.empty()) return r;
        genrekit::Stft stft;
        r.power = genrekit::power(stft.forward(genrekit::load_audio(path).samples));
        r.mel_db = genrekit::power_to_db(genrekit::MelFilterbank().apply(r.power));
        r.env = genrekit::onset_strength(r.mel_db);
        r.ok = true;
        return r;
    }();
    return in;
}

#define GK_BENCH_INPUTS(in)                                                  \
    const Inputs& in = inputs();                                             \
    if (!in.ok) {                                                            \
        state.SkipWithError("shared data not found (set GENREKIT_SHARED)");  \
        return;                                                              \
    }

void BM_ChromaStft(benchmark::State& state) {  // estimate_tuning + filterbank x power + normalise
    GK_BENCH_INPUTS(in);
    genrekit::ChromaStft chroma;
    for (auto _ : state) benchmark::DoNotOptimize(chroma.apply(in.power).data());
}
BENCHMARK(BM_ChromaStft)->Unit(benchmark::kMillisecond)->MinTime(1.0);

void BM_EstimateTuning(benchmark::State& state) {
    GK_BENCH_INPUTS(in);
    for (auto _ : state) benchmark::DoNotOptimize(genrekit::estimate_tuning(in.power));
}
BENCHMARK(BM_EstimateTuning)->Unit(benchmark::kMillisecond)->MinTime(1.0);

void BM_ChromaKnownTuning(benchmark::State& state) {
    GK_BENCH_INPUTS(in);
    genrekit::ChromaStft chroma;
    for (auto _ : state) benchmark::DoNotOptimize(chroma.apply_with_tuning(in.power, -0.18).data());
}
BENCHMARK(BM_ChromaKnownTuning)->Unit(benchmark::kMillisecond)->MinTime(1.0);

void BM_OnsetAndTempo(benchmark::State& state) {  // what the featurize row needs
    GK_BENCH_INPUTS(in);
    const genrekit::TempoEstimator est;
    for (auto _ : state) {
        const auto env = genrekit::onset_strength(in.mel_db);
        benchmark::DoNotOptimize(est.beat_track_tempo(env));
    }
}
BENCHMARK(BM_OnsetAndTempo)->Unit(benchmark::kMillisecond)->MinTime(1.0);

void BM_OnsetStrength(benchmark::State& state) {
    GK_BENCH_INPUTS(in);
    for (auto _ : state) benchmark::DoNotOptimize(genrekit::onset_strength(in.mel_db).data());
}
BENCHMARK(BM_OnsetStrength)->Unit(benchmark::kMillisecond)->MinTime(1.0);

void BM_Tempo(benchmark::State& state) {
    GK_BENCH_INPUTS(in);
    const genrekit::TempoEstimator est;
    for (auto _ : state) benchmark::DoNotOptimize(est.beat_track_tempo(in.env));
}
BENCHMARK(BM_Tempo)->Unit(benchmark::kMillisecond)->MinTime(1.0);

void BM_Beats(benchmark::State& state) {  // optional: beat positions for a known tempo
    GK_BENCH_INPUTS(in);
    for (auto _ : state) benchmark::DoNotOptimize(genrekit::track_beats(in.env, 123.046875).data());
}
BENCHMARK(BM_Beats)->Unit(benchmark::kMillisecond)->MinTime(1.0);

}  // namespace

BENCHMARK_MAIN();
