// CNN layers beyond the gradient checks (tests/test_nn_gradcheck.cpp): the float kernels
// (run-time dispatched GEMM) against a direct double-precision convolution, thread-count
// independence, BatchNorm's inference mode and running statistics (PyTorch's formulas),
// max-pool ties, the cnn4 parameter count, and clear errors for bad specs.
#include <gtest/gtest.h>

#include <cmath>
#include <iostream>

#include "genrekit/error.hpp"
#include "genrekit/nn/conv.hpp"
#include "genrekit/nn/network.hpp"
#include "nn/parallel.hpp"
#include "simd/isa.hpp"

using namespace genrekit::nn;
using json = nlohmann::json;
using genrekit::simd::Isa;

namespace {

// The instruction sets this CPU runs (each GEMM variant is tested through simd::ScopedCap).
std::vector<Isa> runnable_isas() {
    std::vector<Isa> r;
    for (Isa isa : {Isa::baseline, Isa::avx2, Isa::avx512})
        if (isa <= genrekit::simd::detected()) r.push_back(isa);
        else std::cout << "[" << genrekit::simd::name(isa) << "] skipped: this CPU has no " << genrekit::simd::name(isa) << "\n";
    return r;
}

Mat<double> random_mat(Rng& rng, Eigen::Index r, Eigen::Index c) {
    Mat<double> m(r, c);
    for (Eigen::Index i = 0; i < m.size(); ++i) m.data()[i] = 2 * rng.uniform_double() - 1;
    return m;
}

// y[n][o][i][j] = b[o] + sum_{c,u,v} w[o][c][u][v] x[n][c][i*s - p + u][j*s - p + v]
Mat<double> direct_conv(const Mat<double>& x, const std::vector<double>& w, const std::vector<double>& b, int C, int H, int W, int O, int k, int s, int p) {
    const int Ho = (H + 2 * p - k) / s + 1, Wo = (W + 2 * p - k) / s + 1;
    Mat<double> y(O * Ho * Wo, x.cols());
    for (Eigen::Index n = 0; n < x.cols(); ++n)
        for (int o = 0; o < O; ++o)
            for (int i = 0; i < Ho; ++i)
                for (int j = 0; j < Wo; ++j) {
                    double acc = b.empty() ? 0.0 : b[static_cast<std::size_t>(o)];
                    for (int c = 0; c < C; ++c)
                        for (int u = 0; u < k; ++u)
                            for (int v = 0; v < k; ++v) {
                                const int h = i * s - p + u, ww = j * s - p + v;
                                if (h < 0 || h >= H || ww < 0 || ww >= W) continue;
                                acc += w[static_cast<std::size_t>(((o * C + c) * k + u) * k + v)] * x((c * H + h) * W + ww, n);
                            }
                    y((o * Ho + i) * Wo + j, n) = acc;
                }
    return y;
}

double worst_rel(const Mat<float>& got, const Mat<double>& want, double atol) {
    double worst = 0;
    for (Eigen::Index i = 0; i < got.size(); ++i)
        worst = std::max(worst, std::abs(static_cast<double>(got.data()[i]) - want.data()[i]) / (atol + std::abs(want.data()[i])));
    return worst;
}

}  // namespace

