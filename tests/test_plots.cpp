// The pictures, as a user gets them: `train`'s curves, `eval --svg`'s confusion matrix with
// recall bars, `predict --plot`'s log-mel and probabilities over time, and `explain`'s Grad-CAM.
// Each SVG passes an XML parser (xmllint) and renders in headless Chromium to a PNG of the
// window's size that is not blank; both checks skip, saying why, when the program is absent.
// Grad-CAM is checked against its closed form for a conv -> ReLU -> global average pool ->
// dense network (Zhou et al.'s CAM: map = ReLU(sum_k W_ck A_k) / HW), and the bad cases
// (an unwritable --plot path, explain with an MLP) are one clear line each.
#include <gtest/gtest.h>
#include <png.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "genrekit/audio.hpp"
#include "genrekit/explain.hpp"
#include "genrekit/nn/rng.hpp"
#include "genrekit/plot.hpp"
#include "genrekit/synth.hpp"
#include "support.hpp"

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

using gktest::CliResult;
CliResult run(const std::string& args) { return gktest::run_genrekit(args); }

std::string slurp(const fs::path& p) {
    std::stringstream s;
    s << std::ifstream(p.string()).rdbuf();
    return s.str();
}

bool have(const char* program) { return std::system((std::string("command -v ") + program + " >/dev/null 2>&1").c_str()) == 0; }

class Plots : public ::testing::Test {
protected:
    static void SetUpTestSuite() {
        dir_ = gktest::make_synth_fixture("plots");
        // A small CNN whose learning rate drops, so the curves show one.
        const json cnn = json::parse(R"({
          "data": {"audio": ["audio"], "cache_dir": "cache"},
          "front_end": {"kind": "spectrogram", "n_mels": 32, "n_fft": 512, "hop": 256, "segment": 1.0, "segment_hop": 0.5},
          "split": {"kind": "random", "valid": 0.2, "test": 0.2, "seed": 1},
          "model": {"layers": [
            {"type": "conv2d", "channels": 8, "kernel": 3, "padding": 1}, {"type": "batchnorm"}, {"type": "relu"},
            {"type": "maxpool2d", "size": 2}, {"type": "conv2d", "channels": 8, "kernel": 3, "padding": 1}, {"type": "relu"},
            {"type": "maxpool2d", "size": 2}, {"type": "global_avg_pool"}, {"type": "dense"}]},
          "optimizer": {"type": "adam", "lr": 0.003}, "batch_size": 16, "epochs": 6, "seed": 2, "threads": 2,
          "reduce_lr_on_plateau": {"enabled": true, "monitor": "val_acc", "factor": 0.5, "patience": 1},
          "checkpoint": {"keep_best": true, "monitor": "val_loss"}
        })");
        std::ofstream((dir_ / "cnn.json").string()) << cnn.dump(1);
        const json mlp = json::parse(R"({"data": {"csv": "f.csv"}, "normalization": "zscore", "split": {"kind": "random", "valid": 0.25, "seed": 1},
          "model": {"layers": [{"type": "dense", "units": 16}, {"type": "relu"}, {"type": "dense"}]}, "epochs": 5, "seed": 1})");
        std::ofstream((dir_ / "mlp.json").string()) << mlp.dump(1);
        cnn_ = (dir_ / "cnn.safetensors").string();
        train_ = run("train --quiet --config " + (dir_ / "cnn.json").string() + " --out " + cnn_);
        clip_ = (dir_ / "audio" / "rock" / "rock.00004.wav").string();
    }
    static void TearDownTestSuite() { fs::remove_all(dir_); }
    static fs::path dir_;
    static std::string cnn_, clip_;
    static CliResult train_;
};
fs::path Plots::dir_;
std::string Plots::cnn_, Plots::clip_;
CliResult Plots::train_;

