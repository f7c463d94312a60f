// `genrekit eval` for both kinds of model: a feature CSV scored per row (and per track for
// segments), labelled audio scored per track.
#include <algorithm>
#include <cstdio>
#include <filesystem>

#include "data_source.hpp"
#include "genrekit/error.hpp"
#include "genrekit/featurize.hpp"
#include "genrekit/metrics.hpp"

namespace genrekit {

using json = nlohmann::json;

AudioEvaluation evaluate_audio(const Model& model, const std::vector<std::string>& paths, const std::string& manifest) {
    AudioEvaluation ev;
    std::vector<std::string> unreadable;
    const auto inputs = collect_inputs(paths, std::nullopt, manifest, &unreadable);
    if (inputs.empty()) throw Error(unreadable.empty() ? (paths.empty() ? manifest : paths[0]) + ": no audio files found" : unreadable[0]);
    const auto predicted = detail::predict_inputs(model, inputs, ev.failures);
    ev.failures.insert(ev.failures.begin(), unreadable.begin(), unreadable.end());
    std::size_t tc = 0, vc = 0, sc = 0;
    for (std::size_t i = 0; i < inputs.size(); ++i) {
        if (!predicted[i]) continue;
        const int y = model.label_index(inputs[i].label);
        if (y < 0) throw Error(inputs[i].path + ": label '" + inputs[i].label + "' (its folder) is not one the model knows");
        const TrackPrediction& p = *predicted[i];
        tc += p.label == y;
        vc += p.vote_label == y;
        for (const auto& s : p.segments)
            if (!s.silent) {
                ++ev.segments;
                sc += s.label == y;
            }
        ev.tracks.push_back(p);
        ev.truth.push_back(y);
    }
    if (ev.tracks.empty()) throw Error("eval: no track could be evaluated (" + (ev.failures.empty() ? std::string("no input") : ev.failures[0]) + ")");
    const double n = static_cast<double>(ev.tracks.size());
    ev.track_accuracy = static_cast<double>(tc) / n;
    ev.vote_accuracy = static_cast<double>(vc) / n;
    ev.segment_accuracy = ev.segments ? static_cast<double>(sc) / static_cast<double>(ev.segments) : 0.0;
    return ev;
}

json prediction_json(const Model& model, const TrackPrediction& p, bool with_segments) {
    json probs = json::object();
    for (std::size_t k = 0; k < p.proba.size(); ++k) probs[model.labels()[k]] = p.proba[k];
    json j = {{"file", p.path}, {"label", model.labels()[static_cast<std::size_t>(p.label)]},
              {"probability", p.proba[static_cast<std::size_t>(p.label)]},
              {"vote_label", model.labels()[static_cast<std::size_t>(p.vote_label)]}, {"probabilities", probs}};
    if (with_segments) {
        json segs = json::array();
        for (const auto& s : p.segments) {
            if (s.silent) segs.push_back({{"start", s.start}, {"end", s.end}, {"label", nullptr}, {"probability", nullptr}, {"silent", true}});
            else segs.push_back({{"start", s.start}, {"end", s.end}, {"label", model.labels()[static_cast<std::size_t>(s.label)]}, {"probability", s.probability}});
        }
        j["segments"] = segs;
    }
    return j;
}

namespace {

DataEvaluation evaluate_tracks(const Model& m, const std::string& data) {
    const AudioEvaluation ev = evaluate_audio(m, {data});
    std::vector<int> pred;
    for (const auto& t : ev.tracks) pred.push_back(t.label);
    DataEvaluation out;
    out.confusion = classification_report(ev.truth, pred, m.labels());  // per track
    out.text = format_report(out.confusion, "model " + m.path() + " on " + data + " (tracks: mean segment probability)");
    char buf[256];
    std::snprintf(buf, sizeof buf, "\nmajority vote accuracy %.4f, segment accuracy %.4f (%zu segments)\n", ev.vote_accuracy, ev.segment_accuracy, ev.segments);
    out.text += buf;
    if (m.members() > 1) {
        std::snprintf(buf, sizeof buf, "ensemble of %d networks (probabilities averaged)\n", m.members());
        out.text += buf;
    }
    out.json = {{"model", m.path()}, {"data", data}, {"track_accuracy", ev.track_accuracy}, {"vote_accuracy", ev.vote_accuracy},
                {"segment_accuracy", ev.segment_accuracy}, {"report", report_json(out.confusion)}, {"failures", ev.failures}};
    for (const auto& t : ev.tracks) out.json["predictions"].push_back(prediction_json(m, t, true));
    out.failures = ev.failures;
    return out;
}

DataEvaluation evaluate_rows_of(const Model& m, const std::string& data) {
    const FeatureTable table = read_eval_table(m, data);
    const Evaluation ev = evaluate_model(m, table);
    DataEvaluation out;
    out.text = format_report(ev.rows, "model " + m.path() + " on " + data + " (rows)");
    if (ev.tracks) out.text += "\n" + format_report(*ev.tracks, "track level (mean probability over each track's segments)");
    out.json = evaluation_json(ev, m, table);
    out.confusion = ev.rows;
    return out;
}

}  // namespace

DataEvaluation evaluate(const Model& model, const std::string& data) {
    DataEvaluation out = model.is_spectrogram() ? evaluate_tracks(model, data) : evaluate_rows_of(model, data);
    out.confusion_title = std::filesystem::path(model.path()).filename().string() + " on " + std::filesystem::path(data).filename().string() +
                          (model.is_spectrogram() ? " (tracks)" : "");
    return out;
}

}  // namespace genrekit
