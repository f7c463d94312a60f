// CNN training and inference throughput against PyTorch 1.13 (CPU, 2 threads, this machine).
//
// "cnn4": input 1 x 128 x 130 (a 3 s log-mel at hop 512), four blocks of [Conv 3x3 (16, 32, 64, 128
// channels, padding 1, no bias) -> BatchNorm -> ReLU -> MaxPool 2], global average pool, Dense 10;
// softmax cross-entropy, Adam, batch 32: 98,682 trainable parameters, 119 MFLOP forward per sample.
// PyTorch reference: 157 training samples/s and 339 inference samples/s on the mel input,
// 1,040 training samples/s on a 1 x 20 x 130 MFCC input. Target: >= 1.5x PyTorch's training rate.
//
//   build/bin/bench_cnn                                 # 2 threads (GENREKIT_BENCH_THREADS to change)
//   GENREKIT_ISA=baseline build/bin/bench_cnn           # the SSE2 GEMM kernel, for comparison
//
// Each benchmark reports samples/s from wall time and from process CPU time (cpu_samples_per_s x
// threads is what an idle machine would give when the threads scale; the machine is shared), the
// ratio to PyTorch on the wall figure, and the peak resident memory of the process so far.
//
// Measured figures and the command are in README.md ("Measured results"); on this VM class the
// wall figures vary by +-10% from run to run even when idle, so compare builds back to back.
// Under load the wall figures drop; the cpu_ columns do not depend on it as much.
#include <benchmark/benchmark.h>
#include <sys/resource.h>

#include <chrono>
#include <cstdlib>
#include <ctime>

#include "genrekit/nn/conv.hpp"
#include "genrekit/nn/loss.hpp"
#include "genrekit/nn/network.hpp"
#include "genrekit/nn/optim.hpp"
#include "nn/parallel.hpp"
#include "simd/thread_pool.hpp"

using namespace genrekit::nn;
using json = nlohmann::json;

namespace {

json cnn4() {
    json layers = json::array();
    for (int ch : {16, 32, 64, 128}) {
        layers.push_back({{"type", "conv2d"}, {"channels", ch}, {"kernel", 3}, {"padding", 1}, {"bias", false}});
        layers.push_back({{"type", "batchnorm"}});
        layers.push_back({{"type", "relu"}});
        layers.push_back({{"type", "maxpool2d"}, {"size", 2}});
    }
    layers.push_back({{"type", "global_avg_pool"}});
    layers.push_back({{"type", "dense"}, {"units", 10}});
    return layers;
}

int threads() {
    const char* e = std::getenv("GENREKIT_BENCH_THREADS");
    return e ? std::atoi(e) : 2;
}

double cpu_seconds() {
    timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

double peak_rss_mb() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return static_cast<double>(u.ru_maxrss) / 1024.0;
}

void run(benchmark::State& state, std::int64_t H, bool train, double torch_rate) {
    set_num_threads(threads());
    const std::int64_t B = 32, W = 130, K = 10;
    Network<float> net(cnn4(), Shape{1, H, W});
    net.set_pool(shared_pool());  // the element-wise layers use the CNN layers' threads (as the trainer does)
    Rng rng(1);
    net.init(rng);
    auto opt = make_optimizer({}, net.num_params());
    Mat<float> x(H * W, B), p(K, B), d(K, B);
    for (Eigen::Index i = 0; i < x.size(); ++i) x.data()[i] = static_cast<float>(rng.normal());
    std::vector<std::int32_t> y(B);
    for (std::int64_t i = 0; i < B; ++i) y[static_cast<std::size_t>(i)] = static_cast<std::int32_t>(i % K);
    auto step = [&] {
        if (train) {
            net.zero_grad();
            auto logits = net.forward(CMatView<float>(x.data(), H * W, B), {true, &rng});
            softmax_cross_entropy_forward<float>(logits, y.data(), MatView<float>(p.data(), K, B));
            softmax_cross_entropy_backward<float>(CMatView<float>(p.data(), K, B), y.data(), MatView<float>(d.data(), K, B));
            net.backward(CMatView<float>(d.data(), K, B));
            opt->step(net.params(), net.grads(), net.num_params());
        } else {
            auto logits = net.forward(CMatView<float>(x.data(), H * W, B), {});
            benchmark::DoNotOptimize(logits.data());
        }
    };
    step();  // warm-up: buffers reach their size
    const double c0 = cpu_seconds();
    const auto t0 = std::chrono::steady_clock::now();
    std::int64_t batches = 0;
    for (auto _ : state) {
        step();
        ++batches;
    }
    const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), cpu = cpu_seconds() - c0;
    const double samples = static_cast<double>(batches * B);
    state.counters["samples_per_s"] = samples / wall;
    state.counters["cpu_samples_per_s"] = samples / cpu;
    state.counters["x_pytorch"] = samples / wall / torch_rate;
    state.counters["x_pytorch_cpu"] = samples / cpu * threads() / torch_rate;
    state.counters["peak_rss_MB"] = peak_rss_mb();
    state.counters["threads"] = threads();
    state.counters["trainable_params"] = static_cast<double>(net.num_params());
    state.SetLabel("gemm " + conv_kernel_name());
}

void BM_Cnn4MelTrain(benchmark::State& s) { run(s, 128, true, 157.0); }
void BM_Cnn4MelInfer(benchmark::State& s) { run(s, 128, false, 339.0); }
void BM_Cnn4MfccTrain(benchmark::State& s) { run(s, 20, true, 1040.0); }
BENCHMARK(BM_Cnn4MelTrain)->Unit(benchmark::kMillisecond)->MinTime(5)->UseRealTime();
BENCHMARK(BM_Cnn4MelInfer)->Unit(benchmark::kMillisecond)->MinTime(3)->UseRealTime();
BENCHMARK(BM_Cnn4MfccTrain)->Unit(benchmark::kMillisecond)->MinTime(3)->UseRealTime();

}  // namespace

BENCHMARK_MAIN();
