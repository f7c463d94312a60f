// The status line of long commands (featurize, train, tune): one line on stderr, redrawn in
// place, shown only when stderr is a terminal and the user did not ask for --quiet, so
// redirected output and logs stay free of carriage returns.
//
//   ProgressLine p(!quiet);
//   p.show("epoch 3/100  " + p.timing(0.03));   // "... elapsed 0:02  ETA 1:04"
//   p.message("a line that stays");             // printed above the status line
//   p.clear();
#pragma once

#include <algorithm>
#include <chrono>
#include <string>

namespace genrekit::tools {

// "42s", "3:07", "1:02:03".
std::string format_duration(double seconds);

class ProgressLine {
public:
    explicit ProgressLine(bool enabled);
    ~ProgressLine() { clear(); }
    bool active() const { return enabled_; }
    double elapsed() const;
    // "elapsed T  ETA T" for a task `fraction` done (ETA from the rate so far; "--" before any progress).
    std::string timing(double fraction) const;
    void show(const std::string& text);
    void message(const std::string& line);  // stderr, whether or not the status line is shown
    void clear();

private:
    bool enabled_;
    std::size_t width_ = 0;  // of the line on screen
    double drawn_ = 0;       // elapsed() at the last redraw
    std::chrono::steady_clock::time_point start_;
};

// Fraction done of a plan of training runs (each network of each fold or config), counted in
// epochs; a run that stops early counts as complete when the next one starts.
class EpochCount {
public:
    explicit EpochCount(double planned_epochs) : planned_(planned_epochs) {}
    // After epoch `epoch` (1-based) of a run planned for `run_epochs`.
    double fraction(int epoch, int run_epochs) {
        if (epoch <= last_) base_ += last_run_;
        last_ = epoch;
        last_run_ = run_epochs;
        return planned_ > 0 ? std::min(1.0, (base_ + epoch) / planned_) : 0.0;
    }

private:
    double planned_, base_ = 0;
    int last_ = 0, last_run_ = 0;
};

}  // namespace genrekit::tools
