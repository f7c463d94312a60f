#include "genrekit/dataset.hpp"

#include <algorithm>
#include <cmath>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "genrekit/error.hpp"
#include "genrekit/nn/rng.hpp"

namespace genrekit {

std::string file_stem(const std::string& file) {
    std::string s = file;
    const auto slash = s.find_last_of("/\\");
    if (slash != std::string::npos) s = s.substr(slash + 1);
    const auto dot = s.find_last_of('.');
    if (dot != std::string::npos && dot > 0) s = s.substr(0, dot);
    return s;
}

bool is_segment_name(const std::string& file, std::string* track) {
    const std::string stem = file_stem(file);
    const auto dot = stem.find_last_of('.');
    if (dot == std::string::npos || dot == 0 || dot + 1 >= stem.size()) return false;
    const std::string idx = stem.substr(dot + 1);
    if (!std::all_of(idx.begin(), idx.end(), [](char c) { return c >= '0' && c <= '9'; })) return false;
    if (idx.size() > 1 && idx[0] == '0') return false;  // zero-padded: a track number, not a segment
    if (track) *track = stem.substr(0, dot);
    return true;
}

std::string detect_front_end_mode(const std::vector<std::string>& files) {
    if (files.empty()) return "30s";
    for (const auto& f : files)
        if (!is_segment_name(f)) return "30s";
    return "3s";
}

std::vector<std::string> track_ids(const std::vector<std::string>& files, bool segmented) {
    std::vector<std::string> out;
    out.reserve(files.size());
    for (const auto& f : files) {
        std::string track;
        if (segmented && is_segment_name(f, &track)) out.push_back(track);
        else out.push_back(file_stem(f));
    }
    return out;
}

namespace {

std::set<std::string> read_list(const std::string& path) {
    std::ifstream in(path);
    if (!in) throw Error(path + ": cannot open split list");
    std::set<std::string> s;
    std::string line;
    while (std::getline(in, line)) {
        while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
        if (line.empty() || line[0] == '#') continue;
        s.insert(file_stem(line));
    }
    if (s.empty()) throw Error(path + ": split list is empty");
    return s;
}

// The group of every track: from a "track,group" file (an optional "track,group" header; track
// as a file name or stem) or from the items' group column. Every track needs exactly one.
std::map<std::string, std::string> track_groups(const SplitConfig& cfg, const std::vector<std::string>& tracks, const std::vector<std::string>& item_groups,
                                                const std::function<std::string(std::size_t)>& where) {
    std::map<std::string, std::string> of;
    if (!item_groups.empty()) {
        for (std::size_t r = 0; r < tracks.size(); ++r) {
            auto [it, fresh] = of.emplace(tracks[r], item_groups[r]);
            if (!fresh && it->second != item_groups[r])
                throw Error(where(r) + ": track '" + tracks[r] + "' has rows in groups '" + it->second + "' and '" + item_groups[r] + "'");
        }
        return of;
    }
    std::ifstream in(cfg.group_file);
    if (!in) throw Error(cfg.group_file + ": cannot open group file");
    std::string line;
    for (int no = 1; std::getline(in, line); ++no) {
        while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
        if (line.empty() || line[0] == '#' || (no == 1 && line == "track,group")) continue;
        const auto f = split_csv_line(line);
        if (f.size() != 2 || f[0].empty() || f[1].empty())
            throw Error(cfg.group_file + ":" + std::to_string(no) + ": expected 'track,group', got '" + line + "'");
        // "blues/blues.00000.wav" or "blues.00000": GTZAN's ".00000" is a number, not an extension.
        const auto dot = f[0].find_last_of('.');
        const bool numbered = dot != std::string::npos && f[0].find_first_not_of("0123456789", dot + 1) == std::string::npos;
        auto [it, fresh] = of.emplace(numbered ? file_stem(f[0] + ".wav") : file_stem(f[0]), f[1]);
        if (!fresh && it->second != f[1])
            throw Error(cfg.group_file + ":" + std::to_string(no) + ": track '" + it->first + "' is also in group '" + it->second + "'");
    }
    std::vector<std::string> missing;
    for (const auto& t : std::set<std::string>(tracks.begin(), tracks.end()))
        if (!of.count(t)) missing.push_back(t);
    if (!missing.empty()) {
        std::string some;
        for (std::size_t i = 0; i < missing.size() && i < 3; ++i) some += (i ? ", " : "") + missing[i];
        throw Error(cfg.group_file + ": no group for " + std::to_string(missing.size()) + " of the data's tracks (" + some +
                    (missing.size() > 3 ? ", ..." : "") + "); every track needs one");
    }
    return of;
}

}  // namespace

std::string describe_grouping(const SplitConfig& cfg, const Split& s) {
    if (!cfg.grouped() || cfg.kind == "lists") return cfg.stratified ? "by track, stratified by label" : "by track";
    return "by group (" + std::to_string(s.groups) + " groups from " +
           (cfg.group_file.empty() ? "column '" + cfg.group_column + "'" : cfg.group_file) + ")";
}

Split make_split(const std::vector<std::string>& files, const std::vector<int>& classes, const SplitConfig& cfg, bool segmented,
                 const std::function<std::string(std::size_t)>& where_in, const std::vector<std::string>& item_groups) {
    const auto tracks = track_ids(files, segmented);
    std::function<std::string(std::size_t)> where = where_in;
    if (!where) where = [&](std::size_t r) { return files[r]; };
    // Tracks in first-appearance order, with their rows and their (single) class.
    std::vector<std::string> order;
    std::map<std::string, std::vector<std::size_t>> rows_of;
    std::map<std::string, int> class_of;
    for (std::size_t r = 0; r < tracks.size(); ++r) {
        auto [it, fresh] = class_of.emplace(tracks[r], classes[r]);
        if (fresh) order.push_back(tracks[r]);
        else if (it->second != classes[r])
            throw Error(where(r) + ": track '" + tracks[r] + "' has rows with different labels");
        rows_of[tracks[r]].push_back(r);
    }
    Split s;
    auto put = [&](std::vector<std::size_t>& dst, const std::string& track) {
        for (auto r : rows_of[track]) dst.push_back(r);
    };
    // K-fold's optional validation part, carved from the training folds (stratified by label).
    auto carve_valid = [&](const std::vector<std::string>& rest) {
        std::map<int, std::vector<std::string>> rg;
        for (const auto& tr : rest) rg[cfg.stratified ? class_of[tr] : 0].push_back(tr);
        for (auto& [c, g] : rg) {
            const auto n_valid = static_cast<std::size_t>(std::llround(static_cast<double>(g.size()) * cfg.valid));
            for (std::size_t i = 0; i < g.size(); ++i) put(i < n_valid ? s.valid : s.train, g[i]);
        }
    };
    if (cfg.kind == "lists") {
        if (cfg.grouped() || !item_groups.empty())
            throw Error("split: split.group_file and split.group_column apply to the random and kfold splits; list files already fix each side");
        std::map<std::string, int> side;  // 0 train, 1 valid, 2 test
        const std::vector<std::string>* lists[3] = {&cfg.train_lists, &cfg.valid_lists, &cfg.test_lists};
        for (int k = 0; k < 3; ++k)
            for (const auto& path : *lists[k])
                for (const auto& stem : read_list(path)) {
                    auto [it, fresh] = side.emplace(stem, k);
                    if (!fresh && it->second != k) throw Error(path + ": '" + stem + "' is also in another split list");
                }
        for (const auto& tr : order) {
            auto it = side.find(tr);
            if (it == side.end()) { s.unassigned += rows_of[tr].size(); continue; }
            put(it->second == 0 ? s.train : it->second == 1 ? s.valid : s.test, tr);
        }
    } else if (cfg.grouped() || !item_groups.empty()) {
        const auto group_of = track_groups(cfg, tracks, item_groups, where);
        std::map<std::string, std::vector<std::string>> members;  // group -> tracks, first-appearance order
        std::vector<std::string> units;
        for (const auto& tr : order) {
            auto& m = members[group_of.at(tr)];
            if (m.empty()) units.push_back(group_of.at(tr));
            m.push_back(tr);
        }
        s.groups = units.size();
        nn::Rng rng(cfg.seed);
        rng.shuffle(units);
        auto size_of = [&](const std::string& g) {
            std::size_t n = 0;
            for (const auto& tr : members[g]) n += rows_of[tr].size();
            return n;
        };
        if (cfg.kind == "random") {
            const auto n = units.size();
            const auto n_test = static_cast<std::size_t>(std::llround(static_cast<double>(n) * cfg.test));
            const auto n_valid = std::min(n - n_test, static_cast<std::size_t>(std::llround(static_cast<double>(n) * cfg.valid)));
            for (std::size_t i = 0; i < n; ++i)
                for (const auto& tr : members[units[i]]) put(i < n_test ? s.test : i < n_test + n_valid ? s.valid : s.train, tr);
        } else {  // kfold: largest group first to the lightest fold (ref: sklearn GroupKFold)
            if (units.size() < static_cast<std::size_t>(cfg.k))
                throw Error("split: " + std::to_string(cfg.k) + "-fold by group needs at least " + std::to_string(cfg.k) + " groups, the grouping has " +
                            std::to_string(units.size()));
            std::stable_sort(units.begin(), units.end(), [&](const auto& a, const auto& b) { return size_of(a) > size_of(b); });
            std::vector<std::size_t> load(static_cast<std::size_t>(cfg.k), 0);
            std::vector<std::string> rest;
            for (const auto& g : units) {
                const auto f = static_cast<std::size_t>(std::min_element(load.begin(), load.end()) - load.begin());
                load[f] += size_of(g);
                for (const auto& tr : members[g]) {
                    if (f == static_cast<std::size_t>(cfg.fold)) put(s.test, tr);
                    else rest.push_back(tr);
                }
            }
            carve_valid(rest);
        }
    } else {
        nn::Rng rng(cfg.seed);
        // Groups of tracks to split proportionally: one per class when stratified.
        std::map<int, std::vector<std::string>> groups;
        for (const auto& tr : order) groups[cfg.stratified ? class_of[tr] : 0].push_back(tr);
        if (cfg.kind == "random") {
            for (auto& [c, g] : groups) {
                rng.shuffle(g);
                const auto n = g.size();
                const auto n_test = static_cast<std::size_t>(std::llround(static_cast<double>(n) * cfg.test));
                const auto n_valid = std::min(n - n_test, static_cast<std::size_t>(std::llround(static_cast<double>(n) * cfg.valid)));
                for (std::size_t i = 0; i < n; ++i) put(i < n_test ? s.test : i < n_test + n_valid ? s.valid : s.train, g[i]);
            }
        } else {  // kfold: deal shuffled tracks of each class round-robin into k folds
            std::size_t deal = 0;
            std::vector<std::string> rest;
            for (auto& [c, g] : groups) {
                rng.shuffle(g);
                for (const auto& tr : g) {
                    if (static_cast<int>(deal++ % static_cast<std::size_t>(cfg.k)) == cfg.fold) put(s.test, tr);
                    else rest.push_back(tr);
                }
            }
            carve_valid(rest);
        }
    }
    for (auto* v : {&s.train, &s.valid, &s.test}) std::sort(v->begin(), v->end());
    assert_tracks_disjoint(s, tracks);
    return s;
}

void assert_tracks_disjoint(const Split& s, const std::vector<std::string>& tracks) {
    std::map<std::string, int> side;
    const std::vector<std::size_t>* parts[3] = {&s.train, &s.valid, &s.test};
    for (int k = 0; k < 3; ++k)
        for (auto r : *parts[k]) {
            auto [it, fresh] = side.emplace(tracks[r], k);
            if (!fresh && it->second != k)
                throw std::logic_error("split leaks track '" + tracks[r] + "' across train/valid/test (a bug)");
        }
}

Normalizer Normalizer::fit(const std::string& kind, const RowMatrixXd& x, const std::vector<std::size_t>& rows,
                           const std::vector<std::string>& names) {
    Normalizer n;
    n.kind = kind;
    const auto F = static_cast<std::size_t>(x.cols());
    n.shift.assign(F, 0.0);
    n.scale.assign(F, 1.0);
    if (kind == "none") return n;
    if (rows.empty()) throw Error("normalization: no training rows to compute statistics from");
    if (kind == "log_zscore") {
        if (names.size() != F) throw Error("normalization: log_zscore needs the feature column names");
        n.log_offset.assign(F, 0.0);
        for (std::size_t j = 0; j < F; ++j) {
            if (names[j].size() < 4 || names[j].compare(names[j].size() - 4, 4, "_var") != 0) continue;
            double sum = 0;
            for (auto r : rows) sum += std::max(0.0, x(static_cast<Eigen::Index>(r), static_cast<Eigen::Index>(j)));
            const double mean = sum / static_cast<double>(rows.size());
            n.log_offset[j] = mean > 0 && std::isfinite(mean) ? 1e-3 * mean : 1e-12;
        }
    }
    for (std::size_t j = 0; j < F; ++j) {
        const auto c = static_cast<Eigen::Index>(j);
        auto value = [&](std::size_t r) { return n.pre(x(static_cast<Eigen::Index>(r), c), j); };
        double mn = value(rows[0]), mx = mn, sum = 0;
        for (auto r : rows) {
            const double v = value(r);
            mn = std::min(mn, v);
            mx = std::max(mx, v);
            sum += v;
        }
        if (kind == "max") {
            n.scale[j] = mx;
        } else if (kind == "minmax") {
            n.shift[j] = mn;
            n.scale[j] = mx - mn;
        } else if (kind == "zscore" || kind == "log_zscore") {
            const double mean = sum / static_cast<double>(rows.size());
            double ss = 0;
            for (auto r : rows) {
                const double d = value(r) - mean;
                ss += d * d;
            }
            n.shift[j] = mean;
            n.scale[j] = std::sqrt(ss / static_cast<double>(rows.size()));
        } else {
            throw Error("normalization: unknown kind '" + kind + "' (allowed: none, max, minmax, zscore, log_zscore)");
        }
        if (!(std::abs(n.scale[j]) > 0) || !std::isfinite(n.scale[j])) n.scale[j] = 1.0;
    }
    return n;
}

void Normalizer::apply(const double* in, float* out) const {
    for (std::size_t j = 0; j < shift.size(); ++j) out[j] = static_cast<float>((pre(in[j], j) - shift[j]) / scale[j]);
}

nlohmann::json Normalizer::to_json() const {
    nlohmann::json j = {{"kind", kind}, {"shift", shift}, {"scale", scale}};
    if (!log_offset.empty()) j["log_offset"] = log_offset;
    return j;
}

Normalizer Normalizer::from_json(const nlohmann::json& j, std::size_t features, const std::string& src) {
    Normalizer n;
    try {
        n.kind = j.at("kind").get<std::string>();
        n.shift = j.at("shift").get<std::vector<double>>();
        n.scale = j.at("scale").get<std::vector<double>>();
        if (j.contains("log_offset")) n.log_offset = j.at("log_offset").get<std::vector<double>>();
    } catch (const nlohmann::json::exception& e) {
        throw Error(src + ": normalization metadata is malformed: " + e.what());
    }
    if (n.shift.size() != features || n.scale.size() != features)
        throw Error(src + ": normalization has " + std::to_string(n.shift.size()) + "/" + std::to_string(n.scale.size()) +
                    " statistics for " + std::to_string(features) + " features");
    if (!n.log_offset.empty() && n.log_offset.size() != features)
        throw Error(src + ": normalization has " + std::to_string(n.log_offset.size()) + " log offsets for " + std::to_string(features) + " features");
    for (double o : n.log_offset)
        if (!(o >= 0) || !std::isfinite(o)) throw Error(src + ": normalization log offset " + std::to_string(o) + " is negative or not finite");
    for (std::size_t i = 0; i < features; ++i)
        if (!std::isfinite(n.shift[i]) || !std::isfinite(n.scale[i]) || n.scale[i] == 0)
            throw Error(src + ": normalization statistic " + std::to_string(i) + " is zero or not finite");
    return n;
}

}  // namespace genrekit
