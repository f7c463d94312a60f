// Options that say how `featurize` and `predict` read their audio: standard input's format
// and what a whole-clip row of a long file describes.
#pragma once

#include <CLI/CLI.hpp>

#include <string>
#include <vector>

#include "genrekit/featurize.hpp"

namespace genrekit::tools {

struct InputOptions {
    RawFormat raw;
    std::string clip = "auto";
    void add_to(CLI::App* sub);
    void check() const;  // throws Error for --raw without --rate
    // Sets the raw format on the standard-input entry; throws Error for --raw without "-".
    void apply(std::vector<InputFile>& inputs) const;
    ClipPolicy clip_policy() const { return ClipSpec::parse(clip); }
};

}  // namespace genrekit::tools
