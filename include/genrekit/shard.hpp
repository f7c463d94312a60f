// Featurizing on a cluster: split the sorted input list into N deterministic parts
// balanced by file size (one per Slurm array task or GNU parallel job), journal each
// part so that a killed run resumes where it stopped, and merge the parts into the
// bytes one single run would have written.
//
//   auto all = genrekit::collect_inputs({"fma_full/"}, {});
//   genrekit::Shard shard = genrekit::Shard::parse("3/8");        // K/N, K from 0 to N-1
//   auto mine = genrekit::plan_shard(genrekit::input_sizes(all), shard);  // indices into `all`
//   genrekit::FeatureJournal journal("part3.csv", genrekit::run_identity(all, opt, shard), true);
//   ... featurize the files of `mine` that journal.done() lacks, journal.record(...) each ...
//   journal.commit(true);                                         // part3.csv and part3.csv.shard
//   genrekit::merge_feature_parts({"part0.csv", ..., "part7.csv"}, "all.csv");
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "genrekit/featurize.hpp"

namespace genrekit {

struct Shard {
    int index = 0;  // K: 0-based, as Slurm's SLURM_ARRAY_TASK_ID with --array=0-(N-1)
    int count = 1;  // N
    // "K/N" with 0 <= K < N; throws Error naming the problem otherwise.
    static Shard parse(const std::string& text);
    std::string describe() const;  // "K/N"
};

// Sizes in bytes of the inputs' files (0 for one that cannot be read: it fails in its shard).
std::vector<std::uint64_t> input_sizes(const std::vector<InputFile>& inputs);

// The indices (ascending) of the files that belong to `shard`. Largest file first goes to the
// shard with the fewest bytes so far (ties: the smaller index, the lower shard), so the plan
// depends only on the sizes and the order of the list: every machine computes the same one.
std::vector<std::size_t> plan_shard(const std::vector<std::uint64_t>& sizes, const Shard& shard);

// What a featurize run is made from. A journal is resumed, and parts are merged, only
// when they agree on it, so pieces of different runs never mix.
struct RunIdentity {
    Shard shard;
    std::size_t inputs = 0;     // files in the whole input list (all shards)
    std::string inputs_sha256;  // of the whole list: relative path, row name and label of every file
    std::string settings;       // segments, feature parameters, genrekit version
    std::string header;         // the CSV header line
    std::string text() const;   // the identity lines written at the top of journals and part indexes
};
RunIdentity run_identity(const std::vector<InputFile>& all, const BatchOptions& options, const Shard& shard);

enum class FileStatus { Ok, Short, Failed };  // Short: no segment fits, no rows (not an error)

// One input file's rows inside a journal or a part: bytes [offset, offset + length).
struct FileEntry {
    std::size_t input = 0;  // index in the whole input list
    FileStatus status = FileStatus::Ok;
    std::size_t rows = 0;
    std::uint64_t offset = 0, length = 0;
    std::string sha256;  // of the rows' bytes
    std::string rel;
};

// The journal <out>.partial of a featurize run: the identity, then one record per finished
// file (its index line and its rows), appended and flushed as each file finishes. A run
// killed at any point leaves complete records plus at most one torn one, which a resumed
// run drops. Only one process at a time may hold a journal (an advisory lock).
class FeatureJournal {
public:
    // Creates <out>.partial, or with `resume` continues the one an interrupted run left (its
    // identity must match). Throws Error: a journal exists without `resume`, it is locked by
    // a running process, or it belongs to other inputs or settings.
    FeatureJournal(std::string out, RunIdentity id, bool resume);
    ~FeatureJournal();
    FeatureJournal(const FeatureJournal&) = delete;
    FeatureJournal& operator=(const FeatureJournal&) = delete;

    // Files finished by an earlier run (Ok or Short): not to be computed again. A file that
    // failed is retried.
    bool done(std::size_t input) const;
    std::size_t done_count() const;

    // Appends one finished file (rows_text: its CSV rows) and flushes it to the file system.
    void record(std::size_t input, FileStatus status, const std::string& rel, const std::string& rows_text, std::size_t rows);

    struct Summary {
        std::size_t files = 0, rows = 0, failed = 0;  // files recorded (earlier runs included)
    };
    Summary summary() const;
    // Writes <out> atomically: the header, then each file's rows in input order (the bytes of
    // an uninterrupted run). With `part_index`, also <out>.shard, the index merge needs.
    // Removes the journal.
    void commit(bool part_index);
    // Removes the journal (a run that produced nothing worth keeping).
    void discard();

    static std::string path_for(const std::string& out) { return out + ".partial"; }

private:
    std::string out_, path_;
    RunIdentity id_;
    int fd_ = -1;
    std::uint64_t size_ = 0;
    std::map<std::size_t, FileEntry> entries_;  // latest record of each file
};

// <part>.shard: the index written beside each part by `featurize --shard`.
std::string part_index_path(const std::string& part);

struct MergeReport {
    std::size_t parts = 0, files = 0, rows = 0;
    std::vector<std::string> failed;  // "rel: failed in part.csv": files with no rows in any part
};

// Writes `out` atomically: the parts' rows in the order one single run writes them. Throws
// Error (and writes nothing) when a part or its index is missing or damaged, headers differ,
// parts come from other inputs or settings, a file's rows appear twice, a shard is missing,
// or (given a manifest) a file of the manifest has no rows.
MergeReport merge_feature_parts(const std::vector<std::string>& parts, const std::string& out, const std::string& manifest = "");

}  // namespace genrekit