// One of each picture kind, written by the tools (the SVG path per kind).
std::map<std::string, fs::path> make_pictures(const fs::path& dir, const std::string& cnn, const std::string& clip) {
    std::map<std::string, fs::path> svg{{"curves", cnn + ".curves.svg"}, {"confusion", dir / "cm.svg"}, {"timeline", dir / "timeline.svg"},
                                        {"gradcam", dir / "gradcam.svg"}};
    CliResult r = run("eval --model " + cnn + " --data " + (dir / "audio").string() + " --svg " + svg["confusion"].string());
    EXPECT_EQ(r.code, 0) << r.err;
    r = run("predict --model " + cnn + " " + clip + " --plot " + svg["timeline"].string());
    EXPECT_EQ(r.code, 0) << r.err;
    r = run("explain --model " + cnn + " " + clip + " -o " + svg["gradcam"].string());
    EXPECT_EQ(r.code, 0) << r.err;
    return svg;
}

}  // namespace

TEST_F(Plots, TrainWritesItsCurves) {
    ASSERT_EQ(train_.code, 0) << train_.out << train_.err;
    const std::string svg = slurp(cnn_ + ".curves.svg");
    ASSERT_EQ(svg.rfind("<svg", 0), 0u) << svg.substr(0, 80);
    std::size_t lines = 0;
    for (std::size_t p = 0; (p = svg.find("<polyline", p)) != std::string::npos; ++p) ++lines;
    EXPECT_EQ(lines, 4u) << "train and valid, loss and accuracy";
    EXPECT_NE(svg.find("<title>kept checkpoint: epoch "), std::string::npos);
    // Every drop of the log's learning rate is drawn.
    std::istringstream log(slurp(cnn_ + ".log.csv"));
    std::string line;
    std::getline(log, line);
    double last_lr = -1;
    int drops = 0;
    while (std::getline(log, line)) {
        std::vector<std::string> f;
        std::stringstream ls(line);
        for (std::string c; std::getline(ls, c, ',');) f.push_back(c);
        const double lr = std::stod(f.at(5));
        drops += last_lr > 0 && lr < last_lr;
        last_lr = lr;
    }
    ASSERT_GE(drops, 1) << "this config's learning rate drops at least once";
    std::size_t drawn = 0;
    for (std::size_t p = 0; (p = svg.find(">lr ", p)) != std::string::npos; ++p) ++drawn;
    EXPECT_EQ(drawn, 2u * static_cast<std::size_t>(drops)) << "one label per panel per drop";
    EXPECT_NE(train_.out.find(".curves.svg"), std::string::npos) << train_.out;
}

TEST_F(Plots, EachPictureHasItsParts) {
    ASSERT_EQ(train_.code, 0) << train_.err;
    auto svg = make_pictures(dir_, cnn_, clip_);
    const std::string cm = slurp(svg["confusion"]), tl = slurp(svg["timeline"]), gc = slurp(svg["gradcam"]);
    for (const char* l : {"ambient", "electronic", "folk", "rock"}) {
        EXPECT_NE(cm.find(std::string("<title>recall of ") + l + ": "), std::string::npos) << l;
        EXPECT_NE(tl.find(std::string(">") + l + "</text>"), std::string::npos) << l;
    }
    EXPECT_NE(tl.find("href=\"data:image/png;base64,iVBORw0KGgo"), std::string::npos) << "the log-mel, as an embedded PNG";
    // 3 s at 1 s segments every 0.5 s: 5 segments, one cell per label each.
    std::size_t cells = 0;
    for (std::size_t p = 0; (p = tl.find("<title>", p)) != std::string::npos; ++p) ++cells;
    EXPECT_EQ(cells, 5u * 4u);
    EXPECT_NE(gc.find("Grad-CAM of "), std::string::npos);
    std::size_t images = 0;
    for (std::size_t p = 0; (p = gc.find("<image ", p)) != std::string::npos; ++p) ++images;
    EXPECT_EQ(images, 2u + 5u) << "the file's input and map, then each segment";
}

TEST_F(Plots, EverySvgIsWellFormedXml) {
    if (!have("xmllint")) GTEST_SKIP() << "xmllint not found (Debian package libxml2-utils)";
    ASSERT_EQ(train_.code, 0) << train_.err;
    for (const auto& [kind, path] : make_pictures(dir_, cnn_, clip_)) {
        const int rc = std::system(("xmllint --noout " + path.string() + " 2>" + (dir_ / "xmllint.err").string()).c_str());
        EXPECT_EQ(rc, 0) << kind << ": " << slurp(dir_ / "xmllint.err");
    }
}

