// From a feature table to training data: track grouping of segment rows, splits that
// keep every segment of a track on one side, and normalization statistics.
//
//   auto tracks = genrekit::track_ids(table.files, segmented);   // "blues.00000.3.wav" -> "blues.00000"
//   genrekit::Split s = genrekit::make_split(table.files, classes, cfg.split, segmented);
//   genrekit::Normalizer norm = genrekit::Normalizer::fit("zscore", table.features, s.train);
#pragma once

#include <nlohmann/json.hpp>

#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "genrekit/csv.hpp"
#include "genrekit/train_config.hpp"

namespace genrekit {

// "dir/blues.00000.wav" -> "blues.00000" (folders and the last extension removed).
std::string file_stem(const std::string& file);

// A row named "<stem>.<i>.<ext>" with i a decimal without leading zeros ("0", "7", "12")
// is segment i of track <stem> (the Kaggle 3-second CSV). GTZAN's own numbers are
// zero-padded ("blues.00000.wav"), so whole-track names are never mistaken for segments.
bool is_segment_name(const std::string& file, std::string* track = nullptr);

// "3s" when every row is a segment name, else "30s".
std::string detect_front_end_mode(const std::vector<std::string>& files);

// One track id per row: the stem, or the track stem of a segment when `segmented`.
std::vector<std::string> track_ids(const std::vector<std::string>& files, bool segmented);

struct Split {
    std::vector<std::size_t> train, valid, test;  // row indices, ascending
    std::size_t unassigned = 0;                   // rows in no list (split.kind = lists)
    std::size_t groups = 0;                       // groups dealt (0: split by track)
};

// Items to split: the file name of every item (a feature row, or a whole track of audio) and its
// class index; `where(i)` names item i in errors ("file.csv:12"; default: its file name). Throws
// genrekit::Error when a track's items disagree on the label, a list file cannot be read, or a
// track is in two lists.
// Grouping (cfg.group_file, or `groups`: one group per item from a CSV column): the random and
// k-fold splits deal whole groups instead of tracks. K-fold gives each group in turn (largest
// first, shuffled by split.seed) to the fold with the fewest items so far, so the folds are
// balanced by size but not stratified; a validation part is carved from the training groups by
// track. Throws when a track has no group or two, or k exceeds the number of groups.
Split make_split(const std::vector<std::string>& files, const std::vector<int>& classes, const SplitConfig& cfg, bool segmented,
                 const std::function<std::string(std::size_t)>& where = {}, const std::vector<std::string>& groups = {});

// "by track, stratified by label" or "by group (G groups from <file>|column '<name>')".
std::string describe_grouping(const SplitConfig& cfg, const Split& s);

// Throws (a bug, not bad input) unless every track's rows are all on one side.
void assert_tracks_disjoint(const Split& s, const std::vector<std::string>& tracks);

// x' = (x - shift) / scale, per column; statistics from training rows only.
//   none: 0, 1   max: 0, column max (the student project's X / X.max())
//   minmax: min, max - min   zscore: mean, population standard deviation (ddof 0, like
//   sklearn's StandardScaler). A zero (or non-finite) scale becomes 1.
//   log_zscore: columns whose name ends in "_var" (variances: positive, heavy right tails)
//   first become log(max(x, 0) + offset) with offset = 1e-3 * their training mean (so a zero
//   variance stays finite), then every column is z-scored. The log columns and offsets are
//   stored with the statistics, so a model applies the same transform at predict time.
struct Normalizer {
    std::string kind = "none";
    std::vector<double> shift, scale;
    std::vector<double> log_offset;  // per column: > 0 means "log(max(x,0) + offset) first"; empty = none

    // `names` (the feature columns) is needed by log_zscore only.
    static Normalizer fit(const std::string& kind, const RowMatrixXd& x, const std::vector<std::size_t>& rows,
                          const std::vector<std::string>& names = {});
    void apply(const double* in, float* out) const;  // one row of shift.size() values
    // The per-column transform before shift/scale (the log of log_zscore columns, else x).
    double pre(double x, std::size_t j) const {
        return j < log_offset.size() && log_offset[j] > 0 ? std::log((x > 0 ? x : 0.0) + log_offset[j]) : x;
    }
    nlohmann::json to_json() const;
    static Normalizer from_json(const nlohmann::json& j, std::size_t features, const std::string& src);
};

}  // namespace genrekit
