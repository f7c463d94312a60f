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
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "genrekit/audio.hpp"
#include "genrekit/features.hpp"

namespace genrekit {

// What the one row of a whole-clip (30 s) featurization describes when a file is long. The
// features need the clip in memory, so a long file is not analysed whole unless asked.
enum class ClipPolicy {
    Auto,    // files up to `whole_up_to` seconds whole (GTZAN's 30 s clips), longer ones: Middle
    Whole,   // the whole file, however long (memory grows with its length)
    First,   // the first `seconds`
    Middle,  // `seconds` from the middle (the first ones when the length is unknown: a stream)
};

struct ClipSpec {
    ClipPolicy policy = ClipPolicy::Auto;
    double seconds = 30.0;
    double whole_up_to = 60.0;
    static ClipPolicy parse(const std::string& name);  // auto|whole|first|middle, else Error
};

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
    ClipSpec clip = {};    // Whole only
    void validate() const;
    std::string describe() const;  // "30s", "3s", "segment 3 s every 1.5 s"
};

struct Segment {
    std::size_t start = 0, length = 0;
    int index = -1;  // -1 for a whole clip
};

// Segment i covers samples [i * step, i * step + length), for at most max_segments (0: no cap).
struct SegmentGeometry {
    std::size_t step = 0, length = 0;
    int max_segments = 0;
};
SegmentGeometry segment_geometry(int sample_rate, const SegmentSpec& spec);  // Kaggle3s or Sliding

// The segments of a clip of n samples; empty when the clip is shorter than one segment.
std::vector<Segment> plan_segments(std::size_t n_samples, int sample_rate, const SegmentSpec& spec);

// What a pass over an input read.
struct AudioStats {
    std::uint64_t samples = 0;  // read (the whole input unless a segment cap or a clip stopped early)
    int sample_rate = 0;
    float peak = 0;             // largest |sample| read
    double seconds() const { return sample_rate > 0 ? static_cast<double>(samples) / sample_rate : 0.0; }
    double peak_dbfs() const;
};

// Streams `reader` through the segments `spec` plans (Kaggle3s or Sliding; the same segments
// as plan_segments on the whole input), calling on_segment with each one's samples. Memory
// holds one segment and one read block, whatever the input's length.
AudioStats for_each_segment(AudioReader& reader, const SegmentSpec& spec,
                            const std::function<void(const Segment&, std::span<const float>)>& on_segment);

// The clip a whole-clip row describes, per spec.clip; `note` says what was chosen when Auto
// did not take the whole input.
struct Clip {
    std::vector<float> samples;
    int sample_rate = 0;
    double start = 0;  // seconds into the input
    AudioStats stats;
    std::string note;
};
Clip read_clip(const std::string& path, const LoadParams& params, const ClipSpec& spec);

struct InputFile {
    std::string path;   // as opened
    std::string rel;    // relative path used for sorting and naming
    std::string label;  // the containing folder's name, the manifest's label, or --label
    std::string name;   // row name: the file's name, or its relative path when two inputs share a name
    RawFormat raw = {}; // standard input ("-") only: headerless PCM
};

// Files and folders (recursively, following symlinks; extensions wav au aiff aif flac ogg
// mp3 in any case), "-" for standard input (named and labelled "stdin"), or a manifest CSV of
// path,label (paths relative to the manifest). The result is sorted by relative path. A missing
// input, an unreadable folder or entry and a symlink loop go to `problems` as "<path>: <problem>"
// and the rest is collected; without `problems` the first one throws Error. A bad manifest throws Error.
std::vector<InputFile> collect_inputs(const std::vector<std::string>& paths, const std::optional<std::string>& forced_label,
                                      const std::string& manifest = "", std::vector<std::string>* problems = nullptr);

// Sets `raw` on the standard-input entry ("-"); Error when raw is set and there is none.
void set_stdin_format(std::vector<InputFile>& inputs, const RawFormat& raw);

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
// Reads the input once, in blocks (see for_each_segment and read_clip); `stats` receives
// what was read.
std::vector<FeatureRow> featurize_file(const InputFile& input, const SegmentSpec& spec, GtzanFeaturizer& fz,
                                       std::string* note = nullptr, AudioStats* stats = nullptr);

struct BatchOptions {
    SegmentSpec segments;
    FeatureParams features;
    int jobs = 0;         // 0: every core
    bool strict = false;  // stop at the first failure
    // Called from worker threads, serialised, after each file: (done, total).
    std::function<void(std::size_t, std::size_t)> progress;
    // Called for each failure or note as it happens ("path: problem").
    std::function<void(const std::string&)> on_message;
    // Called once per file after its rows reached the sink (in input order, serialised), with
    // whether it failed: lets a caller journal finished files (featurize --resume).
    std::function<void(std::size_t, bool)> on_file_done;
};

struct BatchReport {
    std::size_t files = 0, rows = 0;
    std::vector<std::string> failures;  // "path: problem", in input order
    std::vector<std::string> notes;     // skipped short clips etc.
    std::vector<AudioStats> stats;      // per input, what was read (zero for failures)
    bool stopped_early = false;         // strict mode hit a failure
};

// Rows reach `sink` in input order, from one thread at a time.
BatchReport featurize_batch(const std::vector<InputFile>& inputs, const BatchOptions& options,
                            const std::function<void(const FeatureRow&)>& sink);

// CSV with Kaggle's header: filename, the feature columns, label.
std::string feature_csv_header();
std::string feature_csv_row(const FeatureRow& row);

}  // namespace genrekit
