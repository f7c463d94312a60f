// Shard plans, the identity of a featurize run, and merging parts (see genrekit/shard.hpp).
#include "genrekit/shard.hpp"

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <optional>
#include <queue>
#include <sstream>

#include <nlohmann/json.hpp>

#include "features/shard_format.hpp"
#include "genrekit/atomic_file.hpp"
#include "genrekit/error.hpp"
#include "genrekit/sha256.hpp"

namespace fs = std::filesystem;

namespace genrekit {

namespace {
bool parse_int(std::string_view s, long long& v) {
    const auto r = std::from_chars(s.data(), s.data() + s.size(), v);
    return !s.empty() && r.ec == std::errc() && r.ptr == s.data() + s.size();
}
}  // namespace

Shard Shard::parse(const std::string& text) {
    const auto slash = text.find('/');
    long long k = -1, n = -1;
    if (slash == std::string::npos || !parse_int(std::string_view(text).substr(0, slash), k) ||
        !parse_int(std::string_view(text).substr(slash + 1), n))
        throw Error("--shard " + text + ": expected K/N, e.g. 0/8 (K counts from 0 to N-1)");
    if (n < 1) throw Error("--shard " + text + ": N must be at least 1");
    if (n > 1000000) throw Error("--shard " + text + ": N must be at most 1000000");
    if (k < 0 || k >= n)
        throw Error("--shard " + text + ": K must be from 0 to " + std::to_string(n - 1) + " (K counts from 0, as SLURM_ARRAY_TASK_ID)");
    return {static_cast<int>(k), static_cast<int>(n)};
}

std::string Shard::describe() const { return std::to_string(index) + "/" + std::to_string(count); }

std::vector<std::uint64_t> input_sizes(const std::vector<InputFile>& inputs) {
    std::vector<std::uint64_t> sizes;
    sizes.reserve(inputs.size());
    for (const auto& f : inputs) {
        std::error_code ec;
        const auto s = fs::file_size(f.path, ec);
        sizes.push_back(ec ? 0 : static_cast<std::uint64_t>(s));
    }
    return sizes;
}

std::vector<std::size_t> plan_shard(const std::vector<std::uint64_t>& sizes, const Shard& shard) {
    std::vector<std::size_t> order(sizes.size());
    for (std::size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return sizes[a] > sizes[b]; });
    // Min-heap of (bytes so far, shard): the lightest shard, the lower one on a tie.
    using Load = std::pair<std::uint64_t, int>;
    std::priority_queue<Load, std::vector<Load>, std::greater<Load>> loads;
    for (int s = 0; s < shard.count; ++s) loads.push({0, s});
    std::vector<std::size_t> mine;
    for (std::size_t i : order) {
        Load l = loads.top();
        loads.pop();
        if (l.second == shard.index) mine.push_back(i);
        l.first += sizes[i];
        loads.push(l);
    }
    std::sort(mine.begin(), mine.end());
    return mine;
}

std::string RunIdentity::text() const {
    return "shard " + shard.describe() + "\ninputs " + std::to_string(inputs) + " " + inputs_sha256 + "\nsettings " + settings +
           "\nheader " + sha256_hex(header) + "\n";
}

RunIdentity run_identity(const std::vector<InputFile>& all, const BatchOptions& options, const Shard& shard) {
    RunIdentity id;
    id.shard = shard;
    id.inputs = all.size();
    Sha256 h;
    for (const auto& f : all) {
        const std::string line = f.rel + '\t' + f.name + '\t' + f.label + '\n';
        h.update(line.data(), line.size());
    }
    id.inputs_sha256 = h.hex();
    const FeatureParams& p = options.features;
    std::ostringstream s;
    s << options.segments.describe();
    // A whole-clip row of a long file depends on the clip policy: parts made with other ones differ.
    if (options.segments.mode == SegmentMode::Whole)
        s << " (clip " << static_cast<int>(options.segments.clip.policy) << ", " << options.segments.clip.seconds << " s)";
    s << "; sample_rate " << p.sample_rate << ", n_fft " << p.n_fft << ", hop " << p.hop
      << ", n_mels " << p.n_mels << ", n_mfcc " << p.n_mfcc << "; genrekit " << GENREKIT_VERSION;
    id.settings = s.str();
    id.header = feature_csv_header();
    return id;
}

