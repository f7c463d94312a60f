// The run-time dispatched kernels (simd/nn_kernels.hpp) and the thread pool: every path (each
// instruction set through simd::ScopedCap) agrees with a double-precision reference and gives the
// same bits for any thread count, the AVX-512 path gives the AVX2 path's bits, and training with
// threads = 1, 2, 3 gives the same model bit for bit.
#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <thread>

#include "simd/isa.hpp"
#include "simd/nn_kernels.hpp"
#include "nn/parallel.hpp"
#include "genrekit/nn/layers.hpp"
#include "genrekit/nn/rng.hpp"
#include "simd/thread_pool.hpp"
#include "genrekit/train.hpp"
#include "nn_test_data.hpp"

using namespace genrekit;
using namespace genrekit::nn;

namespace {

using simd::Isa;
constexpr Isa kEveryIsa[] = {Isa::baseline, Isa::avx2, Isa::avx512};

// False, with a note, for an instruction set this CPU lacks (the test skips that variant).
bool runs_here(Isa isa) {
    if (isa <= simd::detected()) return true;
    std::printf("[%s] skipped: this CPU has no %s\n", simd::name(isa), simd::name(isa));
    return false;
}

const char* active_isa() { return simd::name(simd::isa()); }

std::vector<float> randv(Rng& rng, std::size_t n) {
    std::vector<float> v(n);
    for (auto& x : v) x = 2 * rng.uniform() - 1;
    return v;
}

// One Dense layer forward+backward on shapes that exercise every tail (O, F, N not multiples of 8).
struct DenseRun {
    std::vector<float> y, dw, db, dx;
};

DenseRun run_dense(std::int64_t O, std::int64_t F, std::int64_t N, ThreadPool* pool, std::uint64_t seed = 3) {
    Rng rng(seed);
    auto layer = make_layer<float>({{"type", "dense"}, {"units", O}});
    layer->setup({F});
    std::vector<float> p = randv(rng, static_cast<std::size_t>(O * F + O)), g(p.size(), 0.25f);
    layer->bind(p.data(), g.data());
    layer->set_pool(pool);
    const std::vector<float> x = randv(rng, static_cast<std::size_t>(F * N)), dy = randv(rng, static_cast<std::size_t>(O * N));
    DenseRun r;
    r.y.resize(static_cast<std::size_t>(O * N));
    r.dx.resize(static_cast<std::size_t>(F * N));
    layer->forward(CMatView<float>(x.data(), F, N), MatView<float>(r.y.data(), O, N), {});
    layer->backward(CMatView<float>(x.data(), F, N), CMatView<float>(r.y.data(), O, N), CMatView<float>(dy.data(), O, N), r.dx.data());
    r.dw.assign(g.begin(), g.begin() + O * F);
    r.db.assign(g.begin() + O * F, g.end());
    // Reference in double, from the same inputs.
    double worst = 0;
    for (std::int64_t n = 0; n < N; ++n)
        for (std::int64_t o = 0; o < O; ++o) {
            double s = p[static_cast<std::size_t>(O * F + o)];
            for (std::int64_t f = 0; f < F; ++f) s += double(p[static_cast<std::size_t>(o * F + f)]) * x[static_cast<std::size_t>(n * F + f)];
            worst = std::max(worst, std::abs(s - r.y[static_cast<std::size_t>(n * O + o)]));
        }
    for (std::int64_t o = 0; o < O; ++o)
        for (std::int64_t f = 0; f < F; ++f) {
            double s = 0.25;
            for (std::int64_t n = 0; n < N; ++n) s += double(dy[static_cast<std::size_t>(n * O + o)]) * x[static_cast<std::size_t>(n * F + f)];
            worst = std::max(worst, std::abs(s - r.dw[static_cast<std::size_t>(o * F + f)]));
        }
    for (std::int64_t n = 0; n < N; ++n)
        for (std::int64_t f = 0; f < F; ++f) {
            double s = 0;
            for (std::int64_t o = 0; o < O; ++o) s += double(p[static_cast<std::size_t>(o * F + f)]) * dy[static_cast<std::size_t>(n * O + o)];
            worst = std::max(worst, std::abs(s - r.dx[static_cast<std::size_t>(n * F + f)]));
        }
    std::printf("[%s] dense O=%lld F=%lld N=%lld threads=%d: worst |diff| vs double reference %.3g\n", active_isa(),
                static_cast<long long>(O), static_cast<long long>(F), static_cast<long long>(N), pool ? pool->size() : 1, worst);
    EXPECT_LT(worst, 1e-4 * std::sqrt(double(std::max(F, O))));  // float sums of up to max(F, O) terms of size <= 1
    return r;
}

void expect_same_bits(const DenseRun& a, const DenseRun& b) {
    EXPECT_EQ(0, std::memcmp(a.y.data(), b.y.data(), a.y.size() * 4));
    EXPECT_EQ(0, std::memcmp(a.dw.data(), b.dw.data(), a.dw.size() * 4));
    EXPECT_EQ(0, std::memcmp(a.db.data(), b.db.data(), a.db.size() * 4));
    EXPECT_EQ(0, std::memcmp(a.dx.data(), b.dx.data(), a.dx.size() * 4));
}

TrainConfig seedish_config(int threads) {
    TrainConfig c;
    c.layers = nlohmann::json::parse(R"([{"type":"dense","units":75},{"type":"sigmoid"},{"type":"dropout","rate":0.1},{"type":"dense"}])");
    c.optimizer.type = "adamw";
    c.optimizer.weight_decay = 0.01;
    c.batch_size = 7;
    c.epochs = 3;
    c.seed = 5;
    c.threads = threads;
    return c;
}

}  // namespace