TEST(CnnLayers, FloatConvMatchesDirectDoubleConvolution) {
    // Tolerance: |got - want| <= 1e-5 * (1 + |want|): float sums of 144 products of O(1) values carry ~1e-6 absolute error.
    const int C = 16, H = 21, W = 19, O = 24, k = 3;
    for (Isa isa : runnable_isas()) {
        genrekit::simd::ScopedCap cap(isa);
        for (int stride : {1, 2}) {
            for (int threads : {1, 2}) {
                set_num_threads(threads);
                const json spec = {{"type", "conv2d"}, {"channels", O}, {"kernel", k}, {"padding", 1}, {"stride", stride}};
                Network<float> net(json::array({spec}), {C, H, W});
                Rng rng(3);
                net.init(rng);
                for (std::size_t i = 0; i < net.num_params(); ++i) net.params()[i] = static_cast<float>(2 * rng.uniform_double() - 1);
                const Mat<double> x = random_mat(rng, C * H * W, 5);
                const Mat<float> xf = x.cast<float>();
                const Mat<float> y = net.forward(CMatView<float>(xf.data(), xf.rows(), xf.cols()), {});
                std::vector<double> w(net.params(), net.params() + O * C * k * k), b(net.params() + O * C * k * k, net.params() + net.num_params());
                const Mat<double> want = direct_conv(xf.cast<double>(), w, b, C, H, W, O, k, stride, 1);
                ASSERT_EQ(y.rows(), want.rows());
                const double worst = worst_rel(y, want, 1.0);
                std::cout << "[conv] stride " << stride << ", " << threads << " thread(s), kernel " << conv_kernel_name() << ": worst |diff| / (1 + |want|) " << worst << "\n";
                EXPECT_LT(worst, 1e-5);
                EXPECT_EQ(conv_kernel_name(), genrekit::simd::name(isa));
            }
        }
    }
    set_num_threads(1);
}

TEST(CnnLayers, ConvInRowBlocksMatchesDirectDoubleConvolutionBothWays) {
    // A 16 x 64 x 65 input makes im2col work in blocks of 7 output rows (and a last block of 1),
    // the cnn4 layer-2 case; forward, dW and dx against direct double loops. Tolerance 1e-5 * (1 + |want|).
    const int C = 16, H = 64, W = 65, O = 8, k = 3, N = 2;
    for (int stride : {1, 2}) {
        set_num_threads(2);
        const json spec = {{"type", "conv2d"}, {"channels", O}, {"kernel", k}, {"padding", 1}, {"stride", stride}, {"bias", false}};
        auto l = make_layer<float>(spec);
        const Shape out = l->setup({C, H, W});
        const int Ho = static_cast<int>(out[1]), Wo = static_cast<int>(out[2]);
        Rng rng(11);
        std::vector<float> w(static_cast<std::size_t>(O * C * k * k)), g(w.size(), 0.0f);
        for (auto& v : w) v = static_cast<float>(2 * rng.uniform_double() - 1) / 12;
        l->bind(w.data(), g.data());
        const Mat<float> x = random_mat(rng, C * H * W, N).cast<float>(), dy = random_mat(rng, O * Ho * Wo, N).cast<float>();
        Mat<float> y(O * Ho * Wo, N), dx(C * H * W, N);
        l->forward(CMatView<float>(x.data(), x.rows(), N), MatView<float>(y.data(), y.rows(), N), {});
        l->backward(CMatView<float>(x.data(), x.rows(), N), CMatView<float>(y.data(), y.rows(), N), CMatView<float>(dy.data(), dy.rows(), N), dx.data());
        const std::vector<double> wd(w.begin(), w.end());
        const Mat<double> want_y = direct_conv(x.cast<double>(), wd, {}, C, H, W, O, k, stride, 1);
        Mat<double> want_dx = Mat<double>::Zero(C * H * W, N), want_dw = Mat<double>::Zero(static_cast<Eigen::Index>(w.size()), 1);
        for (int n = 0; n < N; ++n)
            for (int o = 0; o < O; ++o)
                for (int i = 0; i < Ho; ++i)
                    for (int j = 0; j < Wo; ++j) {
                        const double d = dy((o * Ho + i) * Wo + j, n);
                        for (int c = 0; c < C; ++c)
                            for (int u = 0; u < k; ++u)
                                for (int v = 0; v < k; ++v) {
                                    const int h = i * stride - 1 + u, ww = j * stride - 1 + v;
                                    if (h < 0 || h >= H || ww < 0 || ww >= W) continue;
                                    const int wi = ((o * C + c) * k + u) * k + v, xi = (c * H + h) * W + ww;
                                    want_dw(wi, 0) += d * x(xi, n);
                                    want_dx(xi, n) += d * wd[static_cast<std::size_t>(wi)];
                                }
                    }
        const Mat<float> gm = Eigen::Map<Mat<float>>(g.data(), static_cast<Eigen::Index>(g.size()), 1);
        const double wy = worst_rel(y, want_y, 1.0), wx = worst_rel(dx, want_dx, 1.0);
        // dW sums Ho*Wo*N products of O(1) values: scale the tolerance by the sum's size.
        const double wg = worst_rel(gm, want_dw, std::sqrt(static_cast<double>(Ho * Wo * N)));
        std::cout << "[conv blocks] stride " << stride << ": worst |diff| / (1 + |want|) y " << wy << ", dx " << wx << "; dW (scaled) " << wg << "\n";
        EXPECT_LT(wy, 1e-5);
        EXPECT_LT(wx, 1e-5);
        EXPECT_LT(wg, 1e-5);
    }
    set_num_threads(1);
}

