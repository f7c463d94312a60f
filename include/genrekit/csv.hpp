// Feature tables in CSV (the Kaggle GTZAN layout: filename, length, features..., label)
// and the number/field formatting every genrekit CSV writer uses.
//
//   genrekit::CsvReadOptions opt;                 // label "label", file column "filename"
//   genrekit::FeatureTable t = genrekit::read_feature_csv("features_30_sec.csv", opt);
//   // t.features: rows x F (double), t.feature_columns, t.labels, t.files, t.sha256
//
//   out << genrekit::csv_escape(name) << ',' << genrekit::format_number(x);  // round-trips doubles
#pragma once

#include <Eigen/Core>

#include <string>
#include <utility>
#include <vector>

namespace genrekit {

using RowMatrixXd = Eigen::Matrix<double, Eigen::Dynamic, Eigen::Dynamic, Eigen::RowMajor>;

struct CsvReadOptions {
    std::string label_column = "label";      // "" = no labels (e.g. predicting)
    std::string file_column = "filename";    // "" or absent in the header = rows are named "row<i>"
    // Feature columns to read, in this order. Empty = every column except the file
    // column, the label column and `exclude` (the Kaggle "length" in samples).
    std::vector<std::string> feature_columns;
    std::vector<std::string> exclude = {"length"};
    std::string group_column;                // "" = none; else read as text into FeatureTable::groups
    bool require_label = true;
};

struct FeatureTable {
    std::string path;
    std::vector<std::string> feature_columns;
    RowMatrixXd features;             // rows x F
    std::vector<std::string> labels;  // one per row ("" when there is no label column)
    std::vector<std::string> files;   // file column values (or "row<i>")
    std::vector<std::string> groups;  // group column values (empty without CsvReadOptions::group_column)
    std::vector<int> lines;           // 1-based line number of each row in the file
    std::string sha256;               // of the file bytes, as `sha256sum`
    std::size_t rows() const { return labels.size(); }
};

// Throws genrekit::Error "<path>:<line>: column '<name>': <problem>" for the first bad
// cell (empty, not a number, NaN/inf), a wrong number of fields, a missing label or
// feature column, or a file with no data rows.
FeatureTable read_feature_csv(const std::string& path, const CsvReadOptions& opt = {});
FeatureTable parse_feature_csv(const std::string& text, const std::string& path, const CsvReadOptions& opt = {});

// The non-blank records of a CSV text with the 1-based line each starts on: split at newlines
// outside quotes, CRLF and a leading UTF-8 BOM dropped. Throws Error for an unclosed quote.
std::vector<std::pair<int, std::string>> csv_records(const std::string& text, const std::string& path);

// One CSV line split into fields (RFC 4180 quotes: "a,b" and "" inside quotes).
std::vector<std::string> split_csv_line(const std::string& line);

// Quotes a field when it holds a comma, quote, CR or LF.
std::string csv_escape(const std::string& field);
// Shortest text that parses back to exactly the same double (std::to_chars); "nan"/"inf" as such.
std::string format_number(double x);
std::string format_number(float x);

}  // namespace genrekit
