#include "genrekit/tune.hpp"

#include <algorithm>
#include <cstdio>
#include <memory>
#include <set>
#include <sstream>

#include "data_source.hpp"
#include "genrekit/csv.hpp"
#include "genrekit/error.hpp"

namespace genrekit {

using ojson = nlohmann::ordered_json;

GridAxis parse_grid_axis(const std::string& arg) {
    const auto eq = arg.find('=');
    if (eq == std::string::npos || eq == 0) throw Error("--grid '" + arg + "': expected key=v1,v2,... (e.g. optimizer.lr=0.001,0.0003)");
    GridAxis a;
    a.key = arg.substr(0, eq);
    std::string cur;
    int depth = 0;
    bool quoted = false;
    for (std::size_t i = eq + 1; i <= arg.size(); ++i) {
        const char c = i < arg.size() ? arg[i] : ',';
        if (c == '"' && (i == 0 || arg[i - 1] != '\\')) quoted = !quoted;
        if (!quoted && (c == '[' || c == '{')) ++depth;
        if (!quoted && (c == ']' || c == '}')) --depth;
        if (c == ',' && depth == 0 && !quoted && i >= eq + 1) {
            if (!cur.empty()) a.values.push_back(cur);
            cur.clear();
        } else {
            cur += c;
        }
    }
    if (a.values.empty()) throw Error("--grid '" + arg + "': no values for '" + a.key + "' (give at least one, e.g. " + a.key + "=1,2)");
    return a;
}

std::vector<TrainConfig> grid_configs(const ConfigMaker& make_config, const std::vector<GridAxis>& grid) {
    if (grid.empty()) throw Error("--grid: the grid is empty; give at least one --grid key=v1,v2");
    std::set<std::string> keys;
    for (const auto& a : grid)
        if (!keys.insert(a.key).second) throw Error("--grid: key '" + a.key + "' is given twice; list all its values in one --grid");
    // Each axis alone first, so that a key that does not exist is named as such.
    for (const auto& a : grid)
        for (const auto& v : a.values) try {
                make_config({a.key + "=" + v});
            } catch (const Error& e) {
                throw Error("--grid " + a.key + "=" + v + ": " + e.what());
            }
    std::vector<TrainConfig> out;
    std::vector<std::size_t> idx(grid.size(), 0);
    while (true) {
        std::vector<std::string> sets;
        for (std::size_t j = 0; j < grid.size(); ++j) sets.push_back(grid[j].key + "=" + grid[j].values[idx[j]]);
        try {
            out.push_back(make_config(sets));
        } catch (const Error& e) {
            std::string all;
            for (const auto& s : sets) all += " " + s;
            throw Error("--grid combination" + all + ": " + e.what());
        }
        std::size_t j = grid.size();  // odometer: the last axis fastest
        while (j > 0 && ++idx[j - 1] == grid[j - 1].values.size()) idx[--j] = 0;
        if (j == 0) break;
    }
    return out;
}

TuneReport tune(const ConfigMaker& make_config, const std::vector<GridAxis>& grid, int k, const TuneCallbacks& cb) {
    const std::vector<TrainConfig> configs = grid_configs(make_config, grid);
    TuneReport r;
    r.grid = grid;
    r.k = k;
    // Configs with the same data and front end share one loaded dataset.
    std::string loaded_key;
    std::unique_ptr<detail::DataSource> data;
    std::vector<std::size_t> idx(grid.size(), 0);
    for (std::size_t c = 0; c < configs.size(); ++c) {
        const TrainConfig& cfg = configs[c];
        const nlohmann::json stored = stored_config(cfg);
        const std::string key = stored.value("data", nlohmann::json()).dump() + stored.value("front_end", nlohmann::json()).dump() + cfg.split.group_column;
        if (!data || key != loaded_key) {
            data.reset();
            data = detail::DataSource::load(cfg);
            loaded_key = key;
            if (cb.on_message) cb.on_message(data->describe());
        }
        if (cb.on_config) cb.on_config(c, configs.size());
        TuneEntry e;
        for (std::size_t j = 0; j < grid.size(); ++j) e.values.push_back(grid[j].values[idx[j]]);
        e.cv = detail::cross_validate_on(cfg, *data, k, cb.on_fold, cb.on_epoch);
        r.ranked.push_back(std::move(e));
        std::size_t j = grid.size();
        while (j > 0 && ++idx[j - 1] == grid[j - 1].values.size()) idx[--j] = 0;
    }
    std::stable_sort(r.ranked.begin(), r.ranked.end(), [](const TuneEntry& a, const TuneEntry& b) { return a.cv.mean > b.cv.mean; });
    return r;
}

std::string format_tune_table(const TuneReport& r) {
    if (r.ranked.empty()) return "";
    std::vector<std::size_t> w;
    for (std::size_t j = 0; j < r.grid.size(); ++j) {
        std::size_t width = r.grid[j].key.size();
        for (const auto& e : r.ranked) width = std::max(width, e.values[j].size());
        w.push_back(width);
    }
    const CrossValidation& first = r.ranked.front().cv;
    std::ostringstream s;
    s << r.ranked.size() << " configs, " << r.k << "-fold CV " << first.measure << ", folds " << first.grouping << "\n";
    char buf[64];
    s << "rank";
    for (std::size_t j = 0; j < r.grid.size(); ++j) s << "  " << r.grid[j].key << std::string(w[j] - r.grid[j].key.size(), ' ');
    s << "    mean      sd  folds\n";
    for (std::size_t i = 0; i < r.ranked.size(); ++i) {
        const auto& e = r.ranked[i];
        std::snprintf(buf, sizeof buf, "%4zu", i + 1);
        s << buf;
        for (std::size_t j = 0; j < r.grid.size(); ++j) s << "  " << e.values[j] << std::string(w[j] - e.values[j].size(), ' ');
        std::snprintf(buf, sizeof buf, "  %6.4f  %6.4f ", e.cv.mean, e.cv.sd);
        s << buf;
        for (double a : e.cv.accuracy) {
            std::snprintf(buf, sizeof buf, " %.3f", a);
            s << buf;
        }
        s << "\n";
    }
    s << "(mean +- sd: population sd over folds)\n";
    return s.str();
}

std::string tune_csv(const TuneReport& r) {
    std::ostringstream s;
    s << "rank";
    for (const auto& a : r.grid) s << ',' << csv_escape(a.key);
    s << ",mean,sd,sd_sample";
    for (int f = 1; f <= r.k; ++f) s << ",fold" << f;
    s << '\n';
    for (std::size_t i = 0; i < r.ranked.size(); ++i) {
        const auto& e = r.ranked[i];
        s << i + 1;
        for (const auto& v : e.values) s << ',' << csv_escape(v);
        s << ',' << format_number(e.cv.mean) << ',' << format_number(e.cv.sd) << ',' << format_number(e.cv.sd_sample);
        for (double a : e.cv.accuracy) s << ',' << format_number(a);
        s << '\n';
    }
    return s.str();
}

ojson tune_json(const TuneReport& r) {
    ojson j;
    j["k"] = r.k;
    j["measure"] = r.ranked.empty() ? "" : r.ranked.front().cv.measure;
    j["grouping"] = r.ranked.empty() ? "" : r.ranked.front().cv.grouping;
    ojson grid = ojson::object();
    for (const auto& a : r.grid) grid[a.key] = a.values;
    j["grid"] = grid;
    ojson results = ojson::array();
    for (std::size_t i = 0; i < r.ranked.size(); ++i) {
        const auto& e = r.ranked[i];
        ojson settings = ojson::object();
        for (std::size_t a = 0; a < r.grid.size(); ++a) settings[r.grid[a].key] = e.values[a];
        results.push_back({{"rank", i + 1}, {"settings", settings}, {"mean", e.cv.mean}, {"sd", e.cv.sd}, {"sd_sample", e.cv.sd_sample},
                           {"folds", e.cv.accuracy}, {"test_items", e.cv.test_items}});
    }
    j["results"] = results;
    return j;
}

}  // namespace genrekit
