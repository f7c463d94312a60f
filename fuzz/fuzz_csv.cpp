// libFuzzer harness: the feature CSV reader. A table it accepts must survive the round trip
// through genrekit's own CSV writing (csv_escape, format_number) unchanged.
#include <cstdlib>

#include "fuzz_support.hpp"
#include "genrekit/csv.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    genrekit::fuzz::expect_only_errors([&] {
        genrekit::CsvReadOptions opt;
        opt.require_label = size % 2 == 0;  // both the training and the predicting reader
        const genrekit::FeatureTable t = genrekit::parse_feature_csv(text, "fuzz.csv", opt);
        const bool labelled = !t.labels.empty() && !t.labels[0].empty();
        std::string out = "filename";
        for (const auto& c : t.feature_columns) out += "," + genrekit::csv_escape(c);
        out += labelled ? ",label\n" : "\n";
        for (std::size_t r = 0; r < t.rows(); ++r) {
            out += genrekit::csv_escape(t.files[r]);
            for (Eigen::Index j = 0; j < t.features.cols(); ++j) out += "," + genrekit::format_number(t.features(static_cast<Eigen::Index>(r), j));
            out += labelled ? "," + genrekit::csv_escape(t.labels[r]) + "\n" : "\n";
        }
        genrekit::CsvReadOptions again;
        again.require_label = labelled;
        again.exclude.clear();
        genrekit::FeatureTable u;
        try {
            u = genrekit::parse_feature_csv(out, "roundtrip.csv", again);
        } catch (const genrekit::Error& e) {
            std::fprintf(stderr, "genrekit cannot read back its own CSV: %s\n", e.what());
            std::abort();
        }
        if (u.feature_columns != t.feature_columns || u.features != t.features || (labelled && u.labels != t.labels)) std::abort();
    });
    return 0;
}
