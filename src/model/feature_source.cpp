// Training data of feature models: the rows of a feature CSV.
#include <cmath>
#include <map>
#include <set>

#include "data_source.hpp"
#include "genrekit/distributed.hpp"
#include "genrekit/error.hpp"
#include "genrekit/sha256.hpp"
#include "genrekit/train.hpp"

namespace genrekit::detail {

using json = nlohmann::json;

void DataSource::set_items(std::vector<std::string> names, const std::vector<std::string>& item_labels) {
    names_ = std::move(names);
    const std::set<std::string> distinct(item_labels.begin(), item_labels.end());
    labels_.assign(distinct.begin(), distinct.end());
    classes_.clear();
    for (const auto& l : item_labels)
        classes_.push_back(static_cast<int>(std::lower_bound(labels_.begin(), labels_.end(), l) - labels_.begin()));
    std::map<std::string, int> track_rank;
    owner_.clear();
    for (const auto& t : track_ids(names_, segmented_))
        owner_.push_back(track_rank.emplace(t, static_cast<int>(track_rank.size()) % dist::size()).first->second);
}

Split DataSource::share(const Split& s) const {
    if (dist::size() == 1) return s;
    Split m;
    m.unassigned = s.unassigned;
    for (auto [from, to] : {std::pair{&s.train, &m.train}, {&s.valid, &m.valid}, {&s.test, &m.test}})
        for (auto i : *from)
            if (owner_[i] == dist::rank()) to->push_back(i);
    return m;
}

json sum_scores(const json& local) {
    if (dist::size() == 1) return local;
    // Counts, then each rate with the count it is a fraction of.
    static const char* counts[] = {"rows", "tracks", "segments"};
    static const std::pair<const char*, const char*> rates[] = {{"loss", "rows"},          {"accuracy", "rows"},       {"track_accuracy", "tracks"},
                                                                {"vote_accuracy", "tracks"}, {"segment_accuracy", "segments"}};
    std::vector<double> v;
    for (const char* c : counts) v.push_back(local.is_object() ? local.value(c, 0.0) : 0.0);
    for (const auto& [r, c] : rates) v.push_back(local.is_object() && local.contains(r) ? local[r].get<double>() * local[c].get<double>() : 0.0);
    std::vector<double> has(std::size(rates));
    for (std::size_t k = 0; k < has.size(); ++k) has[k] = local.is_object() && local.contains(rates[k].first);
    v.insert(v.end(), has.begin(), has.end());
    dist::sum(v.data(), v.size());
    json out = json::object();
    for (std::size_t k = 0; k < std::size(counts); ++k)
        if (v[k] > 0) out[counts[k]] = static_cast<std::size_t>(std::llround(v[k]));
    for (std::size_t k = 0; k < std::size(rates); ++k) {
        if (v[std::size(counts) + std::size(rates) + k] == 0) continue;  // no rank has this rate
        const double n = out.value(rates[k].second, 0.0), total = v[std::size(counts) + k];
        const bool is_loss = std::string(rates[k].first) == "loss";
        out[rates[k].first] = n > 0 ? (is_loss ? total : std::round(total)) / n : 0.0;
    }
    return out.empty() ? json() : out;
}

Split DataSource::split(const SplitConfig& cfg) const {
    return make_split(names_, classes_, cfg, segmented_, [this](std::size_t i) { return where(i); }, groups_);
}

std::unique_ptr<DataSource> DataSource::load(const TrainConfig& cfg) {
    if (cfg.spectrogram) return spectrogram_source(cfg);
    return feature_source(cfg, load_training_table(cfg));
}

std::unique_ptr<DataSource> DataSource::of_table(const TrainConfig& cfg, const FeatureTable& table) { return feature_source(cfg, table); }

json evaluate_rows(const Model& model, const FeatureTable& t, const std::vector<std::size_t>& rows, bool segmented) {
    if (rows.empty()) return json();
    RowMatrixXd raw(static_cast<Eigen::Index>(rows.size()), t.features.cols());
    for (std::size_t i = 0; i < rows.size(); ++i) raw.row(static_cast<Eigen::Index>(i)) = t.features.row(static_cast<Eigen::Index>(rows[i]));
    const RowMatrixXd p = model.predict_proba(raw);
    double loss = 0;
    std::size_t correct = 0;
    std::map<std::string, std::pair<Eigen::RowVectorXd, int>> per_track;
    const auto tracks = track_ids(t.files, segmented);
    for (std::size_t i = 0; i < rows.size(); ++i) {
        const int y = model.label_index(t.labels[rows[i]]);
        if (y < 0) throw Error(t.path + ":" + std::to_string(t.lines[rows[i]]) + ": label '" + t.labels[rows[i]] + "' is not one the model knows");
        const auto row = p.row(static_cast<Eigen::Index>(i));
        loss -= std::log(std::max(row(y), 1e-300));
        Eigen::Index arg;
        row.maxCoeff(&arg);
        correct += arg == y;
        auto& tr = per_track[tracks[rows[i]]];
        if (tr.first.size() == 0) tr = {Eigen::RowVectorXd::Zero(p.cols()), y};
        tr.first += row;
    }
    json j = {{"rows", rows.size()}, {"loss", loss / static_cast<double>(rows.size())},
              {"accuracy", static_cast<double>(correct) / static_cast<double>(rows.size())}};
    if (segmented) {
        std::size_t tc = 0;
        for (const auto& [k, v] : per_track) {
            Eigen::Index arg;
            v.first.maxCoeff(&arg);
            tc += arg == v.second;
        }
        j["tracks"] = per_track.size();
        j["track_accuracy"] = static_cast<double>(tc) / static_cast<double>(per_track.size());
    }
    return j;
}

namespace {

class FeatureRows final : public DataSource {
public:
    FeatureRows(const TrainConfig& cfg, FeatureTable t) : t_(std::move(t)) {
        source_ = t_.path;
        mode_ = cfg.front_end.mode == "auto" ? detect_front_end_mode(t_.files) : cfg.front_end.mode;
        segmented_ = mode_ == "3s";
        sample_rate_ = cfg.front_end.sample_rate;
        kind_ = cfg.front_end.kind;
        set_items(t_.files, t_.labels);
        groups_ = t_.groups;
    }
    const char* unit() const override { return "rows"; }
    std::string describe() const override {
        return "data: " + t_.path + " (" + std::to_string(t_.rows()) + " rows, " + std::to_string(t_.feature_columns.size()) + " features, sha256 " +
               t_.sha256.substr(0, 16) + ")";
    }
    FrontEnd fit_front_end(const TrainConfig& cfg, const Split& s) const override {
        return FrontEnd::features(t_.feature_columns, Normalizer::fit(cfg.normalization, t_.features, s.train, t_.feature_columns),
                                  {{"kind", kind_}, {"sample_rate", sample_rate_}, {"mode", mode_}});
    }
    TrainingSet examples(const TrainConfig&, const FrontEnd& fe, const Split& s) const override {
        TrainingSet set;
        set.train = columns(fe.norm, s.train);
        set.valid = columns(fe.norm, s.valid);
        set.eval_chunk = 256;
        return set;
    }
    json score(const Model& m, const std::vector<std::size_t>& rows) const override { return evaluate_rows(m, t_, rows, segmented_); }
    json provenance(const Split& s, const TrainingSet&) const override {
        return {{"csv", t_.path},
                {"csv_sha256", t_.sha256},
                {"rows_total", t_.rows()},
                {"rows", {{"train", s.train.size()}, {"valid", s.valid.size()}, {"test", s.test.size()}, {"unassigned", s.unassigned}}},
                {"train_rows_sha256", digest(s.train)},
                {"valid_rows_sha256", digest(s.valid)},
                {"test_rows_sha256", digest(s.test)}};
    }

private:
    std::string where(std::size_t i) const override { return t_.path + ":" + std::to_string(t_.lines[i]); }
    // Normalised features as float columns (F x rows), the layout the network takes.
    Examples columns(const Normalizer& norm, const std::vector<std::size_t>& rows) const {
        Examples e;
        e.x.resize(t_.features.cols(), static_cast<Eigen::Index>(rows.size()));
        for (std::size_t i = 0; i < rows.size(); ++i) {
            norm.apply(t_.features.row(static_cast<Eigen::Index>(rows[i])).data(), e.x.col(static_cast<Eigen::Index>(i)).data());
            e.y.push_back(classes_[rows[i]]);
        }
        return e;
    }
    std::string digest(const std::vector<std::size_t>& rows) const {
        Sha256 h;
        for (auto r : rows) {
            h.update(t_.files[r].data(), t_.files[r].size());
            h.update("\n", 1);
        }
        return h.hex();
    }
    FeatureTable t_;
    std::string mode_, kind_;
    int sample_rate_ = 22050;
};

}  // namespace

std::unique_ptr<DataSource> feature_source(const TrainConfig& cfg, FeatureTable table) { return std::make_unique<FeatureRows>(cfg, std::move(table)); }

}  // namespace genrekit::detail