TEST(CnnLayers, FloatBackwardMatchesDoubleAndThreadCounts) {
    // dW and dx of the float layer (1 and 2 threads) against the double layer; tolerance 1e-5 * (1 + |want|).
    const json spec = {{"type", "conv2d"}, {"channels", 8}, {"kernel", 3}, {"padding", 1}};
    const Shape in{4, 10, 12};
    const int N = 6;
    auto ld = make_layer<double>(spec);
    const Shape out = ld->setup(in);
    const auto F = shape_size(in), O = shape_size(out);
    std::size_t np = 0;
    for (const auto& p : ld->param_specs()) np += static_cast<std::size_t>(p.size());
    Rng rng(9);
    std::vector<double> pd(np), gd(np, 0.0);
    for (auto& v : pd) v = 2 * rng.uniform_double() - 1;
    ld->bind(pd.data(), gd.data());
    const Mat<double> x = random_mat(rng, F, N), dy = random_mat(rng, O, N);
    Mat<double> y(O, N), dx(F, N);
    ld->forward(CMatView<double>(x.data(), F, N), MatView<double>(y.data(), O, N), {});
    ld->backward(CMatView<double>(x.data(), F, N), CMatView<double>(y.data(), O, N), CMatView<double>(dy.data(), O, N), dx.data());
    for (int threads : {1, 2}) {
        set_num_threads(threads);
        auto lf = make_layer<float>(spec);
        lf->setup(in);
        std::vector<float> pf(pd.begin(), pd.end()), gf(np, 0.0f);
        lf->bind(pf.data(), gf.data());
        const Mat<float> xf = x.cast<float>(), dyf = dy.cast<float>();
        Mat<float> yf(O, N), dxf(F, N);
        lf->forward(CMatView<float>(xf.data(), F, N), MatView<float>(yf.data(), O, N), {});
        lf->backward(CMatView<float>(xf.data(), F, N), CMatView<float>(yf.data(), O, N), CMatView<float>(dyf.data(), O, N), dxf.data());
        const Mat<float> gfm = Eigen::Map<Mat<float>>(gf.data(), static_cast<Eigen::Index>(np), 1);
        const Mat<double> gdm = Eigen::Map<Mat<double>>(gd.data(), static_cast<Eigen::Index>(np), 1);
        const double wg = worst_rel(gfm, gdm, 1.0), wx = worst_rel(dxf, dx, 1.0);
        std::cout << "[conv backward] " << threads << " thread(s): worst |diff| / (1 + |want|) dW " << wg << ", dx " << wx << "\n";
        EXPECT_LT(wg, 1e-5);
        EXPECT_LT(wx, 1e-5);
    }
    set_num_threads(1);
}

