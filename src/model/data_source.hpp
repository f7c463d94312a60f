// Labelled training data of one config, loaded once (cross-validation trains every fold from
// it): the items a split deals out (feature rows, or tracks of audio) and everything about
// training that depends on the kind of data (private to src/model).
#pragma once

#include <nlohmann/json.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "genrekit/csv.hpp"
#include "genrekit/featurize.hpp"
#include "genrekit/model.hpp"
#include "genrekit/train.hpp"
#include "genrekit/train_config.hpp"
#include "trainer.hpp"

namespace genrekit::detail {

class DataSource {
public:
    virtual ~DataSource() = default;
    // The config's data: cfg.data.csv, or cfg.spectrogram's audio folders.
    static std::unique_ptr<DataSource> load(const TrainConfig& cfg);
    static std::unique_ptr<DataSource> of_table(const TrainConfig& cfg, const FeatureTable& table);

    const std::vector<std::string>& labels() const { return labels_; }  // sorted distinct
    const std::string& source() const { return source_; }              // names the data in messages
    virtual const char* unit() const = 0;                               // what an item is: "rows" | "tracks"
    virtual std::string describe() const = 0;                           // the "data: ..." line
    // Stratified/listed/k-fold split of the items (every item of a track on one side).
    Split split(const SplitConfig& cfg) const;
    int item_class(std::size_t i) const { return classes_[i]; }
    // Under mpirun, the items of a split this process trains and scores on: whole tracks, dealt
    // round-robin to the ranks in item order (the split itself, with one process).
    Split share(const Split& s) const;

    // The front end fitted on the training items (normalization or band standardization).
    virtual FrontEnd fit_front_end(const TrainConfig& cfg, const Split& s) const = 0;
    virtual TrainingSet examples(const TrainConfig& cfg, const FrontEnd& fe, const Split& s) const = 0;
    // Metrics of a trained model on some items (train/valid/test in the model's metrics).
    virtual nlohmann::json score(const Model& m, const std::vector<std::size_t>& items) const = 0;
    // The model's training_data metadata.
    virtual nlohmann::json provenance(const Split& s, const TrainingSet& set) const = 0;

protected:
    std::vector<std::string> labels_, names_;  // names_: per item, the file name its track comes from
    std::vector<int> classes_;
    std::vector<int> owner_;                   // per item, the rank that holds it
    std::vector<std::string> groups_;          // per item, from a group column (empty: none)
    bool segmented_ = false;                   // items are segments "<stem>.<i>.wav" of tracks
    std::string source_;
    virtual std::string where(std::size_t i) const { return names_[i]; }
    void set_items(std::vector<std::string> names, const std::vector<std::string>& item_labels);
};

std::unique_ptr<DataSource> feature_source(const TrainConfig& cfg, FeatureTable table);
std::unique_ptr<DataSource> spectrogram_source(const TrainConfig& cfg);

// Spectrograms of every input (through the cache); a file that cannot be read, or is silent
// throughout, goes to failures and leaves an empty track.
std::vector<TrackSpectrograms> load_tracks(const std::vector<InputFile>& inputs, const SpectrogramParams& p, SpectrogramCache& cache,
                                           std::vector<std::string>* failures);
// A spectrogram model's prediction for every input; none for a file that failed (its reason in
// failures, once; on_load_failure hears the files that could not be read as they are found).
std::vector<std::optional<TrackPrediction>> predict_inputs(const Model& model, const std::vector<InputFile>& inputs, std::vector<std::string>& failures,
                                                           const std::function<void(const std::string&)>& on_load_failure = {});
// The metrics of score() over every rank's share (counts add up, rates are weighted by their
// counts); unchanged with one process.
nlohmann::json sum_scores(const nlohmann::json& local);

// K-fold CV on loaded data (train.hpp's cross_validate; tune shares one DataSource between configs).
CrossValidation cross_validate_on(const TrainConfig& cfg, const DataSource& data, int k, const FoldCallback& on_fold, const EpochCallback& on_epoch);
// Loss and accuracy of a feature model on rows of a table (and track-level accuracy for segments).
nlohmann::json evaluate_rows(const Model& model, const FeatureTable& table, const std::vector<std::size_t>& rows, bool segmented);

}  // namespace genrekit::detail
