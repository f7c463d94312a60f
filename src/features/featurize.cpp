#include "genrekit/featurize.hpp"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <map>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>

#include <sys/stat.h>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include "genrekit/audio.hpp"
#include "genrekit/atomic_file.hpp"
#include "genrekit/csv.hpp"
#include "genrekit/error.hpp"

namespace fs = std::filesystem;

namespace genrekit {

void SegmentSpec::validate() const {
    if (mode != SegmentMode::Sliding) return;
    require_param(seconds > 0 && seconds <= 3600, "segment", seconds, "0 < seconds <= 3600");
    require_param(hop > 0 && hop <= 3600, "hop", hop, "0 < seconds <= 3600");
}

std::string SegmentSpec::describe() const {
    switch (mode) {
        case SegmentMode::Whole: return "30s";
        case SegmentMode::Kaggle3s: return "3s";
        case SegmentMode::Sliding: {
            std::ostringstream s;
            s << "segment " << seconds << " s every " << hop << " s";
            return s.str();
        }
    }
    return "?";
}

SegmentGeometry segment_geometry(int sample_rate, const SegmentSpec& spec) {
    spec.validate();
    if (spec.mode == SegmentMode::Kaggle3s) {
        // ref: Kaggle features_3_sec.csv (see shared NOTES-librosa.md): a 3 s stride at
        // 22050 Hz with an off-by-one length of 66149; a too-short last segment is skipped.
        const auto stride = static_cast<std::size_t>(std::lround(3.0 * sample_rate));
        return {stride, stride - 1, spec.max_segments};
    }
    if (spec.mode != SegmentMode::Sliding) throw std::logic_error("segment_geometry: a whole clip has no segments");
    const auto len = static_cast<std::size_t>(std::lround(spec.seconds * sample_rate));
    const auto hop = std::max<std::size_t>(1, static_cast<std::size_t>(std::lround(spec.hop * sample_rate)));
    return {hop, len, 0};
}

std::vector<Segment> plan_segments(std::size_t n, int sample_rate, const SegmentSpec& spec) {
    spec.validate();
    std::vector<Segment> out;
    if (spec.mode == SegmentMode::Whole) {
        if (n > 0) out.push_back({0, n, -1});
        return out;
    }
    const SegmentGeometry g = segment_geometry(sample_rate, spec);
    for (std::size_t start = 0, i = 0; (g.max_segments <= 0 || i < static_cast<std::size_t>(g.max_segments)) && start + g.length <= n;
         start += g.step, ++i)
        out.push_back({start, g.length, static_cast<int>(i)});
    return out;
}

namespace {

std::string trim(std::string s) {
    const auto b = s.find_first_not_of(" \t\r\n");
    const auto e = s.find_last_not_of(" \t\r\n");
    return b == std::string::npos ? "" : s.substr(b, e - b + 1);
}

std::vector<InputFile> read_manifest(const std::string& manifest) {
    const fs::path base = fs::path(manifest).parent_path();
    std::vector<InputFile> out;
    for (const auto& [line_no, line] : csv_records(read_file(manifest, true), manifest)) {
        if (trim(line).empty()) continue;
        const auto cells = split_csv_line(line);
        if (cells.size() != 2)
            throw Error(manifest + ":" + std::to_string(line_no) + ": expected 2 columns (path,label), found " +
                        std::to_string(cells.size()));
        const std::string path = trim(cells[0]), label = trim(cells[1]);
        if (line_no == 1 && path == "path" && label == "label") continue;  // header
        if (label.empty()) throw Error(manifest + ":" + std::to_string(line_no) + ": empty label");
        const fs::path p = fs::path(path).is_absolute() ? fs::path(path) : base / path;
        out.push_back({p.string(), path, label, ""});
    }
    return out;
}

// The audio files under a folder, recursively, following symlinks. Nothing here throws for a
// bad path: an unreadable folder or entry and a symlink loop are reported (or thrown, when
// there is no list to report to) and the walk goes on with the rest.
class FolderWalk {
public:
    FolderWalk(std::vector<InputFile>& out, std::vector<std::string>* problems) : out_(out), problems_(problems) {}

    void report(const std::string& line) {
        if (!problems_) throw Error(line);
        problems_->push_back(line);
    }