TEST(CnnLayers, BatchNormRunningStatisticsFollowPyTorch) {
    // ref: torch.nn.BatchNorm2d(momentum=0.1): running_mean = 0.9 * 0 + 0.1 * mean,
    // running_var = 0.9 * 1 + 0.1 * var_unbiased. One channel, values 1..8 in 2 samples of 2x2.
    Network<double> net(json::parse(R"([{"type":"batchnorm"}])"), {1, 2, 2});
    Rng rng(1);
    net.init(rng);
    Mat<double> x(4, 2);
    x << 1, 5, 2, 6, 3, 7, 4, 8;
    const auto y = net.forward(CMatView<double>(x.data(), 4, 2), {true, &rng});
    const double mean = 4.5, var_b = 5.25, var_u = 6.0;
    ASSERT_EQ(net.num_params(), 2u);   // gamma, beta: what optimizers see
    ASSERT_EQ(net.num_buffers(), 2u);  // running_mean, running_var
    EXPECT_NEAR(net.buffers()[0], 0.1 * mean, 1e-12);
    EXPECT_NEAR(net.buffers()[1], 0.9 + 0.1 * var_u, 1e-12);
    EXPECT_NEAR(y(0, 0), (1 - mean) / std::sqrt(var_b + 1e-5), 1e-12);
    // Inference uses the running statistics, and its input gradient is gamma / sqrt(running_var + eps).
    net.params()[0] = 2.0;  // gamma
    net.params()[1] = 0.5;  // beta
    const auto yi = net.forward(CMatView<double>(x.data(), 4, 2), {});
    const double rm = 0.45, rv = 1.5;
    EXPECT_NEAR(yi(3, 1), 2.0 * (8 - rm) / std::sqrt(rv + 1e-5) + 0.5, 1e-12);
    auto layer = make_layer<double>(json::parse(R"({"type":"batchnorm"})"));
    layer->setup({1, 2, 2});
    std::vector<double> p = {2.0, 0.5}, g(2, 0.0), stats = {rm, rv};
    layer->bind(p.data(), g.data());
    layer->bind_buffers(stats.data());
    Mat<double> yy(4, 2), dy = Mat<double>::Ones(4, 2), dx(4, 2);
    layer->forward(CMatView<double>(x.data(), 4, 2), MatView<double>(yy.data(), 4, 2), {});
    layer->backward(CMatView<double>(x.data(), 4, 2), CMatView<double>(yy.data(), 4, 2), CMatView<double>(dy.data(), 4, 2), dx.data());
    EXPECT_NEAR(dx(0, 0), 2.0 / std::sqrt(rv + 1e-5), 1e-12);
    EXPECT_NEAR(g[1], 8.0, 1e-12);  // dbeta = sum dy
    EXPECT_EQ(stats, (std::vector<double>{rm, rv}));  // inference leaves the statistics alone
    // The tensors keep PyTorch's state_dict names and order; the kinds say which are trained.
    std::vector<std::string> names;
    for (const auto& e : net.tensors()) names.push_back(e.name + (e.trainable() ? "" : " (buffer)"));
    EXPECT_EQ(names, (std::vector<std::string>{"layers.0.weight", "layers.0.bias", "layers.0.running_mean (buffer)", "layers.0.running_var (buffer)"}));
    EXPECT_EQ(net.tensors()[0].kind, ParamKind::Scale);
    EXPECT_EQ(net.tensors()[1].kind, ParamKind::Shift);
    EXPECT_EQ(net.data(net.tensors()[3]), net.buffers() + 1);
}

TEST(CnnLayers, TensorsAreLaidOutInTwoBuffersWithTheirLayerAndKind) {
    // conv (weight, no bias) | batchnorm (scale, shift | mean, var) | relu | gap | dense (weight, bias)
    Network<float> net(json::parse(R"([{"type":"conv2d","channels":3,"kernel":3,"bias":false},{"type":"batchnorm"},
                                       {"type":"relu"},{"type":"global_avg_pool"},{"type":"dense","units":2}])"),
                       {1, 5, 5});
    struct Want {
        const char* name;
        std::size_t layer;
        ParamKind kind;
        std::size_t offset, size;
    };
    const Want want[] = {{"layers.0.weight", 0, ParamKind::Weight, 0, 27},        {"layers.1.weight", 1, ParamKind::Scale, 27, 3},
                         {"layers.1.bias", 1, ParamKind::Shift, 30, 3},           {"layers.1.running_mean", 1, ParamKind::Buffer, 0, 3},
                         {"layers.1.running_var", 1, ParamKind::Buffer, 3, 3},    {"layers.4.weight", 4, ParamKind::Weight, 33, 6},
                         {"layers.4.bias", 4, ParamKind::Bias, 39, 2}};
    ASSERT_EQ(net.tensors().size(), std::size(want));
    for (std::size_t i = 0; i < std::size(want); ++i) {
        const auto& e = net.tensors()[i];
        EXPECT_EQ(e.name, want[i].name);
        EXPECT_EQ(e.layer, want[i].layer) << e.name;
        EXPECT_EQ(e.kind, want[i].kind) << e.name;
        EXPECT_EQ(e.offset, want[i].offset) << e.name;
        EXPECT_EQ(e.size, want[i].size) << e.name;
    }
    EXPECT_EQ(net.num_params(), 41u);
    EXPECT_EQ(net.num_buffers(), 6u);
    // A snapshot carries both buffers; restore puts both back.
    Rng rng(2);
    net.init(rng);
    const std::vector<float> s = net.snapshot();
    ASSERT_EQ(s.size(), 47u);
    EXPECT_EQ(s[41 + 3], 1.0f);  // running_var starts at 1
    std::fill(net.params(), net.params() + net.num_params(), 0.0f);
    std::fill(net.buffers(), net.buffers() + net.num_buffers(), 0.0f);
    net.restore(s);
    EXPECT_EQ(net.snapshot(), s);
    EXPECT_TRUE(net.all_finite());
    net.buffers()[0] = NAN;
    EXPECT_FALSE(net.all_finite());
    EXPECT_THROW(net.restore(std::vector<float>(41)), genrekit::Error);
}