namespace detail {

namespace {
const char* status_name(FileStatus s) { return s == FileStatus::Ok ? "ok" : s == FileStatus::Short ? "short" : "failed"; }
}  // namespace

std::string entry_line(const FileEntry& e, bool with_offset) {
    std::string s = "file " + std::to_string(e.input) + " " + status_name(e.status) + " " + std::to_string(e.rows) + " ";
    if (with_offset) s += std::to_string(e.offset) + " ";
    return s + std::to_string(e.length) + " " + e.sha256 + " " + nlohmann::json(e.rel).dump() + "\n";
}

bool parse_entry_line(const std::string& line, bool with_offset, FileEntry& e) {
    std::istringstream in(line);
    std::string word, status;
    if (!(in >> word >> e.input >> status >> e.rows) || word != "file") return false;
    if (with_offset && !(in >> e.offset)) return false;
    if (!(in >> e.length >> e.sha256) || e.sha256.size() != 64) return false;
    if (status == "ok") e.status = FileStatus::Ok;
    else if (status == "short") e.status = FileStatus::Short;
    else if (status == "failed") e.status = FileStatus::Failed;
    else return false;
    std::string rest;
    std::getline(in, rest);
    try {
        e.rel = nlohmann::json::parse(rest).get<std::string>();
    } catch (const std::exception&) {
        return false;
    }
    return true;
}

StoredIdentity read_identity(std::istream& in, const std::string& path, const char* magic) {
    std::string line;
    if (!std::getline(in, line) || line != magic) throw Error(path + ": not a genrekit " + (std::string(magic).find("journal") != std::string::npos ? "journal" : "part index"));
    StoredIdentity id;
    const char* keys[] = {"shard ", "inputs ", "settings ", "header "};
    std::string values[4];
    for (int i = 0; i < 4; ++i) {
        if (!std::getline(in, line) || line.rfind(keys[i], 0) != 0) throw Error(path + ": damaged (no '" + keys[i] + "' line)");
        values[i] = line.substr(std::string(keys[i]).size());
        id.text += line + "\n";
    }
    try {
        id.shard = Shard::parse(values[0]);
    } catch (const Error&) {
        throw Error(path + ": damaged (shard '" + values[0] + "')");
    }
    id.inputs = values[1];
    id.settings = values[2];
    id.header_sha256 = values[3];
    return id;
}

}  // namespace detail

std::string part_index_path(const std::string& part) { return part + ".shard"; }

namespace {

struct Part {
    std::string path;
    detail::StoredIdentity id;
    std::string header;
    std::uint64_t size = 0;
    std::vector<FileEntry> entries;
};

Part read_part(const std::string& path) {
    Part p;
    p.path = path;
    const std::string index = part_index_path(path);
    std::ifstream csv(path, std::ios::binary);
    if (!csv) throw Error(path + ": cannot open");
    std::ifstream in(index);
    if (!in) throw Error(index + ": missing: merge takes the parts written by `genrekit featurize --shard K/N -o " + path + "`");
    p.id = detail::read_identity(in, index, detail::kPartMagic);
    std::string line;
    for (int line_no = 6; std::getline(in, line); ++line_no) {
        FileEntry e;
        if (!detail::parse_entry_line(line, true, e)) throw Error(index + ":" + std::to_string(line_no) + ": damaged entry");
        p.entries.push_back(std::move(e));
    }
    std::getline(csv, p.header);
    p.header += "\n";
    std::error_code ec;
    p.size = fs::file_size(path, ec);
    return p;
}

// "column 3 is 'x' there, 'y' here": the first column where two headers differ.
std::string first_difference(const std::string& a, const std::string& b) {
    std::istringstream sa(a), sb(b);
    std::string ca, cb;
    for (int col = 1;; ++col) {
        const bool ha = static_cast<bool>(std::getline(sa, ca, ',')), hb = static_cast<bool>(std::getline(sb, cb, ','));
        if (!ha && !hb) return "they differ";
        if (!ha || !hb || ca != cb)
            return "column " + std::to_string(col) + " is '" + (ha ? ca : "(none)") + "' there, '" + (hb ? cb : "(none)") + "' here";
    }
}

void check_same_run(const Part& first, const Part& p) {
    if (p.header != first.header)
        throw Error(p.path + ": its header differs from " + first.path + "'s (" + first_difference(first.header, p.header) + ")");
    if (sha256_hex(p.header) != p.id.header_sha256) throw Error(p.path + ": its header does not match its index (changed after featurize?)");
    const auto differs = [&](const char* what, const std::string& a, const std::string& b) {
        if (a != b) throw Error(p.path + ": made from other " + what + " than " + first.path + " ('" + b + "', not '" + a + "')");
    };
    differs("inputs", first.id.inputs, p.id.inputs);
    differs("settings", first.id.settings, p.id.settings);
    differs("shard counts", std::to_string(first.id.shard.count), std::to_string(p.id.shard.count));
}

}  // namespace

