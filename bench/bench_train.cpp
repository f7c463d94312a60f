// Training speed of the seed config: 57 -> 5000 sigmoid -> 10, softmax CE, Adam, batch 32,
// 300 epochs on 750 rows (synthetic data of that shape; the timing does not depend on values).
// Reference: PyTorch 1.13 on CPU with 2 threads takes 26.6 s for the same run on this machine.
//
// The argument is the thread count (config key "threads"); results are identical for 1 and 2.
// Kernels: AVX-512 or AVX2+FMA when the CPU has them, with the same bits (GENREKIT_ISA=avx2
// caps them at AVX2, =baseline forces the Eigen/SSE2 path).
//
//   build/bin/bench_train                                      # full 300-epoch runs, 1 and 2 threads
//   build/bin/bench_train --benchmark_filter=10Epochs          # quick check
#include <benchmark/benchmark.h>

#include <sstream>

#include "genrekit/csv.hpp"
#include "simd/isa.hpp"
#include "genrekit/nn/rng.hpp"
#include "genrekit/train.hpp"

namespace {

genrekit::FeatureTable synthetic_table(int rows = 750, int features = 57, int classes = 10) {
    genrekit::nn::Rng rng(1);
    std::ostringstream s;
    s << "filename";
    for (int f = 0; f < features; ++f) s << ",f" << f;
    s << ",label\n";
    for (int r = 0; r < rows; ++r) {
        s << "track" << r << ".wav";
        for (int f = 0; f < features; ++f) s << ',' << genrekit::format_number(rng.normal() + 1.0);
        s << ",g" << r % classes << "\n";
    }
    return genrekit::parse_feature_csv(s.str(), "synthetic.csv");
}

genrekit::TrainConfig seed_config(int epochs, int threads) {
    genrekit::TrainConfig c;
    c.layers = nlohmann::json::parse(R"([{"type":"dense","units":5000},{"type":"sigmoid"},{"type":"dense","units":10}])");
    c.normalization = "max";
    c.split.valid = 0.0;  // all 750 rows train
    c.optimizer.type = "adam";
    c.optimizer.lr = 1e-3;
    c.batch_size = 32;
    c.epochs = epochs;
    c.threads = threads;
    return c;
}

void BM_SeedConfig300Epochs(benchmark::State& state) {
    const auto table = synthetic_table();
    const auto cfg = seed_config(300, static_cast<int>(state.range(0)));
    state.SetLabel(genrekit::simd::name(genrekit::simd::isa()));
    for (auto _ : state) {
        auto r = genrekit::train(cfg, table);
        benchmark::DoNotOptimize(r.history.back().loss);
        state.counters["final_loss"] = r.history.back().loss;
    }
}
BENCHMARK(BM_SeedConfig300Epochs)->Arg(1)->Arg(2)->Iterations(1)->Unit(benchmark::kSecond)->UseRealTime();

void BM_SeedConfig10Epochs(benchmark::State& state) {
    const auto table = synthetic_table();
    const auto cfg = seed_config(10, static_cast<int>(state.range(0)));
    for (auto _ : state) {
        auto r = genrekit::train(cfg, table);
        benchmark::DoNotOptimize(r.history.back().loss);
    }
}
BENCHMARK(BM_SeedConfig10Epochs)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