TEST(CnnLayers, MaxPoolGivesTheGradientToTheFirstMaximum) {
    auto l = make_layer<float>(json::parse(R"({"type":"maxpool2d","size":2})"));
    l->setup({1, 2, 2});
    Mat<float> x(4, 1), y(1, 1), dy = Mat<float>::Constant(1, 1, 3.0f), dx(4, 1);
    x << 1, 7, 7, 2;  // a tie between positions 1 and 2
    l->forward(CMatView<float>(x.data(), 4, 1), MatView<float>(y.data(), 1, 1), {});
    l->backward(CMatView<float>(x.data(), 4, 1), CMatView<float>(y.data(), 1, 1), CMatView<float>(dy.data(), 1, 1), dx.data());
    EXPECT_EQ(y(0, 0), 7.0f);
    EXPECT_EQ(dx(1, 0), 3.0f);
    EXPECT_EQ(dx(2, 0), 0.0f);
}

TEST(CnnLayers, NetworkSkippingReluBeforeMaxPoolGivesTheLayerByLayerBits) {
    // A Network lets a max pool do the work of the ReLU before it (relu(max) = max(relu), and the
    // gradient reaches the window's first maximum times [max > 0]); the same layers run one by one,
    // none skipped, must give the same logits and parameter gradients bit for bit. The ReLU before
    // the average pool cannot be skipped and runs as a layer in both. Inputs are dense with exact
    // zeros and ties after the ReLU, so every branch of the routing is taken.
    const json spec = json::parse(R"([
        {"type":"conv2d","channels":4,"kernel":3,"padding":1}, {"type":"batchnorm"}, {"type":"relu"},
        {"type":"maxpool2d","size":2}, {"type":"conv2d","channels":6,"kernel":3,"padding":1}, {"type":"relu"},
        {"type":"maxpool2d","size":[2,3],"stride":[1,2]}, {"type":"relu"}, {"type":"avgpool2d","size":2},
        {"type":"flatten"}, {"type":"dense","units":3}])");
    const Shape in{1, 10, 14};
    const std::int64_t N = 5, F = shape_size(in);
    for (int threads : {1, 2}) {
        set_num_threads(threads);
        Network<float> net(spec, in);
        Rng rng(7);
        net.init(rng);
        Mat<float> x(F, N);
        for (Eigen::Index i = 0; i < x.size(); ++i) x.data()[i] = static_cast<float>(std::round(4 * rng.normal()) / 4);
        Mat<float> dlogits(3, N);
        for (Eigen::Index i = 0; i < dlogits.size(); ++i) dlogits.data()[i] = static_cast<float>(rng.normal());
        Rng pass_rng(3);
        net.zero_grad();
        const Mat<float> logits = net.forward(CMatView<float>(x.data(), F, N), {true, &pass_rng});
        net.backward(CMatView<float>(dlogits.data(), 3, N));

        // The same layers, parameters and gradients bound to copies, run one by one.
        std::vector<float> params(net.params(), net.params() + net.num_params()), grads(net.num_params(), 0.0f);
        std::vector<float> buffers(net.buffers(), net.buffers() + net.num_buffers());
        std::vector<std::unique_ptr<Layer<float>>> layers;
        std::vector<Mat<float>> acts;
        Shape s = in;
        std::size_t offset = 0, buffer_offset = 0;
        for (std::size_t i = 0; i < spec.size(); ++i) {
            layers.push_back(make_layer<float>(spec[i]));
            s = layers.back()->setup(s);
            layers.back()->bind(params.data() + offset, grads.data() + offset);
            layers.back()->bind_buffers(buffers.data() + buffer_offset);
            for (const auto& p : layers.back()->param_specs()) (p.trainable() ? offset : buffer_offset) += static_cast<std::size_t>(p.size());
            acts.emplace_back(shape_size(s), N);
        }
        ASSERT_EQ(offset, net.num_params());
        ASSERT_EQ(buffer_offset, net.num_buffers());
        const Mat<float>* cur = &x;
        for (std::size_t i = 0; i < layers.size(); ++i) {
            layers[i]->forward(CMatView<float>(cur->data(), cur->rows(), N), MatView<float>(acts[i].data(), acts[i].rows(), N), {true, &pass_rng});
            cur = &acts[i];
        }
        Mat<float> dy = dlogits;
        for (std::size_t i = layers.size(); i-- > 0;) {
            const Mat<float>& xin = i == 0 ? x : acts[i - 1];
            Mat<float> dx(xin.rows(), N);
            layers[i]->backward(CMatView<float>(xin.data(), xin.rows(), N), CMatView<float>(acts[i].data(), acts[i].rows(), N),
                                CMatView<float>(dy.data(), dy.rows(), N), i == 0 ? nullptr : dx.data());
            dy = dx;
        }
        std::size_t zeros_after_relu = 0;
        for (Eigen::Index i = 0; i < acts[2].size(); ++i) zeros_after_relu += acts[2].data()[i] == 0.0f;
        EXPECT_GT(zeros_after_relu, static_cast<std::size_t>(acts[2].size() / 4));  // the ReLU clamps plenty (ties at 0)
        std::size_t differ = 0;
        for (Eigen::Index i = 0; i < logits.size(); ++i) differ += logits.data()[i] != acts.back().data()[i];
        for (std::size_t i = 0; i < grads.size(); ++i) differ += grads[i] != net.grads()[i];
        EXPECT_EQ(differ, 0u) << "threads " << threads << ": values that differ between the network and the layers run one by one";
        double gsum = 0;
        for (float g : grads) gsum += std::abs(g);
        EXPECT_GT(gsum, 0.0);
    }
    set_num_threads(1);
}

