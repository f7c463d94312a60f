// `predict --plot`: a recording's log-mel and its genre probabilities over time, and the
// helpers the Grad-CAM picture shares with it (time axis, raster range).
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "genrekit/plot.hpp"
#include "timeline.hpp"

namespace genrekit::plot {

Raster shrink_columns(const Raster& r, int max_cols) {
    if (r.cols <= max_cols) return r;
    Raster o(r.rows, max_cols);
    for (int c = 0; c < max_cols; ++c) {
        const int c0 = static_cast<int>(static_cast<long>(c) * r.cols / max_cols), c1 = std::max(c0 + 1, static_cast<int>(static_cast<long>(c + 1) * r.cols / max_cols));
        for (int y = 0; y < r.rows; ++y) {
            double s = 0;
            for (int x = c0; x < c1; ++x) s += r.at(y, x);
            o.at(y, c) = static_cast<float>(s / (c1 - c0));
        }
    }
    return o;
}

std::array<double, 2> finite_range(const Raster& r) {
    double lo = INFINITY, hi = -INFINITY;
    for (float v : r.values)
        if (std::isfinite(v)) {
            lo = std::min(lo, static_cast<double>(v));
            hi = std::max(hi, static_cast<double>(v));
        }
    if (!(hi >= lo)) return {0, 1};
    return {lo, hi > lo ? hi : lo + 1};
}

void time_axis(Svg& svg, double x0, double y, double w, double duration) {
    for (double t : ticks(0, duration, 10)) {
        const double x = x0 + t / duration * w;
        char b[32];
        if (duration >= 120)
            std::snprintf(b, sizeof b, "%d:%02d", static_cast<int>(t) / 60, static_cast<int>(t) % 60);
        else
            std::snprintf(b, sizeof b, "%g s", t);
        svg.line(x, y, x, y + 4, "#999");
        svg.text(x, y + 16, b, "text-anchor=\"middle\" font-size=\"11\"");
    }
}

}  // namespace genrekit::plot

namespace genrekit {

std::string prediction_svg(const FilePrediction& f, const std::vector<std::string>& labels, const plot::Raster& log_mel, double duration,
                           const std::string& title) {
    using plot::Svg;
    const int K = static_cast<int>(labels.size());
    const double x0 = 110, w = 820, mel_y = 60, mel_h = 200, row_h = 20, rows_y = mel_y + mel_h + 40;
    const int W = 960, H = static_cast<int>(rows_y + K * row_h + 50);
    duration = std::max(duration, 1e-3);
    Svg svg(W, H);
    svg.text(W / 2.0, 20, title, "text-anchor=\"middle\" font-size=\"14\"");
    char buf[160];
    const auto top = static_cast<std::size_t>(f.label);
    std::snprintf(buf, sizeof buf, "%s %.3f (mean over %zu segment%s)", labels[top].c_str(), f.probabilities[top], f.segments.size(),
                  f.segments.size() == 1 ? "" : "s");
    svg.text(W / 2.0, 40, buf, "text-anchor=\"middle\"");

    // The log-mel, shrunk to at most a few pixels per screen column.
    const plot::Raster mel = plot::shrink_columns(log_mel, 2 * static_cast<int>(w));
    const auto range = plot::finite_range(mel);
    svg.image(x0, mel_y, w, mel_h, plot::raster_rgb(mel, std::max(range[0], range[1] - 80), range[1], plot::inferno), mel.cols, mel.rows);
    svg.rect(x0, mel_y, w, mel_h, "none", "stroke=\"#999\"");
    svg.text(x0 - 8, mel_y + 12, "log-mel", "text-anchor=\"end\"");
    svg.text(x0 - 8, mel_y + 28, "(" + std::to_string(log_mel.rows) + " bands)", "text-anchor=\"end\" font-size=\"11\"");
    plot::time_axis(svg, x0, mel_y + mel_h, w, duration);

    // One row per genre: each segment's probability as the darkness of its cell. Segments
    // overlap, so each cell spans from its start to the next segment's start.
    svg.text(x0 - 8, rows_y - 10, "probability", "text-anchor=\"end\" font-size=\"11\"");
    for (int k = 0; k < K; ++k) {
        const double y = rows_y + k * row_h;
        svg.text(x0 - 8, y + row_h - 6, labels[static_cast<std::size_t>(k)], std::string("text-anchor=\"end\"") + (k == f.label ? " font-weight=\"bold\"" : ""));
        svg.rect(x0, y, w, row_h, "#fafafa", "stroke=\"#eee\"");
        for (std::size_t s = 0; s < f.segments.size(); ++s) {
            const auto& seg = f.segments[s];
            if (seg.probabilities.size() != labels.size()) continue;
            const double p = seg.probabilities[static_cast<std::size_t>(k)];
            const double t1 = s + 1 < f.segments.size() ? std::min(seg.end, f.segments[s + 1].start) : seg.end;
            const double a = std::clamp(seg.start / duration, 0.0, 1.0), b = std::clamp(t1 / duration, 0.0, 1.0);
            const auto c = plot::viridis(p);
            std::snprintf(buf, sizeof buf, "rgb(%d,%d,%d)", c[0], c[1], c[2]);
            char tip[160];
            std::snprintf(tip, sizeof tip, "%s %.3f at %.1f-%.1f s", labels[static_cast<std::size_t>(k)].c_str(), p, seg.start, seg.end);
            svg.begin_group(tip).rect(x0 + a * w, y, std::max((b - a) * w, 0.5), row_h, buf, "shape-rendering=\"crispEdges\"").end_group();
        }
        std::snprintf(buf, sizeof buf, "%.2f", f.probabilities[static_cast<std::size_t>(k)]);
        svg.text(x0 + w + 6, y + row_h - 6, buf, "font-size=\"11\"");
    }
    plot::time_axis(svg, x0, rows_y + K * row_h, w, duration);
    // Colour key.
    for (int i = 0; i <= 10; ++i) {
        const auto c = plot::viridis(i / 10.0);
        std::snprintf(buf, sizeof buf, "rgb(%d,%d,%d)", c[0], c[1], c[2]);
        svg.rect(x0 + i * 14, H - 18, 14, 10, buf);
    }
    svg.text(x0 - 6, H - 9, "0", "text-anchor=\"end\" font-size=\"11\"").text(x0 + 11 * 14 + 4, H - 9, "1 (probability)", "font-size=\"11\"");
    return svg.str();
}

}  // namespace genrekit