namespace {
struct Pixels {
    int width = 0, height = 0;
    std::vector<std::uint8_t> rgb;
};
Pixels read_png(const fs::path& p) {
    png_image img{};
    img.version = PNG_IMAGE_VERSION;
    Pixels px;
    if (!png_image_begin_read_from_file(&img, p.c_str())) return px;
    img.format = PNG_FORMAT_RGB;
    px.rgb.resize(PNG_IMAGE_SIZE(img));
    if (!png_image_finish_read(&img, nullptr, px.rgb.data(), 0, nullptr)) return {};
    px.width = static_cast<int>(img.width);
    px.height = static_cast<int>(img.height);
    return px;
}
}  // namespace

TEST_F(Plots, ChromiumRendersEachKind) {
    const char* chromium = have("chromium") ? "chromium" : have("chromium-browser") ? "chromium-browser" : nullptr;
    if (!chromium) GTEST_SKIP() << "chromium not found (Debian package chromium): the SVGs were not rendered";
    ASSERT_EQ(train_.code, 0) << train_.err;
    const int W = 960, H = 900;
    for (const auto& [kind, path] : make_pictures(dir_, cnn_, clip_)) {
        const fs::path png = dir_ / (kind + ".png");
        // As root Chromium needs --no-sandbox; its own profile folder keeps parallel tests apart.
        const std::string cmd = std::string("timeout 120 ") + chromium + " --headless --no-sandbox --disable-gpu --hide-scrollbars --user-data-dir=" +
                                (dir_ / ("profile-" + kind)).string() + " --screenshot=" + png.string() + " --window-size=" + std::to_string(W) + "," +
                                std::to_string(H) + " file://" + fs::absolute(path).string() + " >" + (dir_ / "chromium.log").string() + " 2>&1";
        ASSERT_EQ(std::system(cmd.c_str()), 0) << kind << ": " << cmd << "\n" << slurp(dir_ / "chromium.log");
        const Pixels px = read_png(png);
        ASSERT_EQ(px.width, W) << kind;
        ASSERT_EQ(px.height, H) << kind;
        // Not blank: a good share of non-white pixels, and many colours (the embedded images, the bars).
        std::size_t ink = 0;
        std::set<std::uint32_t> colours;
        for (std::size_t i = 0; i + 2 < px.rgb.size(); i += 3) {
            const std::uint32_t c = static_cast<std::uint32_t>(px.rgb[i]) << 16 | static_cast<std::uint32_t>(px.rgb[i + 1]) << 8 | px.rgb[i + 2];
            ink += c != 0xffffffu;
            colours.insert(c);
        }
        const double share = static_cast<double>(ink) / (W * H);
        EXPECT_GT(share, 0.02) << kind << ": only " << share << " of the pixels are not white";
        EXPECT_GT(colours.size(), 40u) << kind;
    }
}

TEST_F(Plots, BadCasesAreOneClearLine) {
    ASSERT_EQ(train_.code, 0) << train_.err;
    // --plot into a folder that does not exist: refused before predicting.
    const std::string missing = (dir_ / "no-such-folder" / "p.svg").string();
    CliResult r = run("predict --model " + cnn_ + " " + clip_ + " --plot " + missing);
    EXPECT_EQ(r.code, 1) << r.err;
    EXPECT_EQ(r.err, "genrekit: " + missing + ": cannot write: folder " + (dir_ / "no-such-folder").string() + " does not exist\n");
    EXPECT_EQ(r.out, "") << "nothing is predicted when the picture cannot be written";
    // --plot onto a folder.
    r = run("predict --model " + cnn_ + " " + clip_ + " --plot " + dir_.string());
    EXPECT_EQ(r.code, 1);
    EXPECT_EQ(r.err, "genrekit: " + dir_.string() + ": cannot write: it is a folder\n");

    // explain with an MLP (feature) model.
    ASSERT_EQ(run("featurize " + (dir_ / "audio").string() + " -o " + (dir_ / "f.csv").string() + " --quiet").code, 0);
    const std::string mlp = (dir_ / "mlp.safetensors").string();
    ASSERT_EQ(run("train --quiet --config " + (dir_ / "mlp.json").string() + " --out " + mlp).code, 0);
    const fs::path out = dir_ / "mlp-cam.svg";
    r = run("explain --model " + mlp + " " + clip_ + " -o " + out.string());
    EXPECT_EQ(r.code, 1);
    EXPECT_EQ(r.err, "genrekit: " + mlp +
                         ": explain draws Grad-CAM over a spectrogram, and this is a feature (MLP) model; train a spectrogram CNN (e.g. "
                         "configs/cnn_gtzan.json)\n");
    EXPECT_FALSE(fs::exists(out));
    // A label the model does not know.
    r = run("explain --model " + cnn_ + " " + clip_ + " -o " + out.string() + " --label polka");
    EXPECT_EQ(r.code, 2);
    EXPECT_EQ(r.err, "--label polka: not a label of " + cnn_ + " (ambient, electronic, folk, rock)\n");
    EXPECT_FALSE(fs::exists(out));
}

