// Predicting the genre of audio files with a trained model: each file goes through the model's
// own front end (feature models: the same code as `genrekit featurize`; spectrogram models:
// segments of its spectrogram), segment probabilities are averaged per file, and the file's
// tempo is reported (NaN when it cannot be computed).
//
//   genrekit::Model model = genrekit::Model::load("model.safetensors");
//   auto report = genrekit::predict_files(model, {"song.mp3"}, {});
//   const auto& p = report.files.front();   // p.label, p.probabilities, p.bpm, p.segments
//   // report.failures: "path: problem" for each file that could not be read
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "genrekit/featurize.hpp"
#include "genrekit/model.hpp"

namespace genrekit {

struct SegmentPrediction {
    double start = 0, end = 0;  // seconds
    int label = 0;              // index into Model::labels()
    double probability = 0;     // of that label
    std::vector<double> probabilities;  // of every label (Model::labels() order)
};

struct FilePrediction {
    std::string file;
    std::vector<double> probabilities;  // Model::labels() order; mean over the file's segments
    int label = 0;                      // argmax of probabilities
    int majority = 0;                   // the label most segments voted for (ties: lowest index)
    double bpm = 0;                     // tempo (librosa beat_track); median over segments for segment models
    std::vector<SegmentPrediction> segments;  // one per (non-silent) segment (a single one for whole-file models)
};

struct PredictOptions {
    int jobs = 0;  // featurization threads; 0: every core
    std::function<void(const std::string&)> on_message;  // failures and notes as they happen
};

struct PredictReport {
    std::vector<FilePrediction> files;   // in the order of the sorted inputs
    std::vector<std::string> failures;   // "path: problem"
    std::vector<std::string> notes;      // e.g. a clip shorter than one segment
};

// The segmenting a feature model's front end asks for: "30s" = the whole file, "3s" =
// Kaggle's 3-second segments over the whole file (not capped at ten). Throws Error for a
// front end this function cannot serve (e.g. a spectrogram model).
SegmentSpec segments_for_front_end(const nlohmann::json& front_end);

// Files and folders (searched as `featurize` does). Throws Error when the model needs
// features the featurizer does not produce. Spectrogram models: short, silent or unreadable
// files go to failures; options.jobs sets the network's threads.
PredictReport predict_files(const Model& model, const std::vector<std::string>& paths, const PredictOptions& options);

// Indices of the model's feature columns in gtzan_feature_columns(), or Error naming the
// first unknown column.
std::vector<std::size_t> feature_column_map(const Model& model);

}  // namespace genrekit
