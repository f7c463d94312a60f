#include "progress.hpp"

#include <unistd.h>

#include <cmath>
#include <cstdio>

namespace genrekit::tools {

std::string format_duration(double seconds) {
    const auto s = static_cast<long long>(std::llround(std::max(0.0, seconds)));
    char buf[32];
    if (s < 60) std::snprintf(buf, sizeof buf, "%llds", s);
    else if (s < 3600) std::snprintf(buf, sizeof buf, "%lld:%02lld", s / 60, s % 60);
    else std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", s / 3600, s / 60 % 60, s % 60);
    return buf;
}

ProgressLine::ProgressLine(bool enabled) : enabled_(enabled && ::isatty(STDERR_FILENO)), start_(std::chrono::steady_clock::now()) {}

double ProgressLine::elapsed() const { return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count(); }

std::string ProgressLine::timing(double fraction) const {
    const double t = elapsed();
    const std::string eta = fraction > 0 ? format_duration(t * (1 - fraction) / fraction) : "--";
    return "elapsed " + format_duration(t) + "  ETA " + eta;
}

void ProgressLine::show(const std::string& text) {
    if (!enabled_) return;
    // At most ten redraws a second: a small MLP runs hundreds of epochs a second.
    const double now = elapsed();
    if (width_ > 0 && now - drawn_ < 0.1) return;
    drawn_ = now;
    // Pad over the previous text so a shorter line leaves no tail.
    std::fprintf(stderr, "\r%s%*s", text.c_str(), static_cast<int>(width_ > text.size() ? width_ - text.size() : 0), "");
    std::fflush(stderr);
    width_ = text.size();
}

void ProgressLine::message(const std::string& line) {
    clear();
    std::fprintf(stderr, "%s\n", line.c_str());
}

void ProgressLine::clear() {
    if (!enabled_ || width_ == 0) return;
    std::fprintf(stderr, "\r%*s\r", static_cast<int>(width_), "");
    std::fflush(stderr);
    width_ = 0;
}

}  // namespace genrekit::tools
