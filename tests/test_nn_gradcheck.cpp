// Central-difference gradient checks, in double precision, for every registered layer
// and for the fused softmax cross-entropy (tiny-dnn style).
//
// For a layer y = f(x; θ) we check the backward pass against the scalar objective
// J = Σ R ⊙ y with a fixed random R (so dJ/dy = R), on random indices of x and θ:
//   numeric = (J(v + h) - J(v - h)) / 2h,   h = 1e-6
//   pass when |analytic - numeric| <= 1e-8 + 1e-6 * |numeric|
// The worst difference is printed on every run.
#include <gtest/gtest.h>

#include <cmath>
#include <iostream>

#include "genrekit/nn/layers.hpp"
#include "genrekit/nn/loss.hpp"
#include "genrekit/nn/network.hpp"
#include "genrekit/nn/rng.hpp"

using namespace genrekit::nn;
using json = nlohmann::json;

namespace {

constexpr double kH = 1e-6, kAtol = 1e-8, kRtol = 1e-6;
constexpr int kChecks = 40;  // random indices per tensor

struct WorstDiff {
    double score = 0, analytic = 0, numeric = 0;
    std::string where;
    void add(double a, double n, const std::string& w) {
        const double s = std::abs(a - n) / (kAtol + kRtol * std::abs(n));
        if (s >= score) *this = {s, a, n, w};
    }
    void report(const std::string& name) const {
        std::cout << "[gradcheck] " << name << ": worst " << where << " analytic " << analytic << " numeric " << numeric
                  << " (|diff| " << std::abs(analytic - numeric) << ", " << score << " x tolerance)\n";
        EXPECT_LE(score, 1.0) << name << ": worst " << where << " analytic " << analytic << " numeric " << numeric;
    }
};

Mat<double> random_mat(Rng& rng, Eigen::Index r, Eigen::Index c, double lo_abs = 0.0) {
    Mat<double> m(r, c);
    for (Eigen::Index i = 0; i < m.size(); ++i) {
        double v = 2 * rng.uniform_double() - 1;
        // Keep away from kinks (ReLU at 0) so the central difference is meaningful.
        if (std::abs(v) < lo_abs) v = v < 0 ? v - lo_abs : v + lo_abs;
        m.data()[i] = v;
    }
    return m;
}

void check_layer(const json& spec, const Shape& in_shape, int n_batch, bool training) {
    const std::string name = spec.dump() + (training ? " (training)" : "");
    Network<double> net(json::array({spec}), in_shape);
    Rng rng(1234);
    net.init(rng);
    // Random parameters (not only the init): biases are zero-initialised otherwise.
    for (std::size_t i = 0; i < net.num_params(); ++i) net.params()[i] = 2 * rng.uniform_double() - 1;
    const Eigen::Index F = shape_size(in_shape), O = shape_size(net.output_shape());
    Mat<double> x = random_mat(rng, F, n_batch, 0.05);
    Mat<double> R = random_mat(rng, O, n_batch);

    const std::uint64_t pass_seed = 99;
    auto objective = [&]() {
        Rng r(pass_seed);  // same dropout mask for every evaluation
        auto y = net.forward(CMatView<double>(x.data(), F, n_batch), {training, &r});
        return (y.array() * R.array()).sum();
    };
    // Analytic: forward then backward with dy = R; input gradient via a dummy first layer is not
    // available from Network (the first layer skips dx), so call the layer directly for dx.
    auto layer = make_layer<double>(spec);
    layer->setup(in_shape);
    std::vector<double> pbuf(net.params(), net.params() + net.num_params()), gbuf(net.num_params(), 0.0);
    std::vector<double> bbuf(net.buffers(), net.buffers() + net.num_buffers());
    layer->bind(pbuf.data(), gbuf.data());
    layer->bind_buffers(bbuf.data());
    Mat<double> y(O, n_batch), dx(F, n_batch);
    Rng r0(pass_seed);
    layer->forward(CMatView<double>(x.data(), F, n_batch), MatView<double>(y.data(), O, n_batch), {training, &r0});
    layer->backward(CMatView<double>(x.data(), F, n_batch), CMatView<double>(y.data(), O, n_batch),
                    CMatView<double>(R.data(), O, n_batch), dx.data());
    // Backward ADDS into parameter gradients: a second call must double them.
    if (!gbuf.empty()) {
        std::vector<double> g1 = gbuf;
        Mat<double> dx2(F, n_batch);
        layer->backward(CMatView<double>(x.data(), F, n_batch), CMatView<double>(y.data(), O, n_batch),
                        CMatView<double>(R.data(), O, n_batch), dx2.data());
        for (std::size_t i = 0; i < g1.size(); ++i) ASSERT_NEAR(gbuf[i], 2 * g1[i], 1e-12) << name << " backward must add";
        gbuf = g1;
    }

    WorstDiff worst;
    for (int c = 0; c < kChecks; ++c) {
        const auto i = static_cast<Eigen::Index>(rng.below(static_cast<std::uint64_t>(x.size())));
        const double v = x.data()[i];
        x.data()[i] = v + kH;
        const double jp = objective();
        x.data()[i] = v - kH;
        const double jm = objective();
        x.data()[i] = v;
        worst.add(dx.data()[i], (jp - jm) / (2 * kH), "dx[" + std::to_string(i) + "]");
    }
    for (const auto& e : net.tensors()) {
        if (!e.trainable()) continue;  // statistics: no gradient
        for (int c = 0; c < kChecks; ++c) {
            const std::size_t i = e.offset + static_cast<std::size_t>(rng.below(e.size));
            const double v = net.params()[i];
            net.params()[i] = v + kH;
            const double jp = objective();
            net.params()[i] = v - kH;
            const double jm = objective();
            net.params()[i] = v;
            worst.add(gbuf[i], (jp - jm) / (2 * kH), e.name + "[" + std::to_string(i - e.offset) + "]");
        }
    }
    worst.report(name);
}

}  // namespace

