// `genrekit explain --model CNN FILE -o OUT.svg [--label GENRE]`: Grad-CAM of a spectrogram
// model, the class-activation map of the predicted (or the given) genre over the log-mel, per
// segment and stitched over the file.
#include <iostream>

#include "genrekit/atomic_file.hpp"
#include "genrekit/explain.hpp"
#include "genrekit/plot.hpp"
#include "tools.hpp"

namespace genrekit::tools {
namespace {
struct Args {
    std::string model, file, out, label;
} args;

AutoRegister reg([](CLI::App& app) {
    auto* sub = app.add_subcommand("explain", "Draw where a spectrogram CNN found its genre (Grad-CAM) as an SVG");
    sub->add_option("--model", args.model, "Spectrogram model file (from `genrekit train` with a spectrogram config)")->required()->check(CLI::ExistingFile);
    sub->add_option("file", args.file, "Audio file")->required()->check(CLI::ExistingFile);
    sub->add_option("-o,--out", args.out, "SVG to write")->required();
    sub->add_option("--label", args.label, "Genre to explain (default: the predicted one)");
    sub->footer("Exit codes: 0 written; 1 bad model (not a spectrogram CNN), audio or output path; 2 usage.");
    set_runner(sub, [] {
        check_writable(args.out);
        Model model = Model::load(args.model);
        int label = -1;
        if (!args.label.empty() && (label = model.label_index(args.label)) < 0) {
            std::string known;
            for (const auto& l : model.labels()) known += (known.empty() ? "" : ", ") + l;
            std::cerr << "--label " << args.label << ": not a label of " << args.model << " (" << known << ")\n";
            return kExitUsage;
        }
        const GradCam cam = grad_cam(model, args.file, label);
        write_file_atomic(args.out, grad_cam_svg(cam, model.labels(), args.file));
        std::cout << args.file << ": " << model.labels()[static_cast<std::size_t>(cam.prediction.label)] << "; Grad-CAM of "
                  << model.labels()[static_cast<std::size_t>(cam.target)] << " over " << cam.starts.size() << " segments written to " << args.out << "\n";
        return kExitOk;
    });
}, kOrderPredict + 1);
}  // namespace
}  // namespace genrekit::tools