TEST(ThreadPool, RangesCoverEverythingOnce) {
    for (std::ptrdiff_t n : {0, 1, 7, 8, 57, 5000})
        for (int parts : {1, 2, 3, 7})
            for (std::ptrdiff_t align : {1, 8, 16}) {
                std::ptrdiff_t next = 0;
                for (int p = 0; p < parts; ++p) {
                    const auto [lo, hi] = ThreadPool::range(n, parts, p, align);
                    EXPECT_EQ(lo, next);
                    EXPECT_LE(lo, hi);
                    if (hi < n) {
                        EXPECT_EQ(hi % align, 0);
                    }
                    next = hi;
                }
                EXPECT_EQ(next, n);
            }
    ThreadPool pool(3);
    std::vector<int> hits(1000, 0);
    for (int rep = 0; rep < 200; ++rep)  // many short jobs: the start-up and hand-over paths
        pool.run(pool.size(), [&](int part) {
            const auto [lo, hi] = ThreadPool::range(1000, pool.size(), part);
            for (auto i = lo; i < hi; ++i) ++hits[static_cast<std::size_t>(i)];
        });
    for (int h : hits) EXPECT_EQ(h, 200);
}

TEST(ThreadPool, NestedRunsRunInlineAndCallersTakeTurns) {
    // A layer may call the pool from inside a parallel_for part (the CNN layers and the element-wise
    // layers share one pool): the inner parts run on the calling thread instead of deadlocking.
    ThreadPool pool(2);
    std::vector<int> inner(2 * 3, 0);
    pool.run(2, [&](int outer) { pool.run(3, [&](int part) { ++inner[static_cast<std::size_t>(outer * 3 + part)]; }); });
    for (int h : inner) EXPECT_EQ(h, 1);
    // Two threads sharing the pool: every call still runs each of its parts once.
    std::vector<long> sums(2, 0);
    auto caller = [&](int who) {
        for (int rep = 0; rep < 300; ++rep) {
            std::array<long, 2> part_sum{};
            pool.run(2, [&](int part) { part_sum[static_cast<std::size_t>(part)] = part + 1; });
            sums[static_cast<std::size_t>(who)] += part_sum[0] + part_sum[1];
        }
    };
    std::thread a(caller, 0), b(caller, 1);
    a.join();
    b.join();
    EXPECT_EQ(sums[0], 900);
    EXPECT_EQ(sums[1], 900);
}