TEST(GradCheck, Dense) { check_layer({{"type", "dense"}, {"units", 7}}, {5}, 4, false); }
TEST(GradCheck, DenseTorchInit) { check_layer({{"type", "dense"}, {"units", 3}, {"init", "torch_default"}}, {9}, 2, true); }
TEST(GradCheck, ReLU) { check_layer({{"type", "relu"}}, {6}, 3, false); }
TEST(GradCheck, Sigmoid) { check_layer({{"type", "sigmoid"}}, {6}, 3, false); }
TEST(GradCheck, Tanh) { check_layer({{"type", "tanh"}}, {6}, 3, false); }
TEST(GradCheck, DropoutTraining) { check_layer({{"type", "dropout"}, {"rate", 0.3}}, {8}, 5, true); }
TEST(GradCheck, DropoutEval) { check_layer({{"type", "dropout"}, {"rate", 0.3}}, {8}, 5, false); }

// CNN layers (src/nn/conv.cpp). Per-sample shapes {C, H, W}. BatchNorm in inference mode
// depends on its running statistics, which have no gradient: it is checked in test_cnn_layers.
TEST(GradCheck, Conv2DPad1) { check_layer({{"type", "conv2d"}, {"channels", 3}, {"kernel", 3}, {"padding", 1}}, {2, 5, 6}, 2, false); }
TEST(GradCheck, Conv2DStride2RectNoBias) {
    check_layer({{"type", "conv2d"}, {"channels", 4}, {"kernel", {3, 2}}, {"stride", 2}, {"padding", {1, 0}}, {"bias", false}}, {3, 7, 6}, 3, true);
}
TEST(GradCheck, Conv2D1x1) { check_layer({{"type", "conv2d"}, {"channels", 2}, {"kernel", 1}, {"init", "he_normal"}}, {3, 4, 3}, 2, false); }
TEST(GradCheck, Conv2DSame5x5) { check_layer({{"type", "conv2d"}, {"channels", 2}, {"kernel", 5}, {"padding", "same"}}, {1, 6, 7}, 2, false); }
TEST(GradCheck, MaxPool2D) { check_layer({{"type", "maxpool2d"}, {"size", 2}}, {2, 4, 7}, 3, false); }
TEST(GradCheck, MaxPool2DOverlapping) { check_layer({{"type", "maxpool2d"}, {"size", {2, 3}}, {"stride", {1, 2}}}, {2, 5, 7}, 2, false); }
TEST(GradCheck, AvgPool2D) { check_layer({{"type", "avgpool2d"}, {"size", {2, 3}}, {"stride", {2, 1}}}, {2, 5, 6}, 2, false); }
TEST(GradCheck, GlobalAvgPool) { check_layer({{"type", "global_avg_pool"}}, {3, 4, 5}, 3, false); }
TEST(GradCheck, BatchNorm2DTraining) { check_layer({{"type", "batchnorm"}}, {3, 4, 5}, 4, true); }
TEST(GradCheck, BatchNorm1DTraining) { check_layer({{"type", "batchnorm"}, {"momentum", 0.2}}, {6}, 5, true); }
TEST(GradCheck, Flatten) { check_layer({{"type", "flatten"}}, {2, 3, 4}, 2, false); }

TEST(GradCheck, EveryRegisteredLayerIsChecked) {
    // Adding a layer to the registry without a gradient check above should fail here.
    const std::vector<std::string> checked = {"avgpool2d", "batchnorm", "conv2d", "dense", "dropout", "flatten",
                                              "global_avg_pool", "maxpool2d", "relu", "sigmoid", "tanh"};
    EXPECT_EQ(layer_types(), checked);
}

