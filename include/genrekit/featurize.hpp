// Batch featurization: collect audio files (folders recursively, a manifest,
// or single files), cut each into the requested segments, compute the GTZAN
// feature row of each segment in parallel, and hand the rows back in a
// deterministic order (sorted by relative path, whatever the number of jobs).
//
//   auto inputs = genrekit::collect_inputs({"genres_original/"}, {});
//   genrekit::BatchOptions opt;                  // whole clips, every core
//   auto report = genrekit::featurize_batch(inputs, opt, [&](const genrekit::FeatureRow& r) {
//       out << genrekit::feature_csv_row(r);
//   });
//   // report.failures lists "path: problem" for every file that failed.
#pragma once

#include <cstddef>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "genrekit/features.hpp"

namespace genrekit {

enum class SegmentMode {
    Whole,     // one row per file
    Kaggle3s,  // ref: Kaggle features_3_sec.csv: segment i = y[i*66150 : i*66150 + 66149], at most 10
    Sliding,   // segments of `seconds`, every `hop` seconds
};

struct SegmentSpec {
    SegmentMode mode = SegmentMode::Whole;
    double seconds = 3.0;  // Sliding only
    double hop = 1.5;      // Sliding only
    int max_segments = 10; // Kaggle3s only: GTZAN clips give ten; 0 = as many as the file holds
    void validate() const;
    std::string describe() const;  // "30s", "3s", "segment 3 s every 1.5 s"
};

struct Segment {
    std::size_t start = 0, length = 0;
    int index = -1;  // -1 for a whole clip
};

// The segments of a clip of n samples; empty when the clip is shorter than one segment.
std::vector<Segment> plan_segments(std::size_t n_samples, int sample_rate, const SegmentSpec& spec);

struct InputFile {
    std::string path;   // as opened
    std::string rel;    // relative path used for sorting and naming
    std::string label;  // the containing folder's name, the manifest's label, or --label
    std::string name;   // row name: the file's name, or its relative path when two inputs share a name
};

// Files and folders (recursively, following symlinks; extensions wav au aiff aif flac ogg
// mp3 in any case), or a manifest CSV of path,label (paths relative to the manifest). The
// result is sorted by relative path. A missing input, an unreadable folder or entry and a
// symlink loop go to `problems` as "<path>: <problem>" and the rest is collected; without
// `problems` the first one throws Error. A bad manifest throws Error.
std::vector<InputFile> collect_inputs(const std::vector<std::string>& paths, const std::optional<std::string>& forced_label,
                                      const std::string& manifest = "", std::vector<std::string>* problems = nullptr);

struct FeatureRow {
    std::string filename;  // Kaggle naming: "<name>" whole, "<stem>.<i>.wav" for segments
    std::string label;
    std::vector<double> values;  // gtzan_feature_columns() order
    std::size_t source = 0;      // index of the input file in the batch
    double start = 0, end = 0;   // the segment's span in the file, in seconds
};

// Featurizes one file with `fz`: loads it at fz's sample rate and returns one
// row per segment. Throws Error naming the file. `note` receives a message when
// the clip yields no segment (too short), so callers can say what they did.
std::vector<FeatureRow> featurize_file(const InputFile& input, const SegmentSpec& spec, GtzanFeaturizer& fz,
                                       std::string* note = nullptr);

struct BatchOptions {
    SegmentSpec segments;
    FeatureParams features;
    int jobs = 0;         // 0: every core
    bool strict = false;  // stop at the first failure
    // Called from worker threads, serialised, after each file: (done, total).
    std::function<void(std::size_t, std::size_t)> progress;
    // Called for each failure or note as it happens ("path: problem").
    std::function<void(const std::string&)> on_message;
};

struct BatchReport {
    std::size_t files = 0, rows = 0;
    std::vector<std::string> failures;  // "path: problem", in input order
    std::vector<std::string> notes;     // skipped short clips etc.
    bool stopped_early = false;         // strict mode hit a failure
};

// Rows reach `sink` in input order, from one thread at a time.
BatchReport featurize_batch(const std::vector<InputFile>& inputs, const BatchOptions& options,
                            const std::function<void(const FeatureRow&)>& sink);

// CSV with Kaggle's header: filename, the feature columns, label.
std::string feature_csv_header();
std::string feature_csv_row(const FeatureRow& row);

}  // namespace genrekit