TEST(ThreadPool, ParallelForRunsOnTheSharedPoolAndRethrows) {
    set_num_threads(2);
    ASSERT_EQ(shared_pool()->size(), 2);
    std::vector<int> seen(2, 0);
    parallel_for(10, [&](std::int64_t b, std::int64_t e, int w) { seen[static_cast<std::size_t>(w)] += static_cast<int>(e - b); });
    EXPECT_EQ(seen[0], 5);
    EXPECT_EQ(seen[1], 5);
    // An element-wise layer given the shared pool, called inside a parallel_for body, runs inline.
    auto relu = make_layer<float>({{"type", "relu"}});
    relu->setup({1 << 17});
    relu->set_pool(shared_pool());
    std::vector<float> x(1 << 19, -1.0f), y(x.size(), 7.0f);
    parallel_for(2, [&](std::int64_t b, std::int64_t, int) {
        const auto off = static_cast<std::size_t>(b) << 18;
        relu->forward(CMatView<float>(x.data() + off, 1 << 17, 2), MatView<float>(y.data() + off, 1 << 17, 2), {});
    });
    EXPECT_EQ(*std::min_element(y.begin(), y.end()), 0.0f);
    EXPECT_EQ(*std::max_element(y.begin(), y.end()), 0.0f);
    // The second worker's exception reaches the caller; the pool stays usable.
    EXPECT_THROW(parallel_for(2, [&](std::int64_t b, std::int64_t, int) {
                     if (b == 1) throw std::runtime_error("worker 1 failed");
                 }),
                 std::runtime_error);
    std::vector<int> again(4, 0);
    parallel_for(4, [&](std::int64_t b, std::int64_t e, int) {
        for (auto i = b; i < e; ++i) ++again[static_cast<std::size_t>(i)];
    });
    for (int h : again) EXPECT_EQ(h, 1);
    set_num_threads(1);
}

TEST(Kernels, DenseAgreesWithDoubleReferenceOnEveryPath) {
    for (Isa isa : kEveryIsa) {
        if (!runs_here(isa)) continue;
        simd::ScopedCap cap(isa);
        for (auto [O, F, N] : {std::array<std::int64_t, 3>{75, 57, 13}, {10, 203, 9}, {5, 3, 2}, {130, 9, 33}}) run_dense(O, F, N, nullptr);
    }
}

TEST(Kernels, DenseSameBitsForAnyThreadCount) {
    // The AVX2 and AVX-512 paths (where the CPU has them) give identical bits for 1, 2 and 3 threads.
    for (Isa isa : {Isa::avx2, Isa::avx512}) {
        if (!runs_here(isa)) continue;
        simd::ScopedCap cap(isa);
        for (auto [O, F, N] : {std::array<std::int64_t, 3>{75, 57, 13}, {10, 203, 9}, {130, 9, 33}}) {
            const DenseRun one = run_dense(O, F, N, nullptr);
            for (int t : {2, 3}) {
                ThreadPool pool(t);
                expect_same_bits(one, run_dense(O, F, N, &pool));
            }
        }
    }
    // The portable path is deterministic for a given thread count.
    simd::ScopedCap portable(Isa::baseline);
    ThreadPool pool(2);
    expect_same_bits(run_dense(75, 57, 13, &pool), run_dense(75, 57, 13, &pool));
}

