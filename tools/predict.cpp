// `genrekit predict --model MODEL FILE... [--top K] [--json]`: the genre of audio files.
#include <cmath>
#include <cstdio>
#include <iostream>
#include <nlohmann/json.hpp>

#include "genrekit/predict.hpp"
#include "genrekit/json_text.hpp"
#include "tools.hpp"

namespace genrekit::tools {
namespace {

struct Args {
    std::string model;
    std::vector<std::string> files;
    int top = 3;
    bool json = false;
    int jobs = 0;
};

std::vector<int> top_k(const std::vector<double>& p, int k) {
    std::vector<int> idx(p.size());
    for (std::size_t i = 0; i < idx.size(); ++i) idx[i] = static_cast<int>(i);
    std::stable_sort(idx.begin(), idx.end(), [&](int a, int b) { return p[static_cast<std::size_t>(a)] > p[static_cast<std::size_t>(b)]; });
    idx.resize(std::min(idx.size(), static_cast<std::size_t>(std::max(k, 1))));
    return idx;
}

int run(const Args& a) {
    PredictOptions opt;
    opt.jobs = a.jobs;
    opt.on_message = [](const std::string& line) { std::cerr << line << "\n"; };
    const Model model = Model::load(a.model);
    const PredictReport report = predict_files(model, a.files, opt);
    const std::vector<std::string>& labels = model.labels();
    for (const FilePrediction& f : report.files) {
        if (a.json) {
            nlohmann::ordered_json j;
            j["file"] = f.file;
            j["label"] = labels[static_cast<std::size_t>(f.label)];
            nlohmann::ordered_json probs = nlohmann::ordered_json::object();
            for (int k : top_k(f.probabilities, static_cast<int>(labels.size())))
                probs[labels[static_cast<std::size_t>(k)]] = f.probabilities[static_cast<std::size_t>(k)];
            j["probabilities"] = probs;
            j["bpm"] = std::isnan(f.bpm) ? nlohmann::ordered_json() : nlohmann::ordered_json(f.bpm);
            if (f.segments.size() > 1) {
                j["majority_vote"] = labels[static_cast<std::size_t>(f.majority)];
                nlohmann::ordered_json segs = nlohmann::ordered_json::array();
                for (const auto& s : f.segments)
                    segs.push_back({{"start", s.start}, {"end", s.end}, {"label", labels[static_cast<std::size_t>(s.label)]},
                                    {"probability", s.probability}});
                j["segments"] = segs;
            }
            std::cout << dump_json(j) << "\n";
        } else {
            std::cout << f.file << ": " << labels[static_cast<std::size_t>(f.label)] << "  (";
            const auto best = top_k(f.probabilities, a.top);
            for (std::size_t i = 0; i < best.size(); ++i) {
                char buf[64];
                std::snprintf(buf, sizeof buf, "%s%s %.3f", i ? ", " : "", labels[static_cast<std::size_t>(best[i])].c_str(),
                              f.probabilities[static_cast<std::size_t>(best[i])]);
                std::cout << buf;
            }
            char bpm[32];
            std::snprintf(bpm, sizeof bpm, std::isnan(f.bpm) ? ")" : ")  %.1f BPM", f.bpm);
            std::cout << bpm;
            if (f.segments.size() > 1) std::cout << "  [" << f.segments.size() << " segments]";
            std::cout << "\n";
        }
    }
    for (const auto& n : report.notes) std::cerr << n << "\n";
    if (!report.failures.empty()) {
        std::cerr << report.failures.size() << " file(s) could not be predicted:\n";
        for (const auto& f : report.failures) std::cerr << "  " << f << "\n";
        return report.files.empty() ? kExitFailure : kExitPartial;
    }
    if (report.files.empty()) return kExitFailure;  // every file was shorter than one segment (noted above)
    return kExitOk;
}

AutoRegister reg([](CLI::App& app) {
    auto args = std::make_shared<Args>();
    auto* sub = app.add_subcommand("predict", "Predict the genre of audio files with a trained model");
    sub->add_option("--model", args->model, "Model file (from `genrekit train`)")->required()->check(CLI::ExistingFile);
    sub->add_option("files", args->files, "Audio files or folders")->required();
    sub->add_option("--top", args->top, "How many labels to show per file")->capture_default_str()->check(CLI::PositiveNumber);
    sub->add_flag("--json", args->json, "One JSON object per file per line: file, label, probabilities, bpm (and segments)");
    sub->add_option("-j,--jobs", args->jobs, "Parallel featurization jobs (default: every core)")->check(CLI::Range(0, 256));
    sub->footer("Exit codes: 0 every file predicted; 1 bad model or nothing predicted; 2 usage; 3 some files failed (listed).");
    set_runner(sub, [args] { return run(*args); });
}, kOrderPredict);

}  // namespace
}  // namespace genrekit::tools