TEST(GradCheck, SoftmaxCrossEntropy) {
    Rng rng(7);
    const Eigen::Index K = 5, N = 4;
    Mat<double> z = random_mat(rng, K, N) * 3.0, p(K, N), dz(K, N);
    std::vector<std::int32_t> labels = {0, 3, 4, 3};
    softmax_cross_entropy_forward<double>(CMatView<double>(z.data(), K, N), labels.data(), MatView<double>(p.data(), K, N));
    softmax_cross_entropy_backward<double>(CMatView<double>(p.data(), K, N), labels.data(), MatView<double>(dz.data(), K, N));
    WorstDiff worst;
    for (Eigen::Index i = 0; i < z.size(); ++i) {  // small: check every index
        const double v = z.data()[i];
        z.data()[i] = v + kH;
        const double jp = softmax_cross_entropy_forward<double>(CMatView<double>(z.data(), K, N), labels.data(), MatView<double>(p.data(), K, N));
        z.data()[i] = v - kH;
        const double jm = softmax_cross_entropy_forward<double>(CMatView<double>(z.data(), K, N), labels.data(), MatView<double>(p.data(), K, N));
        z.data()[i] = v;
        worst.add(dz.data()[i], (jp - jm) / (2 * kH), "dlogits[" + std::to_string(i) + "]");
    }
    worst.report("softmax_cross_entropy");
}

TEST(GradCheck, SoftmaxCrossEntropyLabelSmoothing) {
    // ref: torch.nn.CrossEntropyLoss(label_smoothing=0.1); checked against central differences like the plain loss.
    Rng rng(8);
    const Eigen::Index K = 4, N = 3;
    const double e = 0.1;
    Mat<double> z = random_mat(rng, K, N) * 3.0, p(K, N), dz(K, N);
    std::vector<std::int32_t> labels = {2, 0, 3};
    auto loss = [&] { return softmax_cross_entropy_forward<double>(CMatView<double>(z.data(), K, N), labels.data(), MatView<double>(p.data(), K, N), e); };
    const double l0 = loss();
    softmax_cross_entropy_backward<double>(CMatView<double>(p.data(), K, N), labels.data(), MatView<double>(dz.data(), K, N), e);
    double by_hand = 0;  // (1/N) sum_n sum_k -target_k log p_k
    for (Eigen::Index n = 0; n < N; ++n)
        for (Eigen::Index k = 0; k < K; ++k) by_hand -= ((k == labels[n] ? 1 - e : 0) + e / K) * std::log(p(k, n)) / N;
    EXPECT_NEAR(l0, by_hand, 1e-12);
    WorstDiff worst;
    for (Eigen::Index i = 0; i < z.size(); ++i) {
        const double v = z.data()[i];
        z.data()[i] = v + kH;
        const double jp = loss();
        z.data()[i] = v - kH;
        const double jm = loss();
        z.data()[i] = v;
        worst.add(dz.data()[i], (jp - jm) / (2 * kH), "dlogits[" + std::to_string(i) + "]");
    }
    worst.report("softmax_cross_entropy(label_smoothing=0.1)");
}

TEST(GradCheck, SoftmaxCrossEntropyIsStableForHugeLogits) {
    Mat<float> z(3, 1), p(3, 1);
    z << 1000.f, -1000.f, 999.f;
    std::int32_t y = 2;
    const float loss = softmax_cross_entropy_forward<float>(CMatView<float>(z.data(), 3, 1), &y, MatView<float>(p.data(), 3, 1));
    EXPECT_TRUE(std::isfinite(loss));
    EXPECT_NEAR(loss, std::log(1 + std::exp(-1.0)) + 1.0, 1e-5);
    EXPECT_TRUE(p.allFinite());
}

TEST(GradCheck, WholeNetworkWithLoss) {
    // A two-hidden-layer MLP end to end, parameters through Network::backward.
    const json spec = json::parse(R"([{"type":"dense","units":6},{"type":"tanh"},{"type":"dense","units":5},
                                      {"type":"sigmoid"},{"type":"dense","units":4}])");
    Network<double> net(spec, {3});
    Rng rng(5);
    net.init(rng);
    const int N = 3;
    Mat<double> x = random_mat(rng, 3, N), p(4, N), dz(4, N);
    std::vector<std::int32_t> labels = {1, 0, 3};
    auto loss = [&]() {
        auto z = net.forward(CMatView<double>(x.data(), 3, N), {});
        return softmax_cross_entropy_forward<double>(z, labels.data(), MatView<double>(p.data(), 4, N));
    };
    loss();
    net.zero_grad();
    softmax_cross_entropy_backward<double>(CMatView<double>(p.data(), 4, N), labels.data(), MatView<double>(dz.data(), 4, N));
    net.backward(CMatView<double>(dz.data(), 4, N));
    std::vector<double> g(net.grads(), net.grads() + net.num_params());
    WorstDiff worst;
    for (std::size_t i = 0; i < net.num_params(); ++i) {
        const double v = net.params()[i];
        net.params()[i] = v + kH;
        const double jp = loss();
        net.params()[i] = v - kH;
        const double jm = loss();
        net.params()[i] = v;
        worst.add(g[i], (jp - jm) / (2 * kH), "param[" + std::to_string(i) + "]");
    }
    worst.report("mlp+softmax_cross_entropy");
}