    // `rel`: dir relative to the folder given, with a trailing '/' (empty at the top).
    void walk(const fs::path& dir, const std::string& rel) {
        struct stat st {};
        if (::stat(dir.c_str(), &st) != 0) return report(dir.string() + ": cannot read folder (" + std::strerror(errno) + ")");
        const std::pair<dev_t, ino_t> id{st.st_dev, st.st_ino};
        if (!on_path_.insert(id).second) return report(dir.string() + ": symlink loop (the folder contains itself): not followed");
        std::vector<fs::path> entries;
        std::error_code ec;
        fs::directory_iterator it(dir, ec);
        for (const fs::directory_iterator end; !ec && it != end; it.increment(ec)) entries.push_back(it->path());
        if (ec) report(dir.string() + ": cannot read folder (" + ec.message() + ")");
        for (const auto& e : entries) {
            const std::string name = e.filename().string();
            std::error_code sec;
            const fs::file_status status = fs::status(e, sec);  // follows symlinks
            if (sec) {
                // A dangling link or a link loop; other unreadable names are not audio anyway.
                std::error_code lec;
                if (is_audio_extension(name) || fs::is_symlink(fs::symlink_status(e, lec)))
                    report(e.string() + ": cannot read (" + sec.message() + ")");
            } else if (fs::is_directory(status)) {
                walk(e, rel + name + "/");
            } else if (fs::is_regular_file(status) && is_audio_extension(name)) {
                out_.push_back({e.string(), rel + name, e.parent_path().filename().string(), ""});
            }
        }
        on_path_.erase(id);
    }

private:
    std::vector<InputFile>& out_;
    std::vector<std::string>* problems_;
    std::set<std::pair<dev_t, ino_t>> on_path_;  // the folders from the top down to the current one
};

}  // namespace

std::vector<InputFile> collect_inputs(const std::vector<std::string>& paths, const std::optional<std::string>& forced_label,
                                      const std::string& manifest, std::vector<std::string>* problems) {
    std::vector<InputFile> out;
    if (!manifest.empty()) out = read_manifest(manifest);
    FolderWalk walk(out, problems);
    for (const auto& arg : paths) {
        if (AudioReader::is_stdin(arg)) {
            out.push_back({arg, arg, "stdin", "stdin", {}});
            continue;
        }
        const fs::path p(arg);
        std::error_code ec;
        const fs::file_status status = fs::status(p, ec);
        if (status.type() == fs::file_type::not_found) {
            walk.report(arg + ": no such file or folder");
        } else if (ec) {
            walk.report(arg + ": cannot read (" + ec.message() + ")");
        } else if (fs::is_directory(status)) {
            walk.walk(p, "");
        } else {
            const fs::path abs = fs::absolute(p, ec);
            out.push_back({p.string(), p.filename().string(), (ec ? p : abs).parent_path().filename().string(), ""});
        }
    }
    if (forced_label)
        for (auto& f : out) f.label = *forced_label;
    std::stable_sort(out.begin(), out.end(), [](const InputFile& a, const InputFile& b) { return a.rel < b.rel; });
    // Row names are file names, as in Kaggle's CSV, unless two inputs share one.
    std::map<std::string, int> seen;
    for (const auto& f : out) ++seen[fs::path(f.rel).filename().string()];
    for (auto& f : out) {
        const std::string base = fs::path(f.rel).filename().string();
        f.name = seen[base] > 1 ? f.rel : base;
    }
    return out;
}

std::vector<FeatureRow> featurize_file(const InputFile& input, const SegmentSpec& spec, GtzanFeaturizer& fz, std::string* note,
                                       AudioStats* stats) {
    LoadParams lp;
    lp.sample_rate = fz.params().sample_rate;
    lp.raw = input.raw;
    std::vector<FeatureRow> rows;
    const std::string stem = fs::path(input.name).replace_extension().string();
    int sr = lp.sample_rate;
    auto add_row = [&](int index, double start, std::span<const float> y) {
        FeatureRow row;
        row.filename = index < 0 ? input.name : stem + "." + std::to_string(index) + ".wav";
        row.label = input.label;
        row.start = start;
        row.end = start + static_cast<double>(y.size()) / sr;
        row.values = fz.compute(y);
        for (double v : row.values)
            if (!std::isfinite(v)) throw Error(input.path + ": internal error: a feature is not finite");
        rows.push_back(std::move(row));
    };
    AudioStats st;
    std::string said;
    if (spec.mode == SegmentMode::Whole) {
        Clip clip = read_clip(input.path, lp, spec.clip);
        sr = clip.sample_rate;
        st = clip.stats;
        said = clip.note;
        if (!clip.samples.empty()) add_row(-1, clip.start, clip.samples);
    } else {
        AudioReader reader(input.path, lp);
        sr = reader.sample_rate();
        st = for_each_segment(reader, spec, [&](const Segment& seg, std::span<const float> y) {
            add_row(seg.index, static_cast<double>(seg.start) / sr, y);
        });
        if (rows.empty()) {
            std::ostringstream s;
            s << input.path << ": " << st.seconds() << " s is shorter than one segment (" << spec.describe() << "): skipped, no rows";
            said = s.str();
        }
    }
    if (note) *note = said;
    if (stats) *stats = st;
    return rows;
}

namespace {
// Every file's buffers (the audio, the STFT and HPSS matrices: ~50 MB per job) are freed and
// reallocated whenever a file's length differs from the last one's. glibc unmaps freed blocks
// above its mmap threshold and trims the heap's free top, so each file would fault in (and
// zero) fresh pages. Keeping them in the heap lets each file reuse the last one's memory; the
// footprint stays the largest file's working set per job.
void keep_freed_memory() {
#if defined(__GLIBC__)
    static std::once_flag once;
    std::call_once(once, [] {
        mallopt(M_MMAP_THRESHOLD, 32 << 20);  // glibc's maximum on 64-bit
        mallopt(M_TRIM_THRESHOLD, 1 << 30);
    });
#endif
}
}  // namespace

BatchReport featurize_batch(const std::vector<InputFile>& inputs, const BatchOptions& options,
                            const std::function<void(const FeatureRow&)>& sink) {
    options.segments.validate();
    options.features.validate();
    BatchReport report;
    report.files = inputs.size();
    report.stats.resize(inputs.size());  // each worker writes only its own files' entries
    const std::size_t n = inputs.size();
    if (n == 0) return report;
    keep_freed_memory();
    int jobs = options.jobs > 0 ? options.jobs : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    jobs = static_cast<int>(std::min<std::size_t>(static_cast<std::size_t>(jobs), n));

    // Results wait in their slot until every earlier file is done, then go to the
    // sink in input order and are freed: memory stays bounded by the jobs in flight.
    struct Slot {
        bool done = false;
        std::vector<FeatureRow> rows;
        std::string failure, note;
    };
    std::vector<Slot> slots(n);
    std::size_t next_to_flush = 0, finished = 0;
    std::mutex mu;
    std::atomic<std::size_t> next{0};
    std::atomic<bool> stop{false};

    auto worker = [&] {
        GtzanFeaturizer fz(options.features);
        for (;;) {
            if (stop.load()) return;
            const std::size_t i = next.fetch_add(1);
            if (i >= n) return;
            Slot result;
            try {
                result.rows = featurize_file(inputs[i], options.segments, fz, &result.note, &report.stats[i]);
            } catch (const Error& e) {
                result.failure = e.what();
            } catch (const std::bad_alloc&) {
                result.failure = inputs[i].path + ": out of memory";
            } catch (const std::exception& e) {
                // Anything else escaping a worker would end the process: one file, one failure.
                result.failure = inputs[i].path + ": " + e.what();
            }
            std::lock_guard lock(mu);
            if (!result.failure.empty() && options.on_message) options.on_message(result.failure);
            if (!result.note.empty() && options.on_message) options.on_message(result.note);
            if (!result.failure.empty() && options.strict) stop = true;
            result.done = true;
            slots[i] = std::move(result);
            ++finished;
            for (; next_to_flush < n && slots[next_to_flush].done; ++next_to_flush) {
                Slot& s = slots[next_to_flush];
                if (!s.failure.empty()) report.failures.push_back(s.failure);
                if (!s.note.empty()) report.notes.push_back(s.note);
                const bool dropped = options.strict && stop.load() && !report.failures.empty();
                if (!dropped)
                    for (auto& row : s.rows) {
                        row.source = next_to_flush;
                        sink(row);
                        ++report.rows;
                    }
                if (options.on_file_done && (!dropped || !s.failure.empty())) options.on_file_done(next_to_flush, !s.failure.empty());
                s.rows = {};
            }
            if (options.progress) options.progress(finished, n);
        }
    };
    std::vector<std::thread> threads;
    for (int j = 1; j < jobs; ++j) threads.emplace_back(worker);
    worker();
    for (auto& t : threads) t.join();
    // In strict mode files after the failure may have been skipped; report what finished.
    for (; next_to_flush < n; ++next_to_flush) {
        Slot& s = slots[next_to_flush];
        if (!s.failure.empty()) report.failures.push_back(s.failure);
    }
    report.stopped_early = stop.load();
    return report;
}

std::string feature_csv_header() {
    std::string h = "filename";
    for (const auto& c : gtzan_feature_columns()) h += "," + c;
    return h + ",label\n";
}

std::string feature_csv_row(const FeatureRow& row) {
    std::string s = csv_escape(row.filename);
    for (double v : row.values) s += "," + format_number(v);
    return s + "," + csv_escape(row.label) + "\n";
}

}  // namespace genrekit
