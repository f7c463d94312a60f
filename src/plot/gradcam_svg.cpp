// `explain`: Grad-CAM over the model's input, stitched over the file and per segment.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "genrekit/plot.hpp"
#include "timeline.hpp"

namespace genrekit {
namespace {

// bands x frames band-major (band 0 lowest) as a raster with the highest band on top; scaled by 1/scale.
plot::Raster image_of(const float* v, int bands, int frames, float scale = 1) {
    plot::Raster r(bands, frames);
    for (int b = 0; b < bands; ++b)
        for (int f = 0; f < frames; ++f) r.at(bands - 1 - b, f) = v[static_cast<std::size_t>(b) * static_cast<std::size_t>(frames) + static_cast<std::size_t>(f)] / scale;
    return r;
}

float max_of(const std::vector<float>& v) {
    float m = 0;
    for (float x : v) m = std::max(m, x);
    return m > 0 ? m : 1.0f;
}

}  // namespace

std::string grad_cam_svg(const GradCam& g, const std::vector<std::string>& labels, const std::string& title) {
    const double x0 = 110, w = 820, panel_h = 170;
    const int cols = 5, thumb_w = 156, thumb_h = 100, thumb_gap = 10;
    // Long recordings: at most 30 segment panels, evenly spaced over the file.
    std::vector<std::size_t> shown;
    const std::size_t S = g.starts.size(), max_shown = 30;
    for (std::size_t i = 0; i < std::min(S, max_shown); ++i) shown.push_back(S <= max_shown ? i : i * (S - 1) / (max_shown - 1));
    const int grid_rows = static_cast<int>((shown.size() + cols - 1) / cols);
    const double grid_y = 80 + 2 * (panel_h + 30) + 30;
    const int W = 960, H = static_cast<int>(grid_y + grid_rows * (thumb_h + 34) + 20);
    plot::Svg svg(W, H);
    const std::string& target = labels[static_cast<std::size_t>(g.target)];
    svg.text(W / 2.0, 20, title, "text-anchor=\"middle\" font-size=\"14\"");
    char buf[256];
    std::snprintf(buf, sizeof buf, "Grad-CAM of %s (%s), file: %s %.3f; activations of %s", target.c_str(), g.predicted ? "predicted" : "asked for",
                  labels[static_cast<std::size_t>(g.prediction.label)].c_str(), g.prediction.proba[static_cast<std::size_t>(g.prediction.label)],
                  g.layer.c_str());
    svg.text(W / 2.0, 40, buf, "text-anchor=\"middle\"");

    // The whole file: the input, then the input with the map over it.
    const plot::Raster input = plot::shrink_columns(image_of(g.stitched_input.data(), g.bands, g.total_frames), 2 * static_cast<int>(w));
    const plot::Raster map = plot::shrink_columns(image_of(g.stitched_map.data(), g.bands, g.total_frames, max_of(g.stitched_map)), 2 * static_cast<int>(w));
    const auto range = plot::finite_range(input);
    const double duration = std::max(g.total_frames * g.seconds_per_frame, 1e-3);
    const double y1 = 60, y2 = y1 + panel_h + 30;
    svg.image(x0, y1, w, panel_h, plot::raster_rgb(input, range[0], range[1], plot::inferno), input.cols, input.rows);
    svg.rect(x0, y1, w, panel_h, "none", "stroke=\"#999\"");
    svg.text(x0 - 8, y1 + 14, "input", "text-anchor=\"end\"").text(x0 - 8, y1 + 30, std::to_string(g.bands) + " bands", "text-anchor=\"end\" font-size=\"11\"");
    plot::time_axis(svg, x0, y1 + panel_h, w, duration);
    svg.image(x0, y2, w, panel_h, plot::raster_rgb(input, range[0], range[1], plot::inferno, &map, plot::viridis), map.cols, map.rows);
    svg.rect(x0, y2, w, panel_h, "none", "stroke=\"#999\"");
    svg.text(x0 - 8, y2 + 14, "Grad-CAM", "text-anchor=\"end\"").text(x0 - 8, y2 + 30, target, "text-anchor=\"end\" font-size=\"11\"");
    plot::time_axis(svg, x0, y2 + panel_h, w, duration);

    // Each segment on its own, scaled by the largest value of any segment so they compare.
    const float seg_max = max_of(g.maps);
    svg.text(x0, grid_y - 8, shown.size() == S ? "segments" : "segments (" + std::to_string(shown.size()) + " of " + std::to_string(S) + ")");
    const std::size_t per = g.segment_size();
    for (std::size_t i = 0; i < shown.size(); ++i) {
        const std::size_t s = shown[i];
        const double x = x0 + static_cast<double>(i % cols) * (thumb_w + thumb_gap), y = grid_y + static_cast<double>(i / cols) * (thumb_h + 34);
        const plot::Raster in = image_of(g.inputs.data() + s * per, g.bands, g.frames);
        const plot::Raster m = image_of(g.maps.data() + s * per, g.bands, g.frames, seg_max);
        const auto r = plot::finite_range(in);
        svg.image(x, y, thumb_w, thumb_h, plot::raster_rgb(in, r[0], r[1], plot::inferno, &m, plot::viridis), in.cols, in.rows);
        if (g.silent[s])
            std::snprintf(buf, sizeof buf, "%.1f s: silent", g.starts[s]);
        else
            std::snprintf(buf, sizeof buf, "%.1f s: %s %.2f", g.starts[s], target.c_str(), g.target_probability[s]);
        svg.text(x, y + thumb_h + 14, buf, "font-size=\"11\"");
    }
    return svg.str();
}

}  // namespace genrekit
