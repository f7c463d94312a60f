// `genrekit eval --model MODEL --data CSV [--json OUT] [--csv CM.csv] [--svg CM.svg]`:
// accuracy, macro F1, per-class figures and the confusion matrix of a model on a feature CSV
// (for spectrogram models: on a folder of labelled audio, per track; --csv/--svg then hold the
// track-level confusion matrix).
#include <iostream>

#include "genrekit/atomic_file.hpp"
#include "genrekit/metrics.hpp"
#include "genrekit/plot.hpp"
#include "genrekit/json_text.hpp"
#include "tools.hpp"

namespace genrekit::tools {
namespace {
struct Args {
    std::string model, data, json_out, csv_out, svg_out;
} args;

AutoRegister reg([](CLI::App& app) {
    auto* sub = app.add_subcommand("eval", "Evaluate a trained model on a labelled feature CSV");
    sub->add_option("--model", args.model, "Model file (safetensors, from `genrekit train`)")->required()->check(CLI::ExistingFile);
    sub->add_option("--data", args.data, "Labelled feature CSV (for spectrogram models: an audio folder of <label>/ sub-folders)")->required()->check(CLI::ExistingPath);
    sub->add_option("--json", args.json_out, "Write the full report with per-row predictions as JSON");
    sub->add_option("--csv", args.csv_out, "Write the labelled confusion matrix as CSV (spectrogram models: per track)");
    sub->add_option("--svg", args.svg_out, "Draw the confusion matrix as an SVG heatmap with per-class recall bars (spectrogram models: per track)");
    set_runner(sub, [] {
        const Model model = Model::load(args.model);
        const DataEvaluation ev = evaluate(model, args.data);
        std::cout << ev.text;
        if (!args.json_out.empty()) write_file_atomic(args.json_out, dump_json(ev.json, 1) + "\n");
        if (!args.csv_out.empty()) write_file_atomic(args.csv_out, confusion_matrix_csv(ev.confusion));
        if (!args.svg_out.empty()) write_file_atomic(args.svg_out, confusion_matrix_svg(ev.confusion, ev.confusion_title));
        for (const auto& f : ev.failures) std::cerr << f << "\n";
        return ev.failures.empty() ? kExitOk : kExitPartial;
    });
}, kOrderEval);
}  // namespace
}  // namespace genrekit::tools