MergeReport merge_feature_parts(const std::vector<std::string>& paths, const std::string& out, const std::string& manifest) {
    if (paths.empty()) throw Error("merge: no parts given");
    std::vector<Part> parts;
    for (const auto& path : paths) {
        parts.push_back(read_part(path));
        check_same_run(parts.front(), parts.back());
    }
    // Every input file once: its entry and the part that holds it.
    struct Where {
        const Part* part;
        const FileEntry* entry;
    };
    std::map<std::size_t, Where> files;
    std::map<int, const Part*> shards;
    for (const Part& p : parts) {
        for (const FileEntry& e : p.entries) {
            const auto [it, fresh] = files.emplace(e.input, Where{&p, &e});
            if (!fresh) throw Error(e.rel + ": its rows are in both " + it->second.part->path + " and " + p.path + " (a part given twice?)");
            if (e.offset + e.length > p.size) throw Error(p.path + ": shorter than its index says (changed after featurize?)");
        }
        shards.emplace(p.id.shard.index, &p);
    }
    const int n = parts.front().id.shard.count;
    for (int k = 0; k < n; ++k)
        if (!shards.count(k)) throw Error("merge: shard " + Shard{k, n}.describe() + " is missing: give all " + std::to_string(n) + " parts");
    long long total = 0;
    parse_int(parts.front().id.inputs.substr(0, parts.front().id.inputs.find(' ')), total);
    if (files.size() != static_cast<std::size_t>(total))
        throw Error("merge: the parts index " + std::to_string(files.size()) + " files, the input list had " + std::to_string(total));

    MergeReport report;
    report.parts = parts.size();
    report.files = files.size();
    if (!manifest.empty()) {
        std::map<std::string, bool> have;  // rel -> has rows (or is too short for any)
        for (const auto& [input, w] : files) have[w.entry->rel] = w.entry->status != FileStatus::Failed;
        std::vector<std::string> missing;
        for (const auto& f : collect_inputs({}, std::nullopt, manifest))
            if (!have[f.rel]) missing.push_back(f.rel);
        if (!missing.empty()) {
            std::string list;
            for (std::size_t i = 0; i < missing.size() && i < 5; ++i) list += (i ? ", " : "") + missing[i];
            throw Error(manifest + ": " + std::to_string(missing.size()) + " file(s) have no rows in the parts: " + list +
                        (missing.size() > 5 ? ", ..." : ""));
        }
    }

    AtomicFile file(out, true);
    file.stream() << parts.front().header;
    std::map<const Part*, std::ifstream> streams;
    std::string block;
    for (const auto& [input, w] : files) {
        if (w.entry->status == FileStatus::Failed) report.failed.push_back(w.entry->rel + ": failed in " + w.part->path);
        if (w.entry->status != FileStatus::Ok) continue;
        auto& in = streams[w.part];
        if (!in.is_open()) in.open(w.part->path, std::ios::binary);
        block.resize(w.entry->length);
        in.seekg(static_cast<std::streamoff>(w.entry->offset));
        if (!in.read(block.data(), static_cast<std::streamsize>(block.size())) || sha256_hex(block) != w.entry->sha256)
            throw Error(w.part->path + ": the rows of " + w.entry->rel + " do not match its index (changed after featurize?)");
        file.stream() << block;
        report.rows += w.entry->rows;
    }
    file.commit();
    return report;
}

}  // namespace genrekit