TEST(CnnLayers, Cnn4HasPyTorchsParameterCount) {
    json layers = json::array();
    for (int ch : {16, 32, 64, 128}) {
        layers.push_back({{"type", "conv2d"}, {"channels", ch}, {"kernel", 3}, {"padding", 1}, {"bias", false}});
        layers.push_back({{"type", "batchnorm"}});
        layers.push_back({{"type", "relu"}});
        layers.push_back({{"type", "maxpool2d"}, {"size", 2}});
    }
    layers.push_back({{"type", "global_avg_pool"}});
    layers.push_back({{"type", "dense"}, {"units", 10}});
    Network<float> net(layers, {1, 128, 130});
    EXPECT_EQ(net.num_params(), 98682u);  // sum(p.numel() for p in model.parameters()) in PyTorch
    EXPECT_EQ(net.num_buffers(), 480u);   // running_mean and running_var (PyTorch's buffers, less num_batches_tracked)
    EXPECT_EQ(net.output_shape(), (Shape{10}));
    EXPECT_EQ(net.layers_json(), Network<float>(net.layers_json(), {1, 128, 130}).layers_json());  // registry round trip
}

TEST(CnnLayers, BadSpecsAreClearErrors) {
    auto msg = [](const json& layers, const Shape& in) {
        try {
            Network<float> n(layers, in);
        } catch (const genrekit::Error& e) {
            return std::string(e.what());
        }
        return std::string("no error");
    };
    EXPECT_NE(msg(json::parse(R"([{"type":"conv2d"}])"), {1, 8, 8}).find("missing key 'channels'"), std::string::npos);
    EXPECT_NE(msg(json::parse(R"([{"type":"conv2d","channels":2,"kernel":4,"padding":"same"}])"), {1, 8, 8}).find("odd kernel"), std::string::npos);
    EXPECT_NE(msg(json::parse(R"([{"type":"conv2d","channels":2,"kernel":9}])"), {1, 8, 8}).find("does not fit"), std::string::npos);
    EXPECT_NE(msg(json::parse(R"([{"type":"maxpool2d","size":4}])"), {1, 2, 8}).find("larger than the input"), std::string::npos);
    EXPECT_NE(msg(json::parse(R"([{"type":"conv2d","channels":2}])"), {64}).find("needs an image-like input"), std::string::npos);
    EXPECT_NE(msg(json::parse(R"([{"type":"batchnorm","momentum":0.1,"foo":1}])"), {1, 8, 8}).find("unknown key 'foo'"), std::string::npos);
}

