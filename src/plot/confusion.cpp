// `eval --svg`: the confusion matrix and each class's recall.
#include <algorithm>
#include <cstdio>

#include "genrekit/plot.hpp"

namespace genrekit {

std::string confusion_matrix_svg(const ClassificationReport& r, const std::string& title) {
    // Each cell is shaded by the fraction of its TRUE class (row-normalised recall), labelled with the count.
    const int K = static_cast<int>(r.labels.size()), cell = 48, left = 110, top = 70;
    const int bars = left + K * cell + 30, bar_w = 160;  // the recall bars, right of the matrix
    // Wide enough for the title too (about 8 px per character at font size 14).
    const int width = std::max(bars + bar_w + 60, static_cast<int>(title.size()) * 8 + 20), height = top + K * cell + 90;
    plot::Svg svg(width, height);
    svg.text(width / 2.0, 20, title, "text-anchor=\"middle\" font-size=\"14\"");
    char buf[96];
    std::snprintf(buf, sizeof buf, "accuracy %.3f, macro F1 %.3f, %ld rows", r.accuracy, r.macro_f1, r.n);
    svg.text(width / 2.0, 38, buf, "text-anchor=\"middle\"");
    for (int i = 0; i < K; ++i) {
        const auto& label = r.labels[static_cast<std::size_t>(i)];
        long row = 0;
        for (auto c : r.confusion[static_cast<std::size_t>(i)]) row += c;
        const double yc = top + i * cell + cell / 2.0;
        svg.text(left - 6, yc + 4, label, "text-anchor=\"end\"");
        for (int j = 0; j < K; ++j) {
            const long c = r.confusion[static_cast<std::size_t>(i)][static_cast<std::size_t>(j)];
            const double f = row ? static_cast<double>(c) / static_cast<double>(row) : 0.0;
            const int shade = static_cast<int>(255 - 200 * f);
            std::snprintf(buf, sizeof buf, "rgb(%d,%d,255)", shade, shade);
            svg.begin_group("truth " + label + ", predicted " + r.labels[static_cast<std::size_t>(j)] + ": " + std::to_string(c));
            svg.rect(left + j * cell, top + i * cell, cell, cell, buf, "stroke=\"#999\"");
            svg.text(left + j * cell + cell / 2.0, yc + 4, std::to_string(c), std::string("text-anchor=\"middle\" fill=\"") + (f > 0.5 ? "white" : "black") + "\"");
            svg.end_group();
        }
        // Recall of class i: the diagonal over its row (sklearn: zero_division = 0).
        const double recall = i < static_cast<int>(r.per_class.size()) ? r.per_class[static_cast<std::size_t>(i)].recall : 0.0;
        std::snprintf(buf, sizeof buf, "%.2f", recall);
        svg.begin_group("recall of " + label + ": " + buf + " (" + std::to_string(row) + " in truth)");
        svg.rect(bars, yc - 12, bar_w, 24, "#eee");
        svg.rect(bars, yc - 12, bar_w * recall, 24, "#4a7bd0");
        svg.text(bars + bar_w + 6, yc + 4, buf);
        svg.end_group();
    }
    for (int j = 0; j < K; ++j) {
        const int x = left + j * cell + cell / 2, y = top + K * cell + 8;
        svg.text(x, y, r.labels[static_cast<std::size_t>(j)],
                 "text-anchor=\"end\" transform=\"rotate(-45 " + std::to_string(x) + " " + std::to_string(y) + ")\"");
    }
    svg.text(bars + bar_w / 2.0, top - 8, "recall", "text-anchor=\"middle\"");
    svg.text(left + K * cell / 2.0, height - 8, "predicted", "text-anchor=\"middle\"");
    const int mid = top + K * cell / 2;
    svg.text(14, mid, "truth", "text-anchor=\"middle\" transform=\"rotate(-90 14 " + std::to_string(mid) + ")\"");
    return svg.str();
}

}  // namespace genrekit
