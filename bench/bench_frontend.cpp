// Issue #2 benchmark: load + STFT + mel + MFCC of a 30 s track on one thread.
// Reference on this machine class: librosa 0.7.2 mfcc() 30 ms; a native program
// on FFTW about 10 ms; target <= 15 ms with KissFFT.
#include <benchmark/benchmark.h>

#include <iostream>

#include "bench_common.hpp"
#include "genrekit/audio.hpp"
#include "genrekit/mel.hpp"
#include "genrekit/stft.hpp"

namespace {

void BM_LoadStftMelMfcc(benchmark::State& state) {
    const std::string path = gkbench::blues_track();
    if (path.empty()) {
        state.SkipWithError("shared data not found (set GENREKIT_SHARED)");
        return;
    }
    // One object set per thread, reused for every file: after the first file no matrix is
    // allocated (the power spectrogram is made without keeping the complex STFT).
    genrekit::Stft stft;
    genrekit::MelFilterbank mel;
    genrekit::Dct dct(20, 128);
    genrekit::Spectrogram P, M, D, mfcc;
    for (auto _ : state) {
        const auto audio = genrekit::load_audio(path);
        stft.power_spectrogram(audio.samples, P);
        mel.apply(P, M);
        genrekit::power_to_db(M, D);
        dct.apply(D, mfcc);
        benchmark::DoNotOptimize(mfcc.data());
    }
    state.counters["x_librosa_30ms"] = benchmark::Counter(0.030 * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
    state.counters["x_target_15ms"] = benchmark::Counter(0.015 * static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_LoadStftMelMfcc)->Unit(benchmark::kMillisecond)->MinTime(2.0);

// The same through the value-returning calls, which allocate every matrix per file.
void BM_LoadStftMelMfccAllocating(benchmark::State& state) {
    const std::string path = gkbench::blues_track();
    if (path.empty()) {
        state.SkipWithError("shared data not found (set GENREKIT_SHARED)");
        return;
    }
    genrekit::Stft stft;
    genrekit::MelFilterbank mel;
    genrekit::Dct dct(20, 128);
    for (auto _ : state) {
        const auto audio = genrekit::load_audio(path);
        const auto X = stft.forward(audio.samples);
        const auto mfcc = dct.apply(genrekit::power_to_db(mel.apply(genrekit::power(X))));
        benchmark::DoNotOptimize(mfcc.data());
    }
}
BENCHMARK(BM_LoadStftMelMfccAllocating)->Unit(benchmark::kMillisecond)->MinTime(1.0);

void BM_Stage(benchmark::State& state) {
    const std::string path = gkbench::blues_track();
    if (path.empty()) {
        state.SkipWithError("shared data not found (set GENREKIT_SHARED)");
        return;
    }
    const auto audio = genrekit::load_audio(path);
    genrekit::Stft stft;
    genrekit::MelFilterbank mel;
    genrekit::Dct dct(20, 128);
    const auto X = stft.forward(audio.samples);
    const auto P = genrekit::power(X);
    const auto M = mel.apply(P);
    const auto D = genrekit::power_to_db(M);
    genrekit::Spectrogram P2;
    for (auto _ : state) {
        switch (state.range(0)) {
            case 0: benchmark::DoNotOptimize(genrekit::load_audio(path).samples.data()); break;
            case 1: stft.power_spectrogram(audio.samples, P2); benchmark::DoNotOptimize(P2.data()); break;
            case 2: benchmark::DoNotOptimize(genrekit::power(X).data()); break;
            case 3: benchmark::DoNotOptimize(mel.apply(P).data()); break;
            case 4: benchmark::DoNotOptimize(genrekit::power_to_db(M).data()); break;
            default: benchmark::DoNotOptimize(dct.apply(D).data()); break;
        }
    }
    static const char* names[] = {"load", "stft (power only)", "power", "mel", "power_to_db", "dct"};
    state.SetLabel(names[state.range(0)]);
}
BENCHMARK(BM_Stage)->DenseRange(0, 5)->Unit(benchmark::kMillisecond);

}  // namespace

BENCHMARK_MAIN();
