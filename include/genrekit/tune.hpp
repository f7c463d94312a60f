// Grid search by cross-validation: every combination of the grid's values, each scored by
// K-fold CV (train.hpp's cross_validate), ranked by mean accuracy. Any config key can be on the
// grid, front-end keys included; configs that share their data and front end share one loaded
// dataset (and spectrograms come from the on-disk cache).
//
//   std::vector<genrekit::GridAxis> grid = {genrekit::parse_grid_axis("front_end.n_mels=64,128"),
//                                           genrekit::parse_grid_axis("front_end.hop=256,512")};
//   genrekit::TuneReport r = genrekit::tune(base_config, overrides_of, grid, 5);
//   std::cout << genrekit::format_tune_table(r);
#pragma once

#include <nlohmann/json.hpp>

#include <functional>
#include <string>
#include <vector>

#include "genrekit/train.hpp"

namespace genrekit {

struct GridAxis {
    std::string key;                  // a dotted config key ("optimizer.lr", "model.layers.0.units")
    std::vector<std::string> values;  // as --set values (JSON, or a bare string)
};

// "key=v1,v2,...": commas inside brackets, braces or quotes do not split ("model.layers=[...],[...]").
// Throws on a missing key or an empty value list.
GridAxis parse_grid_axis(const std::string& arg);

struct TuneEntry {
    std::vector<std::string> values;  // one per axis
    CrossValidation cv;
};

struct TuneReport {
    std::vector<GridAxis> grid;
    int k = 0;
    std::vector<TuneEntry> ranked;  // best mean first; ties keep grid order
};

// The config of one combination: `overrides` (--set) then the combination's "key=value"s.
using ConfigMaker = std::function<TrainConfig(const std::vector<std::string>& overrides)>;
struct TuneCallbacks {
    std::function<void(std::size_t combo, std::size_t combos)> on_config;  // before each combination
    FoldCallback on_fold;
    EpochCallback on_epoch;
    MessageCallback on_message;
};
// Every combination's config is built (and checked) before any training, so a key that does not
// exist fails at once, naming the --grid argument. Grid order: the first axis varies slowest.
TuneReport tune(const ConfigMaker& make_config, const std::vector<GridAxis>& grid, int k, const TuneCallbacks& cb = {});
// The combinations' configs (checked), in grid order.
std::vector<TrainConfig> grid_configs(const ConfigMaker& make_config, const std::vector<GridAxis>& grid);

std::string format_tune_table(const TuneReport& r);
std::string tune_csv(const TuneReport& r);  // rank,<keys>,mean,sd,sd_sample,fold1..K
nlohmann::ordered_json tune_json(const TuneReport& r);

}  // namespace genrekit