// For conv -> ReLU -> global average pool -> dense, dy_c/dA_k(h, w) = W_ck / HW everywhere, so
// Grad-CAM is ReLU(sum_k W_ck A_k) / HW (with padding "same" no resampling is needed).
TEST_F(Plots, GradCamIsTheClosedFormCamForGapDense) {
    genrekit::SpectrogramParams p;
    p.n_mels = 16;
    p.n_fft = 512;
    p.hop = 256;
    p.segment = 1.0;
    p.segment_hop = 0.5;
    genrekit::BandStandardizer z;
    z.mean.assign(16, -40.0);
    z.sd.assign(16, 20.0);
    const json layers = json::parse(R"([{"type": "conv2d", "channels": 6, "kernel": 3, "padding": 1}, {"type": "relu"},
                                        {"type": "global_avg_pool"}, {"type": "dense", "units": 3}])");
    genrekit::Model m(layers, {"a", "b", "c"}, genrekit::FrontEnd::spectrograms(p, z));
    genrekit::nn::Rng rng(5);
    m.network(0).init(rng);

    for (int target : {0, 2}) {
        const genrekit::GradCam cam = genrekit::grad_cam(m, clip_, target);
        ASSERT_EQ(cam.target, target);
        ASSERT_EQ(cam.layer, "layers.1 (relu after conv2d layers.0)");
        // The closed form from the network's own forward pass.
        const genrekit::TrackSpectrograms t = genrekit::compute_spectrograms(clip_, p);
        std::vector<std::size_t> used;
        const std::vector<float> x = m.standardized_segments(t, used);
        auto& net = m.network(0);
        net.forward(genrekit::nn::CMatView<float>(x.data(), m.input().input_size(), static_cast<std::int64_t>(used.size())), {});
        const auto A = net.output(1);
        const auto& dense = net.tensors().at(2);  // layers.3.weight, {3, 6} row-major
        ASSERT_EQ(dense.name, "layers.3.weight");
        const float* W = net.data(dense);
        const std::int64_t HW = static_cast<std::int64_t>(cam.bands) * cam.frames;
        double worst = 0, peak = 0;
        for (std::size_t u = 0; u < used.size(); ++u)
            for (std::int64_t q = 0; q < HW; ++q) {
                double s = 0;
                for (int k = 0; k < 6; ++k) s += W[target * 6 + k] * A(k * HW + q, static_cast<Eigen::Index>(u));
                const double want = std::max(s, 0.0) / static_cast<double>(HW);
                const double got = cam.maps[used[u] * static_cast<std::size_t>(HW) + static_cast<std::size_t>(q)];
                worst = std::max(worst, std::abs(got - want));
                peak = std::max(peak, want);
            }
        ASSERT_GT(peak, 0.0);
        EXPECT_LE(worst, 1e-5 * peak) << "target " << target << ": worst |difference| " << worst << " of a peak " << peak << " (tolerance 1e-5 relative)";
        // Stitched: every frame of the file is covered, and the maps' average lies within the segments' range.
        EXPECT_EQ(cam.stitched_map.size(), static_cast<std::size_t>(cam.bands) * static_cast<std::size_t>(cam.total_frames));
    }
}
