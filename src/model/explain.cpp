#include "genrekit/explain.hpp"

#include <algorithm>
#include <cmath>

#include "genrekit/error.hpp"
#include "nn/parallel.hpp"

namespace genrekit {
namespace {

// The last convolution block's output: the last conv2d, then past the BatchNorm and ReLU that
// follow it (Grad-CAM's A is the rectified feature map the rest of the network reads).
std::size_t cam_layer(const nn::Network<float>& net, const std::string& model_path, std::string& name) {
    std::size_t conv = net.num_layers();
    for (std::size_t i = 0; i < net.num_layers(); ++i)
        if (net.layer(i).type() == "conv2d") conv = i;
    if (conv == net.num_layers()) throw Error(model_path + ": the network has no conv2d layer to explain");
    std::size_t i = conv;
    while (i + 2 < net.num_layers() && (net.layer(i + 1).type() == "batchnorm" || net.layer(i + 1).type() == "relu")) ++i;
    name = "layers." + std::to_string(i) + " (" + net.layer(i).type() + (i == conv ? "" : " after conv2d layers." + std::to_string(conv)) + ")";
    return i;
}

// src (h x w, row-major) stretched to dst (H x W) bilinearly, pixel centres aligned
// (ref: torch.nn.functional.interpolate(mode='bilinear', align_corners=False)).
void upsample_add(const std::vector<float>& src, std::int64_t h, std::int64_t w, float* dst, int H, int W, float scale) {
    auto coord = [](int o, std::int64_t in, int out, std::int64_t& i0, std::int64_t& i1, float& f) {
        const double c = std::clamp((o + 0.5) * static_cast<double>(in) / out - 0.5, 0.0, static_cast<double>(in - 1));
        i0 = static_cast<std::int64_t>(c);
        i1 = std::min(i0 + 1, in - 1);
        f = static_cast<float>(c - static_cast<double>(i0));
    };
    for (int y = 0; y < H; ++y) {
        std::int64_t y0, y1;
        float fy;
        coord(y, h, H, y0, y1, fy);
        for (int x = 0; x < W; ++x) {
            std::int64_t x0, x1;
            float fx;
            coord(x, w, W, x0, x1, fx);
            const float top = src[static_cast<std::size_t>(y0 * w + x0)] * (1 - fx) + src[static_cast<std::size_t>(y0 * w + x1)] * fx;
            const float bot = src[static_cast<std::size_t>(y1 * w + x0)] * (1 - fx) + src[static_cast<std::size_t>(y1 * w + x1)] * fx;
            dst[static_cast<std::size_t>(y) * static_cast<std::size_t>(W) + static_cast<std::size_t>(x)] += scale * (top * (1 - fy) + bot * fy);
        }
    }
}

// Adds each sample's Grad-CAM (member weight `scale`) to maps (bands x frames per sample).
void add_member_maps(nn::Network<float>& net, std::size_t L, bool rectify, const float* x, std::int64_t n, int target, int bands, int frames,
                     float scale, float* maps) {
    const auto logits = net.forward(nn::CMatView<float>(x, nn::shape_size(net.input_shape()), n), {});
    nn::Mat<float> dlogits = nn::Mat<float>::Zero(logits.rows(), n);
    dlogits.row(target).setOnes();  // d(sum of the samples' class scores): each sample's own gradient
    net.zero_grad();
    net.backward(nn::CMatView<float>(dlogits.data(), dlogits.rows(), n));
    const nn::Shape& s = net.output_shape(L);  // {C, H, W}
    const std::int64_t C = s[0], H = s[1], W = s[2], HW = H * W;
    const auto A = net.output(L), G = net.output_grad(L);
    std::vector<float> cam(static_cast<std::size_t>(HW));
    for (std::int64_t j = 0; j < n; ++j) {
        std::fill(cam.begin(), cam.end(), 0.0f);
        for (std::int64_t c = 0; c < C; ++c) {
            const float* g = G.col(j).data() + c * HW;
            const float* a = A.col(j).data() + c * HW;
            double w = 0;
            for (std::int64_t p = 0; p < HW; ++p) w += g[p];
            const float wk = static_cast<float>(w / static_cast<double>(HW));
            // An absorbed ReLU's output is its input, not yet rectified.
            for (std::int64_t p = 0; p < HW; ++p) cam[static_cast<std::size_t>(p)] += wk * (rectify ? std::max(a[p], 0.0f) : a[p]);
        }
        for (float& v : cam) v = std::max(v, 0.0f);
        upsample_add(cam, H, W, maps + j * bands * frames, bands, frames, scale);
    }
}

}  // namespace

GradCam grad_cam(Model& model, const std::string& path, int label) {
    if (!model.is_spectrogram())
        throw Error(model.path() + ": explain draws Grad-CAM over a spectrogram, and this is a feature (MLP) model; train a spectrogram CNN (e.g. configs/cnn_gtzan.json)");
    GradCam g;
    std::size_t L = cam_layer(model.network(0), model.path(), g.layer);
    const nn::Shape& s = model.network(0).output_shape(L);
    if (s.size() != 3) throw Error(model.path() + ": " + g.layer + " has no spatial output to explain");
    if (label >= static_cast<int>(model.labels().size())) throw Error("explain: label index " + std::to_string(label) + " is out of range");

    const SpectrogramParams& p = model.params();
    const TrackSpectrograms t = compute_spectrograms(path, p);
    g.path = path;
    g.prediction = model.predict(t);
    g.target = label >= 0 ? label : g.prediction.label;
    g.predicted = label < 0 || label == g.prediction.label;
    g.bands = t.bands;
    g.frames = t.frames;
    g.seconds_per_frame = static_cast<double>(p.hop) / p.sample_rate;
    g.duration = t.duration;
    g.starts = t.starts;
    g.silent = t.silent;
    g.inputs = t.values;
    const std::size_t per = g.segment_size();
    g.maps.assign(t.size() * per, 0.0f);
    g.target_probability.assign(t.size(), 0.0);
    for (std::size_t k = 0; k < t.size(); ++k)
        if (!g.prediction.segments[k].silent) g.target_probability[k] = g.prediction.segments[k].proba[static_cast<std::size_t>(g.target)];

    std::vector<std::size_t> used;
    const std::vector<float> x = model.standardized_segments(t, used);
    std::vector<float> maps(used.size() * per, 0.0f);
    const auto F = static_cast<std::int64_t>(per), n = static_cast<std::int64_t>(used.size());
    const std::int64_t chunk = 16;  // activations and their gradients of 16 segments at a time
    for (int m = 0; m < model.members(); ++m) {
        auto& net = model.network(m);
        net.set_pool(nn::shared_pool());
        for (std::int64_t c0 = 0; c0 < n; c0 += chunk)
            add_member_maps(net, L, net.layer(L).type() == "relu", x.data() + c0 * F, std::min(chunk, n - c0), g.target, g.bands, g.frames,
                            1.0f / static_cast<float>(model.members()), maps.data() + c0 * F);
        net.set_pool(nullptr);
    }
    for (std::size_t u = 0; u < used.size(); ++u) std::copy_n(maps.data() + u * per, per, g.maps.data() + used[u] * per);

    // Stitch: segment k starts at frame round(start / seconds_per_frame); overlaps are averaged.
    std::vector<int> offset(t.size());
    for (std::size_t k = 0; k < t.size(); ++k) {
        offset[k] = static_cast<int>(std::lround(t.starts[k] / g.seconds_per_frame));
        g.total_frames = std::max(g.total_frames, offset[k] + g.frames);
    }
    const std::size_t total = static_cast<std::size_t>(g.bands) * static_cast<std::size_t>(g.total_frames);
    g.stitched_input.assign(total, 0.0f);
    g.stitched_map.assign(total, 0.0f);
    std::vector<float> count(total, 0.0f);
    for (std::size_t k = 0; k < t.size(); ++k)
        for (int b = 0; b < g.bands; ++b)
            for (int f = 0; f < g.frames; ++f) {
                const std::size_t o = static_cast<std::size_t>(b) * static_cast<std::size_t>(g.total_frames) + static_cast<std::size_t>(offset[k] + f);
                const std::size_t i = k * per + static_cast<std::size_t>(b * g.frames + f);
                g.stitched_input[o] += g.inputs[i];
                g.stitched_map[o] += g.maps[i];
                count[o] += 1;
            }
    for (std::size_t o = 0; o < total; ++o)
        if (count[o] > 0) {
            g.stitched_input[o] /= count[o];
            g.stitched_map[o] /= count[o];
        }
    return g;
}

}  // namespace genrekit
