#include "genrekit/csv.hpp"

#include <charconv>
#include <cmath>
#include <map>

#include "genrekit/atomic_file.hpp"
#include "genrekit/error.hpp"
#include "genrekit/sha256.hpp"

namespace genrekit {

std::vector<std::string> split_csv_line(const std::string& line) {
    std::vector<std::string> out;
    std::string cur;
    bool quoted = false;
    for (std::size_t i = 0; i < line.size(); ++i) {
        const char c = line[i];
        if (quoted) {
            if (c == '"') {
                if (i + 1 < line.size() && line[i + 1] == '"') { cur += '"'; ++i; }
                else quoted = false;
            } else cur += c;
        } else if (c == '"') quoted = true;
        else if (c == ',') { out.push_back(std::move(cur)); cur.clear(); }
        else cur += c;
    }
    out.push_back(std::move(cur));
    return out;
}

std::string csv_escape(const std::string& f) {
    if (f.find_first_of(",\"\r\n") == std::string::npos) return f;
    std::string r = "\"";
    for (char c : f) {
        if (c == '"') r += '"';
        r += c;
    }
    return r + "\"";
}

std::string format_number(double x) {
    if (std::isnan(x)) return "nan";
    if (std::isinf(x)) return x > 0 ? "inf" : "-inf";
    char buf[64];
    auto r = std::to_chars(buf, buf + sizeof buf, x);
    return std::string(buf, r.ptr);
}

std::string format_number(float x) {
    if (std::isnan(x)) return "nan";
    if (std::isinf(x)) return x > 0 ? "inf" : "-inf";
    char buf[64];
    auto r = std::to_chars(buf, buf + sizeof buf, x);
    return std::string(buf, r.ptr);
}

std::vector<std::pair<int, std::string>> csv_records(const std::string& text, const std::string& path) {
    std::vector<std::pair<int, std::string>> out;
    std::size_t pos = text.compare(0, 3, "\xEF\xBB\xBF") == 0 ? 3 : 0;  // UTF-8 BOM
    int line = 1;
    while (pos < text.size()) {
        // A record ends at a newline outside quotes: a quoted field may hold newlines (csv_escape
        // writes file names that have them so).
        const int first = line;
        bool quoted = false;
        std::size_t e = pos;
        for (; e < text.size() && (quoted || text[e] != '\n'); ++e) {
            if (text[e] == '"') quoted = !quoted;
            else if (text[e] == '\n') ++line;
        }
        if (quoted) throw Error(path + ":" + std::to_string(first) + ": a quoted field is not closed before the end of the file");
        std::string r = text.substr(pos, e - pos);
        if (!r.empty() && r.back() == '\r') r.pop_back();  // CRLF
        if (!r.empty()) out.emplace_back(first, std::move(r));
        pos = e + 1;
        ++line;
    }
    return out;
}

FeatureTable read_feature_csv(const std::string& path, const CsvReadOptions& opt) {
    return parse_feature_csv(read_file(path, true), path, opt);
}

FeatureTable parse_feature_csv(const std::string& text, const std::string& path, const CsvReadOptions& opt) {
    FeatureTable t;
    t.path = path;
    t.sha256 = sha256_hex(text);
    const auto lines = csv_records(text, path);
    if (lines.empty()) throw Error(path + ": empty file (expected a header line and data rows)");
    const auto header = split_csv_line(lines[0].second);
    std::map<std::string, std::size_t> col;
    for (std::size_t i = 0; i < header.size(); ++i) {
        if (header[i].empty()) throw Error(path + ":" + std::to_string(lines[0].first) + ": header column " + std::to_string(i + 1) + " has no name");
        if (!col.emplace(header[i], i).second) throw Error(path + ": header names column '" + header[i] + "' twice");
    }
    const bool has_label = !opt.label_column.empty() && col.count(opt.label_column);
    if (opt.require_label && !has_label)
        throw Error(path + ": no label column '" + opt.label_column + "' in the header (set data.label_column)");
    const bool has_file = !opt.file_column.empty() && col.count(opt.file_column);
    if (!opt.group_column.empty() && !col.count(opt.group_column))
        throw Error(path + ": no group column '" + opt.group_column + "' in the header (set split.group_column)");
    if (opt.feature_columns.empty()) {
        for (const auto& h : header) {
            if ((has_file && h == opt.file_column) || (has_label && h == opt.label_column)) continue;
            if (h == opt.label_column || h == opt.file_column || h == opt.group_column) continue;
            bool excluded = false;
            for (const auto& x : opt.exclude) excluded = excluded || x == h;
            if (!excluded) t.feature_columns.push_back(h);
        }
        if (t.feature_columns.empty()) throw Error(path + ": no feature columns (the header has only file/label columns)");
    } else {
        for (const auto& f : opt.feature_columns) {
            if (!col.count(f)) throw Error(path + ": feature column '" + f + "' is not in the header (wrong schema?)");
            t.feature_columns.push_back(f);
        }
    }
    std::vector<std::size_t> fidx;
    for (const auto& f : t.feature_columns) fidx.push_back(col.at(f));
    const std::size_t rows = lines.size() - 1, F = fidx.size();
    if (rows == 0) throw Error(path + ": no data rows after the header");
    t.features.resize(static_cast<Eigen::Index>(rows), static_cast<Eigen::Index>(F));
    t.labels.reserve(rows);
    t.files.reserve(rows);
    for (std::size_t r = 0; r < rows; ++r) {
        const int no = lines[r + 1].first;
        const auto fields = split_csv_line(lines[r + 1].second);
        const std::string at = path + ":" + std::to_string(no);
        if (fields.size() != header.size())
            throw Error(at + ": " + std::to_string(fields.size()) + " fields but the header has " + std::to_string(header.size()) + " (wrong schema?)");
        for (std::size_t j = 0; j < F; ++j) {
            const std::string& s = fields[fidx[j]];
            const std::string cname = "column '" + t.feature_columns[j] + "'";
            if (s.empty()) throw Error(at + ": " + cname + ": empty cell");
            double v = 0;
            const char* b = s.data();
            const char* e = s.data() + s.size();
            while (b < e && *b == ' ') ++b;
            if (b < e && *b == '+') ++b;
            auto res = std::from_chars(b, e, v);
            if (res.ec != std::errc() || res.ptr != e) {
                if (res.ec == std::errc::result_out_of_range) throw Error(at + ": " + cname + ": value '" + s + "' is out of the double range");
                throw Error(at + ": " + cname + ": '" + s + "' is not a number");
            }
            if (!std::isfinite(v)) throw Error(at + ": " + cname + ": value '" + s + "' is not finite (NaN/inf cells are not allowed)");
            t.features(static_cast<Eigen::Index>(r), static_cast<Eigen::Index>(j)) = v;
        }
        if (has_label) {
            const std::string& l = fields[col.at(opt.label_column)];
            if (l.empty()) throw Error(at + ": column '" + opt.label_column + "': empty label");
            t.labels.push_back(l);
        } else {
            t.labels.emplace_back();
        }
        t.files.push_back(has_file ? fields[col.at(opt.file_column)] : "row" + std::to_string(r));
        if (!opt.group_column.empty()) {
            const std::string& g = fields[col.at(opt.group_column)];
            if (g.empty()) throw Error(at + ": column '" + opt.group_column + "': empty group");
            t.groups.push_back(g);
        }
        t.lines.push_back(no);
    }
    return t;
}

}  // namespace genrekit
