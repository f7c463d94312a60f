// `genrekit eval --model MODEL --data CSV [--json OUT] [--csv CM.csv] [--svg CM.svg]`:
// accuracy, macro F1, per-class figures and the confusion matrix of a model on a feature CSV
// (for spectrogram models: on a folder of labelled audio, per track; --csv/--svg then hold the
// track-level confusion matrix).
#include <filesystem>
#include <cstdio>
#include <iostream>

#include "genrekit/atomic_file.hpp"
#include "genrekit/cnn.hpp"
#include "genrekit/metrics.hpp"
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
    sub->add_option("--svg", args.svg_out, "Draw the confusion matrix as an SVG heatmap (spectrogram models: per track)");
    set_runner(sub, [] {
        if (CnnModel::is_cnn_model_file(args.model)) {  // spectrogram model: --data is audio (folders of <label>/)
            CnnModel m = CnnModel::load(args.model);
            const CnnEvaluation ev = evaluate_cnn(m, {args.data});
            std::vector<int> pred;
            for (const auto& t : ev.tracks) pred.push_back(t.label);
            const ClassificationReport report = classification_report(ev.truth, pred, m.labels());  // per track
            std::cout << format_report(report, "model " + args.model + " on " + args.data + " (tracks: mean segment probability)");
            std::printf("\nmajority vote accuracy %.4f, segment accuracy %.4f (%zu segments)\n", ev.vote_accuracy, ev.segment_accuracy, ev.segments);
            if (m.members() > 1) std::printf("ensemble of %d networks (probabilities averaged)\n", m.members());
            if (!args.json_out.empty()) {
                nlohmann::json j = {{"model", args.model}, {"data", args.data}, {"track_accuracy", ev.track_accuracy},
                                    {"vote_accuracy", ev.vote_accuracy}, {"segment_accuracy", ev.segment_accuracy},
                                    {"report", report_json(report)}, {"failures", ev.failures}};
                for (const auto& t : ev.tracks) j["predictions"].push_back(prediction_json(m, t, true));
                write_file_atomic(args.json_out, j.dump(1) + "\n");
            }
            if (!args.csv_out.empty()) write_file_atomic(args.csv_out, confusion_matrix_csv(report));
            if (!args.svg_out.empty())
                write_file_atomic(args.svg_out, confusion_matrix_svg(report, std::filesystem::path(args.model).filename().string() + " on " +
                                                                                 std::filesystem::path(args.data).filename().string() + " (tracks)"));
            for (const auto& f : ev.failures) std::cerr << f << "\n";
            return ev.failures.empty() ? kExitOk : kExitPartial;
        }
        const Model model = Model::load(args.model);
        const FeatureTable table = read_eval_table(model, args.data);
        const Evaluation ev = evaluate_model(model, table);
        std::cout << format_report(ev.rows, "model " + args.model + " on " + args.data + " (rows)");
        if (ev.tracks) std::cout << "\n" << format_report(*ev.tracks, "track level (mean probability over each track's segments)");
        if (!args.json_out.empty()) write_file_atomic(args.json_out, evaluation_json(ev, model, table).dump(1) + "\n");
        if (!args.csv_out.empty()) write_file_atomic(args.csv_out, confusion_matrix_csv(ev.rows));
        if (!args.svg_out.empty()) write_file_atomic(args.svg_out, confusion_matrix_svg(ev.rows, std::filesystem::path(args.model).filename().string() + " on " +
                                                                              std::filesystem::path(args.data).filename().string()));
        return kExitOk;
    });
}, kOrderEval);
}  // namespace
}  // namespace genrekit::tools
