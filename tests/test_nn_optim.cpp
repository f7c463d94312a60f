// Optimizers against values computed by hand after two steps (tiny-dnn style).
//
// One parameter p0 = 1, gradients g1 = 0.5 then g2 = -0.25 (given, not computed from p),
// weight decay 0.1. The expected values are worked out in the comments; tolerance 1e-6
// (the optimizers compute in float32).
#include <gtest/gtest.h>

#include <cmath>

#include "genrekit/error.hpp"
#include "genrekit/nn/optim.hpp"

using namespace genrekit::nn;

namespace {
std::vector<float> two_steps(const OptimizerParams& o, float p0 = 1.0f) {
    auto opt = make_optimizer(o, 1);
    std::vector<float> out;
    float p = p0;
    for (float g : {0.5f, -0.25f}) {
        opt->step(&p, &g, 1);
        out.push_back(p);
    }
    return out;
}
constexpr double kTol = 1e-6;
}  // namespace

TEST(Optim, SgdMomentumL2) {
    OptimizerParams o;
    o.type = "sgd"; o.lr = 0.1; o.momentum = 0.9; o.weight_decay = 0.1;
    // step 1: g = 0.5 + 0.1*1 = 0.6;      buf = 0.6 (first step: buf = g);        p = 1 - 0.1*0.6 = 0.94
    // step 2: g = -0.25 + 0.1*0.94 = -0.156; buf = 0.9*0.6 - 0.156 = 0.384;       p = 0.94 - 0.0384 = 0.9016
    auto p = two_steps(o);
    EXPECT_NEAR(p[0], 0.94, kTol);
    EXPECT_NEAR(p[1], 0.9016, kTol);
}

TEST(Optim, SgdPlain) {
    OptimizerParams o;
    o.type = "sgd"; o.lr = 0.1;
    auto p = two_steps(o);  // 1 - 0.05 = 0.95; 0.95 + 0.025 = 0.975
    EXPECT_NEAR(p[0], 0.95, kTol);
    EXPECT_NEAR(p[1], 0.975, kTol);
}

TEST(Optim, AdamL2) {
    OptimizerParams o;
    o.type = "adam"; o.lr = 0.1; o.weight_decay = 0.1;  // betas 0.9, 0.999, eps 1e-8
    // step 1: g = 0.6; m = 0.06; v = 0.00036; m^ = 0.06/0.1 = 0.6; v^ = 0.00036/0.001 = 0.36
    //         p = 1 - 0.1 * 0.6 / (0.6 + 1e-8) = 0.9000000017
    // step 2: g = -0.25 + 0.1*0.9 = -0.16; m = 0.054 - 0.016 = 0.038; v = 0.00035964 + 0.0000256 = 0.00038524
    //         m^ = 0.038/0.19 = 0.2; v^ = 0.00038524/0.001999 = 0.19271636; sqrt = 0.43899472
    //         p = 0.9 - 0.1 * 0.2 / 0.43899472 = 0.85444137
    auto p = two_steps(o);
    EXPECT_NEAR(p[0], 0.9000000017, kTol);
    EXPECT_NEAR(p[1], 0.85444137, kTol);
}

TEST(Optim, AdamWDecoupled) {
    OptimizerParams o;
    o.type = "adamw"; o.lr = 0.1; o.weight_decay = 0.1;
    // step 1: p = 1 * (1 - 0.1*0.1) = 0.99; g = 0.5: m^ = 0.5, v^ = 0.25; p = 0.99 - 0.1 = 0.89
    // step 2: p = 0.89 * 0.99 = 0.8811; g = -0.25: m = 0.045 - 0.025 = 0.02, v = 0.00024975 + 0.0000625 = 0.00031225
    //         m^ = 0.02/0.19 = 0.10526316; v^ = 0.00031225/0.001999 = 0.15620310, sqrt = 0.39522538
    //         p = 0.8811 - 0.1 * 0.10526316 / 0.39522538 = 0.85446630
    auto p = two_steps(o);
    EXPECT_NEAR(p[0], 0.89, kTol);
    EXPECT_NEAR(p[1], 0.85446630, kTol);
}

TEST(Optim, RmsPropL2) {
    OptimizerParams o;
    o.type = "rmsprop"; o.lr = 0.01; o.weight_decay = 0.1;  // alpha 0.99, eps 1e-8 outside the sqrt
    // step 1: g = 0.6; v = 0.01*0.36 = 0.0036; avg = 0.06 + 1e-8; p = 1 - 0.01*0.6/0.06 = 0.9
    // step 2: g = -0.25 + 0.09 = -0.16; v = 0.003564 + 0.000256 = 0.00382; avg = 0.06180615
    //         p = 0.9 + 0.01*0.16/0.06180615 = 0.92588740
    auto p = two_steps(o);
    EXPECT_NEAR(p[0], 0.9, kTol);
    EXPECT_NEAR(p[1], 0.92588740, kTol);
}

TEST(Optim, RmsPropMomentum) {
    OptimizerParams o;
    o.type = "rmsprop"; o.lr = 0.01; o.weight_decay = 0.1; o.momentum = 0.5;
    // step 1: buf = 0.6/0.06 = 10; p = 1 - 0.01*10 = 0.9
    // step 2: g/avg = -0.16/0.06180615 = -2.58873; buf = 5 - 2.58873 = 2.41127; p = 0.9 - 0.0241127 = 0.87588741
    auto p = two_steps(o);
    EXPECT_NEAR(p[0], 0.9, kTol);
    EXPECT_NEAR(p[1], 0.87588741, kTol);
}

TEST(Optim, StateIsPerParameter) {
    // Two parameters stepped together give the same result as each alone.
    OptimizerParams o;
    o.type = "adam"; o.lr = 0.1; o.weight_decay = 0.1;
    auto opt = make_optimizer(o, 2);
    float p[2] = {1.0f, -3.0f};
    const float g[2][2] = {{0.5f, 2.0f}, {-0.25f, 1.0f}};
    for (auto& gs : g) opt->step(p, gs, 2);
    EXPECT_NEAR(p[0], 0.85444137, kTol);
    auto single = make_optimizer(o, 1);
    float q = -3.0f;
    for (float gi : {2.0f, 1.0f}) single->step(&q, &gi, 1);
    EXPECT_EQ(p[1], q);
}

TEST(Optim, BadParametersAreErrors) {
    OptimizerParams o;
    o.type = "adamm";
    EXPECT_THROW(make_optimizer(o, 1), genrekit::Error);
    o.type = "sgd";
    o.lr = -1;
    try {
        make_optimizer(o, 1);
        FAIL();
    } catch (const genrekit::Error& e) {
        EXPECT_NE(std::string(e.what()).find("optimizer.lr"), std::string::npos) << e.what();
    }
}
