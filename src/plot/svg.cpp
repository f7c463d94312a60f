// The building blocks of every picture: the SVG writer, PNG embedding (libpng, base64),
// colour maps, axes, and the log-mel raster.
#include <png.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "genrekit/error.hpp"
#include "genrekit/mel.hpp"
#include "genrekit/plot.hpp"

namespace genrekit::plot {

std::string xml_escape(const std::string& in) {
    std::string o;
    for (char c : in) {
        switch (c) {
            case '&': o += "&amp;"; break;
            case '<': o += "&lt;"; break;
            case '>': o += "&gt;"; break;
            case '"': o += "&quot;"; break;
            default: o += c;
        }
    }
    return o;
}

std::string base64(std::span<const std::uint8_t> b) {
    static const char* A = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string o;
    o.reserve((b.size() + 2) / 3 * 4);
    for (std::size_t i = 0; i < b.size(); i += 3) {
        const std::uint32_t v = static_cast<std::uint32_t>(b[i]) << 16 | (i + 1 < b.size() ? static_cast<std::uint32_t>(b[i + 1]) << 8 : 0u) |
                                (i + 2 < b.size() ? b[i + 2] : 0u);
        o += A[v >> 18 & 63];
        o += A[v >> 12 & 63];
        o += i + 1 < b.size() ? A[v >> 6 & 63] : '=';
        o += i + 2 < b.size() ? A[v & 63] : '=';
    }
    return o;
}

namespace {
void append_png(png_structp png, png_bytep data, png_size_t n) {
    auto* out = static_cast<std::vector<std::uint8_t>*>(png_get_io_ptr(png));
    out->insert(out->end(), data, data + n);
}
}  // namespace

std::string png_data_uri(const std::vector<std::uint8_t>& rgb, int width, int height) {
    if (width <= 0 || height <= 0 || rgb.size() != static_cast<std::size_t>(width) * static_cast<std::size_t>(height) * 3)
        throw Error("png: " + std::to_string(rgb.size()) + " bytes do not make a " + std::to_string(width) + "x" + std::to_string(height) + " RGB image");
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
    png_infop info = png ? png_create_info_struct(png) : nullptr;
    if (!info) {
        png_destroy_write_struct(&png, nullptr);
        throw Error("png: out of memory");
    }
    std::vector<std::uint8_t> out;
    std::vector<png_bytep> rows(static_cast<std::size_t>(height));
    for (int y = 0; y < height; ++y) rows[static_cast<std::size_t>(y)] = const_cast<png_bytep>(rgb.data() + static_cast<std::size_t>(y) * static_cast<std::size_t>(width) * 3);
    if (setjmp(png_jmpbuf(png))) {  // libpng reports its errors by longjmp (nothing here needs unwinding)
        png_destroy_write_struct(&png, &info);
        throw Error("png: libpng could not encode the image");
    }
    png_set_write_fn(png, &out, append_png, nullptr);
    png_set_IHDR(png, info, static_cast<png_uint_32>(width), static_cast<png_uint_32>(height), 8, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_NONE,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_set_rows(png, info, rows.data());
    png_write_png(png, info, PNG_TRANSFORM_IDENTITY, nullptr);
    png_destroy_write_struct(&png, &info);
    return "data:image/png;base64," + base64(out);
}

namespace {
using Rgb = std::array<std::uint8_t, 3>;
// Piecewise-linear through control points sampled from matplotlib's maps.
Rgb interpolate(const Rgb* points, int n, double t) {
    t = std::clamp(std::isfinite(t) ? t : 0.0, 0.0, 1.0) * (n - 1);
    const int i = std::min(static_cast<int>(t), n - 2);
    const double f = t - i;
    Rgb c;
    for (int k = 0; k < 3; ++k) c[static_cast<std::size_t>(k)] = static_cast<std::uint8_t>(std::lround(points[i][static_cast<std::size_t>(k)] * (1 - f) + points[i + 1][static_cast<std::size_t>(k)] * f));
    return c;
}
}  // namespace

Rgb viridis(double t) {
    static const Rgb p[] = {{68, 1, 84}, {71, 44, 122}, {59, 81, 139}, {44, 113, 142}, {33, 144, 141},
                            {39, 173, 129}, {92, 200, 99}, {170, 220, 50}, {253, 231, 37}};
    return interpolate(p, 9, t);
}

Rgb inferno(double t) {
    static const Rgb p[] = {{0, 0, 4}, {31, 12, 72}, {85, 15, 109}, {136, 34, 106}, {186, 54, 85},
                            {227, 89, 51}, {249, 140, 10}, {249, 201, 50}, {252, 255, 164}};
    return interpolate(p, 9, t);
}

std::vector<std::uint8_t> raster_rgb(const Raster& r, double lo, double hi, Colormap map, const Raster* overlay, Colormap overlay_map) {
    if (overlay && (overlay->rows != r.rows || overlay->cols != r.cols)) throw Error("plot: overlay shape differs from the image's");
    std::vector<std::uint8_t> px(r.values.size() * 3);
    const double span = hi > lo ? hi - lo : 1.0;
    for (std::size_t i = 0; i < r.values.size(); ++i) {
        Rgb c = map((r.values[i] - lo) / span);
        if (overlay) {
            // Grey the background so the map stands out, then blend the map by its own weight.
            const double a = std::clamp(static_cast<double>(overlay->values[i]), 0.0, 1.0);
            const Rgb o = overlay_map(a);
            for (std::size_t k = 0; k < 3; ++k) c[k] = static_cast<std::uint8_t>(std::lround(0.45 * c[k] * (1 - a) + o[k] * a));
        }
        std::copy(c.begin(), c.end(), px.begin() + static_cast<std::ptrdiff_t>(i * 3));
    }
    return px;
}

Raster log_mel_raster(std::span<const float> samples, int sample_rate, int n_mels, int hop) {
    Stft stft({.n_fft = 2048, .hop = hop});
    MelParams mp;
    mp.sample_rate = sample_rate;
    mp.n_fft = 2048;
    mp.n_mels = n_mels;
    const Spectrogram D = power_to_db(MelFilterbank(mp).apply(power(stft.forward(samples))));
    Raster r(static_cast<int>(D.rows()), static_cast<int>(D.cols()));
    for (int b = 0; b < r.rows; ++b)
        for (int f = 0; f < r.cols; ++f) r.at(r.rows - 1 - b, f) = D(b, f);  // low bands at the bottom
    return r;
}

Svg::Svg(int width, int height) : w_(width), h_(height) {
    s_ << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << w_ << "\" height=\"" << h_ << "\" viewBox=\"0 0 " << w_ << " " << h_
       << "\" font-family=\"sans-serif\" font-size=\"12\">\n";
    s_ << "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n";
}

namespace {
std::string num(double v) {
    char b[32];
    std::snprintf(b, sizeof b, "%.1f", v);
    std::string s = b;
    if (s.size() > 2 && s.compare(s.size() - 2, 2, ".0") == 0) s.resize(s.size() - 2);
    return s;
}
}  // namespace

Svg& Svg::text(double x, double y, const std::string& s, const std::string& attrs) {
    s_ << "<text x=\"" << num(x) << "\" y=\"" << num(y) << "\"" << (attrs.empty() ? "" : " ") << attrs << ">" << xml_escape(s) << "</text>\n";
    return *this;
}

Svg& Svg::rect(double x, double y, double w, double h, const std::string& fill, const std::string& attrs) {
    s_ << "<rect x=\"" << num(x) << "\" y=\"" << num(y) << "\" width=\"" << num(w) << "\" height=\"" << num(h) << "\" fill=\"" << fill << "\""
       << (attrs.empty() ? "" : " ") << attrs << "/>\n";
    return *this;
}

Svg& Svg::circle(double cx, double cy, double r, const std::string& fill, const std::string& attrs) {
    s_ << "<circle cx=\"" << num(cx) << "\" cy=\"" << num(cy) << "\" r=\"" << num(r) << "\" fill=\"" << fill << "\""
       << (attrs.empty() ? "" : " ") << attrs << "/>\n";
    return *this;
}

Svg& Svg::line(double x1, double y1, double x2, double y2, const std::string& stroke, const std::string& attrs) {
    s_ << "<line x1=\"" << num(x1) << "\" y1=\"" << num(y1) << "\" x2=\"" << num(x2) << "\" y2=\"" << num(y2) << "\" stroke=\"" << stroke << "\""
       << (attrs.empty() ? "" : " ") << attrs << "/>\n";
    return *this;
}

Svg& Svg::polyline(const std::vector<std::array<double, 2>>& points, const std::string& stroke, const std::string& attrs) {
    s_ << "<polyline fill=\"none\" stroke=\"" << stroke << "\" points=\"";
    for (std::size_t i = 0; i < points.size(); ++i) s_ << (i ? " " : "") << num(points[i][0]) << "," << num(points[i][1]);
    s_ << "\"" << (attrs.empty() ? "" : " ") << attrs << "/>\n";
    return *this;
}

Svg& Svg::image(double x, double y, double w, double h, const std::vector<std::uint8_t>& rgb, int width, int height) {
    s_ << "<image x=\"" << num(x) << "\" y=\"" << num(y) << "\" width=\"" << num(w) << "\" height=\"" << num(h)
       << "\" preserveAspectRatio=\"none\" style=\"image-rendering:pixelated\" href=\"" << png_data_uri(rgb, width, height) << "\"/>\n";
    return *this;
}

Svg& Svg::begin_group(const std::string& title) {
    s_ << "<g>";
    if (!title.empty()) s_ << "<title>" << xml_escape(title) << "</title>";
    s_ << "\n";
    return *this;
}

Svg& Svg::end_group() {
    s_ << "</g>\n";
    return *this;
}

std::string Svg::str() const { return s_.str() + "</svg>\n"; }

std::vector<double> ticks(double lo, double hi, int count) {
    if (!(hi > lo) || !std::isfinite(lo) || !std::isfinite(hi)) return {lo};
    const double raw = (hi - lo) / std::max(count, 1);
    const double mag = std::pow(10.0, std::floor(std::log10(raw)));
    double step = mag;
    for (double m : {1.0, 2.0, 2.5, 5.0, 10.0})
        if (m * mag >= raw) {
            step = m * mag;
            break;
        }
    std::vector<double> t;
    for (double v = std::ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step) t.push_back(std::abs(v) < step * 1e-9 ? 0.0 : v);
    return t;
}

void value_axis(Svg& svg, double x0, double y0, double w, double h, double lo, double hi, const char* format) {
    for (double v : ticks(lo, hi)) {
        const double y = y0 + h - (v - lo) / (hi - lo) * h;
        char b[32];
        std::snprintf(b, sizeof b, format, v);
        svg.line(x0, y, x0 + w, y, "#ddd");
        svg.text(x0 - 5, y + 4, b, "text-anchor=\"end\" font-size=\"11\"");
    }
}

}  // namespace genrekit::plot
