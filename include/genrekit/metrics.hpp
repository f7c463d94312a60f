// Classification metrics and evaluation reports (text, JSON, CSV).
//
//   genrekit::Evaluation ev = genrekit::evaluate_model(model, table);  // table read with the model's columns
//   std::cout << genrekit::format_report(ev.rows);                     // accuracy, macro F1, per class, confusion
//   nlohmann::json j = genrekit::evaluation_json(ev, model, table);    // with predictions and provenance
//
// Conventions (ref: sklearn.metrics.classification_report / confusion_matrix):
// confusion[i][j] counts rows whose truth is labels[i] and prediction labels[j];
// precision/recall/F1 of a class with no predictions/support are 0 (zero_division=0);
// macro F1 is the unweighted mean over all the model's labels.
#pragma once

#include <nlohmann/json.hpp>

#include <optional>
#include <string>
#include <vector>

#include "genrekit/csv.hpp"
#include "genrekit/model.hpp"

namespace genrekit {

struct ClassMetrics {
    std::string label;
    double precision = 0, recall = 0, f1 = 0;
    long support = 0;
};

struct ClassificationReport {
    std::vector<std::string> labels;
    std::vector<std::vector<long>> confusion;  // [truth][predicted]
    std::vector<ClassMetrics> per_class;
    double accuracy = 0, macro_f1 = 0;
    long n = 0;
};

ClassificationReport classification_report(const std::vector<int>& truth, const std::vector<int>& predicted,
                                           const std::vector<std::string>& labels);
std::string format_report(const ClassificationReport& r, const std::string& title = "");
nlohmann::json report_json(const ClassificationReport& r);
std::string confusion_matrix_csv(const ClassificationReport& r);
// (The SVG picture of the matrix: confusion_matrix_svg in genrekit/plot.hpp.)

struct Evaluation {
    ClassificationReport rows;
    std::optional<ClassificationReport> tracks;  // when rows are segments "<stem>.<i>.wav"
    RowMatrixXd probabilities;                   // rows x K
    std::vector<int> truth, predicted;
};

// Reads `csv_path` with the model's feature columns and label column.
FeatureTable read_eval_table(const Model& model, const std::string& csv_path);
// Throws genrekit::Error naming the file/line of a label the model never saw.
Evaluation evaluate_model(const Model& model, const FeatureTable& table);
nlohmann::json evaluation_json(const Evaluation& ev, const Model& model, const FeatureTable& table);

// Track-level evaluation of a spectrogram model on labelled audio (folders of <label>/ sub-folders).
struct AudioEvaluation {
    std::vector<TrackPrediction> tracks;
    std::vector<int> truth;
    std::vector<std::string> failures;   // "path: problem"
    double track_accuracy = 0, vote_accuracy = 0, segment_accuracy = 0;
    std::size_t segments = 0;
};
AudioEvaluation evaluate_audio(const Model& model, const std::vector<std::string>& inputs, const std::string& manifest = "");
nlohmann::json prediction_json(const Model& model, const TrackPrediction& p, bool with_segments);

// `genrekit eval`: a model on labelled data of its kind (a feature CSV, or a folder of labelled
// audio scored per track), as the report text, the JSON report, the confusion matrix to draw and
// the inputs that could not be evaluated.
struct DataEvaluation {
    std::string text;
    nlohmann::json json;
    ClassificationReport confusion;  // rows for feature models, tracks for spectrogram models
    std::string confusion_title;     // "<model file> on <data file>[ (tracks)]"
    std::vector<std::string> failures;
};
DataEvaluation evaluate(const Model& model, const std::string& data);

}  // namespace genrekit