TEST(Kernels, SigmoidIsAccurate) {
    for (Isa isa : kEveryIsa) {
        if (!runs_here(isa)) continue;
        simd::ScopedCap cap(isa);
        auto layer = make_layer<float>({{"type", "sigmoid"}});
        layer->setup({1});
        std::vector<float> x, y;
        for (double v = -100; v <= 100; v += 0.0137) x.push_back(static_cast<float>(v));
        y.resize(x.size());
        const auto n = static_cast<Eigen::Index>(x.size());
        layer->forward(CMatView<float>(x.data(), 1, n), MatView<float>(y.data(), 1, n), {});
        double worst = 0, worst_abs = 0;
        for (std::size_t i = 0; i < x.size(); ++i) {
            const double want = 1.0 / (1.0 + std::exp(-double(x[i])));
            worst = std::max(worst, std::abs(y[i] - want) / std::max(want, 1e-30));
            worst_abs = std::max(worst_abs, std::abs(y[i] - want));
        }
        std::printf("[%s] sigmoid worst relative error %.3g, absolute %.3g\n", active_isa(), worst, worst_abs);
        EXPECT_LT(worst_abs, 2e-7);  // within about one float ulp of 1
        if (isa >= Isa::avx2) {
            EXPECT_LT(worst, 1e-6);
        }  // a few float ulps, also deep in the tail (Eigen's logistic: ~1e-3 there)
    }
}

TEST(NnTrain, SameModelBitForBitForAnyThreadCount) {
    const auto table = parse_feature_csv(gktest::blobs_csv(3, 30), "blobs.csv");
    const auto a = train(seedish_config(1), table);
    for (int t : {2, 3}) {
        const auto b = train(seedish_config(t), table);
        ASSERT_EQ(a.model.network().num_params(), b.model.network().num_params());
        EXPECT_EQ(0, std::memcmp(a.model.network().params(), b.model.network().params(), a.model.network().num_params() * sizeof(float)))
            << "threads = " << t << " (" << active_isa() << ")";
    }
    // Portable path: deterministic for a given count.
    simd::ScopedCap portable(Isa::baseline);
    const auto c = train(seedish_config(2), table), d = train(seedish_config(2), table);
    EXPECT_EQ(0, std::memcmp(c.model.network().params(), d.model.network().params(), c.model.network().num_params() * sizeof(float)));
}

// The AVX-512 kernels repeat the AVX2 kernels' arithmetic element by element, so a model trained
// on either ISA is the same model.
TEST(Kernels, Avx512GivesTheAvx2Bits) {
    if (simd::detected() < Isa::avx512) GTEST_SKIP() << "this CPU has no AVX-512 (detected: " << simd::name(simd::detected()) << ")";
    simd::ScopedCap wide_cap(Isa::avx512);  // whatever GENREKIT_ISA says: this test compares the two
    // Shapes hitting every tile and tail: F below, at and above one 64-feature chunk, O not a
    // multiple of 6 or 8, N not a multiple of 16, the seed config's two layers.
    const std::array<std::int64_t, 3> shapes[] = {{75, 57, 13}, {10, 203, 9}, {130, 9, 33}, {71, 64, 17}, {67, 130, 32}, {5000, 57, 32}, {10, 5000, 14}};
    for (auto [O, F, N] : shapes) {
        const DenseRun wide = run_dense(O, F, N, nullptr);
        simd::ScopedCap narrow(Isa::avx2);
        expect_same_bits(wide, run_dense(O, F, N, nullptr));
    }
    Rng rng(11);
    for (std::int64_t n : {1, 15, 16, 17, 1000, 160003}) {
        std::vector<float> x = randv(rng, static_cast<std::size_t>(n));
        for (auto& v : x) v *= 120.0f;  // through both clamps of exp
        std::vector<float> a(x.size()), b(x.size());
        ASSERT_TRUE(kernels::sigmoid(x.data(), a.data(), n, nullptr));
        {
            simd::ScopedCap narrow(Isa::avx2);
            ASSERT_TRUE(kernels::sigmoid(x.data(), b.data(), n, nullptr));
        }
        EXPECT_EQ(0, std::memcmp(a.data(), b.data(), a.size() * 4)) << "sigmoid, n = " << n;
        for (int mode : {0, 1, 2}) {
            const kernels::AdamArgs args{0.9f, 0.999f, 1e-3f, 1.0f / std::sqrt(0.002f), 1e-8f, 0.01f, 0.99999f, mode};
            std::vector<float> p = randv(rng, x.size()), g = randv(rng, x.size()), m = randv(rng, x.size()), v = randv(rng, x.size());
            for (auto& e : v) e = std::abs(e);
            auto p2 = p, m2 = m, v2 = v;
            ASSERT_TRUE(kernels::adam_step(p.data(), g.data(), m.data(), v.data(), n, args, nullptr));
            {
                simd::ScopedCap narrow(Isa::avx2);
                ASSERT_TRUE(kernels::adam_step(p2.data(), g.data(), m2.data(), v2.data(), n, args, nullptr));
            }
            EXPECT_EQ(0, std::memcmp(p.data(), p2.data(), p.size() * 4)) << "adam p, mode " << mode << ", n = " << n;
            EXPECT_EQ(0, std::memcmp(m.data(), m2.data(), m.size() * 4)) << "adam m, mode " << mode << ", n = " << n;
            EXPECT_EQ(0, std::memcmp(v.data(), v2.data(), v.size() * 4)) << "adam v, mode " << mode << ", n = " << n;
        }
    }
    const auto table = parse_feature_csv(gktest::blobs_csv(3, 30), "blobs.csv");
    const auto wide = train(seedish_config(2), table);
    simd::ScopedCap narrow(Isa::avx2);
    const auto ref = train(seedish_config(2), table);
    EXPECT_EQ(0, std::memcmp(wide.model.network().params(), ref.model.network().params(), ref.model.network().num_params() * sizeof(float)))
        << "a model trained with the AVX-512 kernels differs from the AVX2 one";
}

