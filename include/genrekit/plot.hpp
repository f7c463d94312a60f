// Pictures as SVG files a browser opens: training curves, the confusion matrix with per-class
// recall, a recording's log-mel with its genre probabilities over time, and Grad-CAM maps.
// Images (spectrograms, maps) are embedded as PNG (libpng) inside the SVG.
//
//   genrekit::write_file_atomic("m.curves.svg", genrekit::training_curves_svg(r.history, marks, "m.safetensors"));
//   genrekit::write_file_atomic("cm.svg", genrekit::confusion_matrix_svg(report, "model on test.csv"));
//   genrekit::plot::Raster mel = genrekit::plot::log_mel_raster(audio.samples, audio.sample_rate);
//   genrekit::write_file_atomic("song.svg", genrekit::prediction_svg(file_prediction, model.labels(), mel, "song.wav"));
//
// Building blocks (genrekit::plot): Svg appends elements to one document; Raster is a matrix
// drawn as an image (row 0 at the top); png_data_uri encodes RGB pixels for an <image>.
#pragma once

#include <array>
#include <cstdint>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include "genrekit/explain.hpp"
#include "genrekit/metrics.hpp"
#include "genrekit/predict.hpp"
#include "genrekit/train.hpp"

namespace genrekit {
namespace plot {

std::string xml_escape(const std::string& s);
std::string base64(std::span<const std::uint8_t> bytes);
// RGB pixels (width * height * 3, row by row from the top) as "data:image/png;base64,...".
std::string png_data_uri(const std::vector<std::uint8_t>& rgb, int width, int height);

// A rows x cols matrix drawn as an image, row 0 at the top.
struct Raster {
    int rows = 0, cols = 0;
    std::vector<float> values;  // row-major
    Raster() = default;
    Raster(int r, int c, float fill = 0) : rows(r), cols(c), values(static_cast<std::size_t>(r) * static_cast<std::size_t>(c), fill) {}
    float& at(int r, int c) { return values[static_cast<std::size_t>(r) * static_cast<std::size_t>(cols) + static_cast<std::size_t>(c)]; }
    float at(int r, int c) const { return values[static_cast<std::size_t>(r) * static_cast<std::size_t>(cols) + static_cast<std::size_t>(c)]; }
};

// Perceptually ordered colour maps, t in [0, 1].
std::array<std::uint8_t, 3> viridis(double t);
std::array<std::uint8_t, 3> inferno(double t);
using Colormap = std::array<std::uint8_t, 3> (*)(double);
// Pixels of r scaled from [lo, hi] through the map; when `overlay` is given (same shape, values
// in [0, 1]) it is blended on top with the `overlay_map`, weight = its value (Grad-CAM over a log-mel).
std::vector<std::uint8_t> raster_rgb(const Raster& r, double lo, double hi, Colormap map, const Raster* overlay = nullptr,
                                     Colormap overlay_map = nullptr);

// The log-mel (dB, top 80 dB) of a whole recording, highest band at the top (row 0).
// ref: librosa 0.7.2 feature.melspectrogram(power=2) -> power_to_db(ref=max, top_db=80)
Raster log_mel_raster(std::span<const float> samples, int sample_rate, int n_mels = 128, int hop = 512);

// One SVG document; each call appends one element. Coordinates in pixels, y downwards.
class Svg {
public:
    Svg(int width, int height);
    int width() const { return w_; }
    int height() const { return h_; }
    // `attrs` is extra raw attribute text, e.g. "text-anchor=\"end\" font-size=\"11\"".
    Svg& text(double x, double y, const std::string& s, const std::string& attrs = "");
    Svg& rect(double x, double y, double w, double h, const std::string& fill, const std::string& attrs = "");
    Svg& circle(double cx, double cy, double r, const std::string& fill, const std::string& attrs = "");
    Svg& line(double x1, double y1, double x2, double y2, const std::string& stroke, const std::string& attrs = "");
    Svg& polyline(const std::vector<std::array<double, 2>>& points, const std::string& stroke, const std::string& attrs = "");
    // A raster's pixels stretched over (x, y, w, h), each pixel a sharp block.
    Svg& image(double x, double y, double w, double h, const std::vector<std::uint8_t>& rgb, int width, int height);
    // Opens/closes a <g> (e.g. with a <title> tooltip).
    Svg& begin_group(const std::string& title = "");
    Svg& end_group();
    std::string str() const;

private:
    int w_, h_;
    std::ostringstream s_;
};

// Rounded "nice" tick values covering [lo, hi], about `count` of them.
std::vector<double> ticks(double lo, double hi, int count = 5);
// A value axis drawn as gridlines with labels left of x0, for a plot whose value lo sits at y0 + h, hi at y0.
void value_axis(Svg& svg, double x0, double y0, double w, double h, double lo, double hi, const char* format);

}  // namespace plot

// What `train` marks on its curves: the epoch whose weights the model holds, and every kept
// checkpoint of an ensemble (per metrics.ensemble.kept_epochs of the first seed).
struct CurveMarks {
    int best_epoch = 0;
    std::vector<int> kept_epochs;
};
CurveMarks curve_marks(const TrainResult& r);
// Loss and accuracy per epoch for train and valid, learning-rate drops as dashed lines, the
// kept checkpoint(s) marked.
std::string training_curves_svg(const std::vector<EpochLog>& history, const CurveMarks& marks, const std::string& title);

// The confusion matrix (cells shaded by row-normalised recall, labelled with counts) and a bar
// of each class's recall beside it.
std::string confusion_matrix_svg(const ClassificationReport& r, const std::string& title);

// The file's log-mel on top; under it the genre probabilities of each segment over time, one
// row per genre, with the file's verdict in the title.
std::string prediction_svg(const FilePrediction& f, const std::vector<std::string>& labels, const plot::Raster& log_mel,
                           double duration, const std::string& title);

// The stitched class-activation map over the whole file's model input, then each segment's.
std::string grad_cam_svg(const GradCam& cam, const std::vector<std::string>& labels, const std::string& title);

}  // namespace genrekit
