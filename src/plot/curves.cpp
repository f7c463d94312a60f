// `train`'s <model>.curves.svg: loss and accuracy per epoch for train and valid.
#include <algorithm>
#include <cmath>
#include <cstdio>

#include "genrekit/plot.hpp"

namespace genrekit {

CurveMarks curve_marks(const TrainResult& r) {
    CurveMarks m;
    m.best_epoch = r.best_epoch;
    // metrics.ensemble.kept_epochs: per seed, the epochs of its kept networks; the curves are the first seed's.
    if (r.metrics.contains("ensemble")) {
        const auto& kept = r.metrics["ensemble"]["kept_epochs"];
        if (kept.is_array() && !kept.empty()) {
            const auto& first = kept[0];
            if (first.is_array())
                for (const auto& e : first) m.kept_epochs.push_back(e.get<int>());
            else if (first.is_number_integer())
                m.kept_epochs.push_back(first.get<int>());
        }
    }
    return m;
}

namespace {

const char* kTrain = "#1f77b4";
const char* kValid = "#ff7f0e";
const char* kKept = "#2ca02c";

struct Panel {
    double x, y, w, h;      // plot area
    int epochs;
    double lo, hi;          // value range
    double px(double epoch) const { return x + (epochs > 1 ? (epoch - 1) / (epochs - 1) : 0.5) * w; }
    double py(double v) const { return y + h - (v - lo) / (hi - lo) * h; }
};

void draw_panel(plot::Svg& svg, const Panel& p, const std::vector<EpochLog>& h, const CurveMarks& marks, bool accuracy) {
    auto value = [&](const EpochLog& e, bool valid) { return accuracy ? (valid ? e.val_acc : e.acc) : (valid ? e.val_loss : e.loss); };
    svg.text(p.x + p.w / 2, p.y - 10, accuracy ? "accuracy" : "loss", "text-anchor=\"middle\" font-size=\"13\"");
    plot::value_axis(svg, p.x, p.y, p.w, p.h, p.lo, p.hi, accuracy ? "%.2f" : "%.3g");
    for (double t : plot::ticks(1, p.epochs, 8)) {
        if (t != std::floor(t)) continue;
        svg.line(p.px(t), p.y + p.h, p.px(t), p.y + p.h + 4, "#999");
        svg.text(p.px(t), p.y + p.h + 16, std::to_string(static_cast<int>(t)), "text-anchor=\"middle\" font-size=\"11\"");
    }
    svg.text(p.x + p.w / 2, p.y + p.h + 32, "epoch", "text-anchor=\"middle\"");
    // Learning-rate drops: a dashed line where the rate is lower than the epoch before.
    for (std::size_t i = 1; i < h.size(); ++i)
        if (h[i].lr < h[i - 1].lr) {
            char b[48];
            std::snprintf(b, sizeof b, "lr %.3g", h[i].lr);
            const double x = p.px(h[i].epoch);
            svg.line(x, p.y, x, p.y + p.h, "#888", "stroke-dasharray=\"4 3\"");
            svg.text(x + 3, p.y + 11, b, "font-size=\"10\" fill=\"#555\"");
        }
    for (bool valid : {false, true}) {
        std::vector<std::array<double, 2>> pts;
        for (const auto& e : h)
            if (std::isfinite(value(e, valid))) pts.push_back({p.px(e.epoch), p.py(std::clamp(value(e, valid), p.lo, p.hi))});
        if (!pts.empty()) svg.polyline(pts, valid ? kValid : kTrain, "stroke-width=\"2\"");
    }
    // Kept checkpoints: a ring on the curve they were chosen by (valid when there is one).
    auto mark = [&](int epoch, double r, const char* width) {
        if (epoch < 1 || epoch > static_cast<int>(h.size())) return;
        const EpochLog& e = h[static_cast<std::size_t>(epoch - 1)];
        const double v = std::isfinite(value(e, true)) ? value(e, true) : value(e, false);
        if (!std::isfinite(v)) return;
        svg.begin_group("kept checkpoint: epoch " + std::to_string(epoch));
        svg.line(p.px(epoch), p.y, p.px(epoch), p.y + p.h, kKept, "opacity=\"0.5\"");
        svg.circle(p.px(epoch), p.py(std::clamp(v, p.lo, p.hi)), r, "none", std::string("stroke=\"") + kKept + "\" stroke-width=\"" + width + "\"");
        svg.end_group();
    };
    for (int e : marks.kept_epochs)
        if (e != marks.best_epoch) mark(e, 4, "1.5");
    mark(marks.best_epoch, 6, "2.5");
    svg.rect(p.x, p.y, p.w, p.h, "none", "stroke=\"#999\"");
}

}  // namespace

std::string training_curves_svg(const std::vector<EpochLog>& h, const CurveMarks& marks, const std::string& title) {
    const int W = 920, H = 380;
    plot::Svg svg(W, H);
    svg.text(W / 2.0, 20, title, "text-anchor=\"middle\" font-size=\"14\"");
    // Legend.
    const double ly = 40;
    svg.line(250, ly - 4, 275, ly - 4, kTrain, "stroke-width=\"2\"").text(280, ly, "train");
    svg.line(330, ly - 4, 355, ly - 4, kValid, "stroke-width=\"2\"").text(360, ly, "valid");
    svg.circle(416, ly - 4, 6, "none", std::string("stroke=\"") + kKept + "\" stroke-width=\"2.5\"");
    char kept[96];
    std::snprintf(kept, sizeof kept, "kept checkpoint (epoch %d)", marks.best_epoch);
    svg.text(428, ly, marks.kept_epochs.size() > 1 ? std::string("kept checkpoints (best: epoch ") + std::to_string(marks.best_epoch) + ")" : kept);
    svg.line(620, ly - 4, 645, ly - 4, "#888", "stroke-dasharray=\"4 3\"").text(650, ly, "learning-rate drop");

    const int E = std::max<int>(1, static_cast<int>(h.size()));
    double lmax = 0;
    for (const auto& e : h)
        for (double v : {e.loss, e.val_loss})
            if (std::isfinite(v)) lmax = std::max(lmax, v);
    Panel loss{70, 80, 370, 240, E, 0, lmax > 0 ? lmax * 1.05 : 1};
    Panel acc{530, 80, 370, 240, E, 0, 1};
    draw_panel(svg, loss, h, marks, false);
    draw_panel(svg, acc, h, marks, true);
    return svg.str();
}

}  // namespace genrekit