// The AVX-512 2x2 max pool gives the scalar loop's maxima and argmaxes (checked through the
// gradient, which goes to the argmax), on small integers (many ties) and odd sizes (a dropped
// last row/column, a partial 16-output step).
TEST(Kernels, VectorMaxPoolMatchesTheScalarLoop) {
    if (simd::detected() < Isa::avx512) GTEST_SKIP() << "no vector max pool on this CPU (detected: " << simd::name(simd::detected()) << ")";
    simd::ScopedCap wide_cap(Isa::avx512);
    ASSERT_TRUE(kernels::maxpool2x2_vectorised());
    Rng rng(21);
    for (const Shape& in : {Shape{3, 9, 37}, Shape{2, 8, 32}, Shape{1, 5, 3}, Shape{4, 16, 130}}) {
        const std::int64_t F = in[0] * in[1] * in[2], N = 3;
        std::vector<float> x(static_cast<std::size_t>(F * N));
        for (auto& v : x) v = static_cast<float>(static_cast<int>(rng.uniform() * 4));  // values 0..3: ties everywhere
        auto run = [&](std::vector<float>& y, std::vector<float>& dx) {
            auto l = make_layer<float>(nlohmann::json::parse(R"({"type":"maxpool2d","size":2})"));
            const Shape out = l->setup(in);
            const std::int64_t O = out[0] * out[1] * out[2];
            y.assign(static_cast<std::size_t>(O * N), -1.0f);
            dx.assign(x.size(), -1.0f);
            std::vector<float> dy(y.size());
            for (std::size_t i = 0; i < dy.size(); ++i) dy[i] = static_cast<float>(i + 1);  // each output's gradient is unique
            l->forward(CMatView<float>(x.data(), F, N), MatView<float>(y.data(), O, N), {});
            l->backward(CMatView<float>(x.data(), F, N), CMatView<float>(y.data(), O, N), CMatView<float>(dy.data(), O, N), dx.data());
        };
        std::vector<float> y_vec, dx_vec, y_ref, dx_ref;
        run(y_vec, dx_vec);
        {
            simd::ScopedCap narrow(Isa::avx2);
            ASSERT_FALSE(kernels::maxpool2x2_vectorised());
            run(y_ref, dx_ref);
        }
        EXPECT_EQ(y_vec, y_ref) << "pooled values, input " << in[0] << "x" << in[1] << "x" << in[2];
        EXPECT_EQ(dx_vec, dx_ref) << "argmax (gradient routing), input " << in[0] << "x" << in[1] << "x" << in[2];
    }
}
