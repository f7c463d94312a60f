// `genrekit predict [--model MODEL] FILE... [--top K] [--json] [--plot OUT.svg]`: the genre of audio
// files. Without --model, the model that ships with genrekit (models/gtzan-default.safetensors).
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "genrekit/error.hpp"
#include "genrekit/atomic_file.hpp"
#include "genrekit/audio.hpp"
#include "genrekit/plot.hpp"
#include "genrekit/predict.hpp"
#include "input_options.hpp"
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
    InputOptions input;
    std::string plot;
};

std::vector<int> top_k(const std::vector<double>& p, int k) {
    std::vector<int> idx(p.size());
    for (std::size_t i = 0; i < idx.size(); ++i) idx[i] = static_cast<int>(i);
    std::stable_sort(idx.begin(), idx.end(), [&](int a, int b) { return p[static_cast<std::size_t>(a)] > p[static_cast<std::size_t>(b)]; });
    idx.resize(std::min(idx.size(), static_cast<std::size_t>(std::max(k, 1))));
    return idx;
}

// The shipped model beside the executable: <root>/models/ for build/bin/genrekit.
std::string default_model() {
    namespace fs = std::filesystem;
    std::error_code ec;
    const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
    const fs::path where = (exe.parent_path() / "../../models/gtzan-default.safetensors").lexically_normal();
    if (ec || !fs::is_regular_file(where))
        throw Error((ec ? std::string("models/gtzan-default.safetensors") : where.string()) +
                    ": the default model is missing (give --model MODEL, or run scripts/train-default-model.sh)");
    return where.string();
}

int run(const Args& a) {
    PredictOptions opt;
    opt.jobs = a.jobs;
    a.input.check();
    opt.raw = a.input.raw;
    opt.clip = a.input.clip_policy();
    opt.on_message = [](const std::string& line) { std::cerr << line << "\n"; };
    const std::string path = a.model.empty() ? default_model() : a.model;
    if (a.model.empty()) std::cerr << "genrekit predict: using the default model " << path << " (GTZAN's 10 genres; --model to choose another)\n";
    const Model model = Model::load(path);
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
            if (!f.warnings.empty()) j["warnings"] = f.warnings;
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
    for (const FilePrediction& f : report.files)
        for (const auto& w : f.warnings) std::cerr << "warning: " << w << "\n";
    // report.notes were printed as they happened (on_message).
    if (!a.plot.empty() && !report.files.empty()) {
        const FilePrediction& f = report.files.front();
        if (report.files.size() > 1) std::cerr << "--plot: drew the first of " << report.files.size() << " files, " << f.file << "\n";
        const Audio audio = load_audio(f.file);
        const double seconds = static_cast<double>(audio.samples.size()) / audio.sample_rate;
        write_file_atomic(a.plot, prediction_svg(f, labels, plot::log_mel_raster(audio.samples, audio.sample_rate), seconds, f.file));
    }
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
    sub->add_option("--model", args->model, "Model file (from `genrekit train`; default: models/gtzan-default.safetensors)")->check(CLI::ExistingFile);
    sub->add_option("files", args->files, "Audio files or folders; '-' reads standard input (a WAV stream, or --raw PCM)")->required();
    sub->add_option("--top", args->top, "How many labels to show per file")->capture_default_str()->check(CLI::PositiveNumber);
    sub->add_flag("--json", args->json, "One JSON object per file per line: file, label, probabilities, bpm (and segments)");
    sub->add_option("--plot", args->plot, "Draw the file's log-mel and its genre probabilities over time as an SVG (one file)");
    sub->add_option("-j,--jobs", args->jobs, "Parallel featurization jobs (default: every core)")->check(CLI::Range(0, 256));
    args->input.add_to(sub);
    sub->footer("Exit codes: 0 every file predicted; 1 bad model or nothing predicted; 2 usage; 3 some files failed (listed).");
    set_runner(sub, [args] {
        if (!args->plot.empty() && args->files.size() != 1) {
            std::cerr << "--plot draws one recording: give one audio file\n";
            return kExitUsage;
        }
        if (!args->plot.empty() && args->files[0] == "-") {
            std::cerr << "--plot needs an audio file: standard input cannot be read a second time for the picture\n";
            return kExitUsage;
        }
        if (!args->plot.empty()) check_writable(args->plot);  // before the work, not after it
        return run(*args);
    });
}, kOrderPredict);

}  // namespace
}  // namespace genrekit::tools