// One spec reader (src/nn/layer_spec.hpp) serves the dense and the CNN layers; each key keeps its
// own range: dropout.rate in [0, 1), batchnorm.eps in (0, 1), batchnorm.momentum in (0, 1].
TEST(CnnLayers, SpecRangesAndInitNamesAreCheckedTheSameWayForEveryLayer) {
    auto msg = [](const std::string& layer, const Shape& in) {
        try {
            Network<float> n(json::array({json::parse(layer)}), in);
        } catch (const genrekit::Error& e) {
            return std::string(e.what());
        }
        return std::string("no error");
    };
    EXPECT_EQ(msg(R"({"type":"dropout","rate":0})", {4}), "no error");
    EXPECT_NE(msg(R"({"type":"dropout","rate":1})", {4}).find(".rate = 1 must be in [0.000000, 1.000000)"), std::string::npos)
        << msg(R"({"type":"dropout","rate":1})", {4});
    EXPECT_NE(msg(R"({"type":"dropout","rate":-0.1})", {4}).find(".rate = -0.1 must be in [0.000000, 1.000000)"), std::string::npos);
    EXPECT_NE(msg(R"({"type":"batchnorm","eps":0})", {1, 4, 4}).find(".eps = 0 must be in (0.000000, 1.000000)"), std::string::npos)
        << msg(R"({"type":"batchnorm","eps":0})", {1, 4, 4});
    EXPECT_NE(msg(R"({"type":"batchnorm","momentum":0})", {1, 4, 4}).find(".momentum = 0 must be in (0.000000, "), std::string::npos);
    EXPECT_EQ(msg(R"({"type":"batchnorm","momentum":1})", {1, 4, 4}), "no error");
    EXPECT_NE(msg(R"({"type":"batchnorm","eps":"small"})", {1, 4, 4}).find(".eps: must be a number, got \"small\""), std::string::npos);
    const std::string allowed = ".init: unknown 'glorot' (allowed: xavier_uniform, xavier_normal, he_uniform, he_normal, torch_default)";
    EXPECT_NE(msg(R"({"type":"dense","units":2,"init":"glorot"})", {4}).find(allowed), std::string::npos);
    EXPECT_NE(msg(R"({"type":"conv2d","channels":2,"init":"glorot"})", {1, 4, 4}).find(allowed), std::string::npos);
    EXPECT_NE(msg(R"({"type":"conv2d","channels":2,"init":3})", {1, 4, 4}).find(".init: must be a string"), std::string::npos);
    EXPECT_NE(msg(R"({"type":"dense","units":0})", {4}).find(".units = 0 must be >= 1"), std::string::npos);
    EXPECT_NE(msg(R"({"type":"conv2d","channels":2,"kernel":[3]})", {1, 4, 4}).find(".kernel: must be an integer or [h, w], got [3]"), std::string::npos);
    EXPECT_NE(msg(R"({"type":"relu","units":3})", {4}).find("unknown key 'units' for layer type 'relu' (allowed: none)"), std::string::npos);
}
