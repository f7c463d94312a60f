#include "genrekit/predict.hpp"

#include <algorithm>

#include "data_source.hpp"
#include "genrekit/audio.hpp"
#include "genrekit/error.hpp"
#include "genrekit/features.hpp"
#include "nn/parallel.hpp"

namespace genrekit {

SegmentSpec segments_for_front_end(const nlohmann::json& fe) {
    const std::string kind = fe.value("kind", "gtzan_features");
    if (kind != "gtzan_features") throw Error("model front end '" + kind + "' is not a GTZAN feature model");
    const std::string mode = fe.value("mode", "30s");
    SegmentSpec spec;
    if (mode == "30s") return spec;
    if (mode == "3s") {
        spec.mode = SegmentMode::Kaggle3s;
        spec.max_segments = 0;  // a whole song, not only its first 30 s
        return spec;
    }
    throw Error("model front end mode '" + mode + "' is unknown (expected 30s or 3s)");
}

std::vector<std::size_t> feature_column_map(const Model& model) {
    const auto& produced = gtzan_feature_columns();
    std::vector<std::size_t> map;
    for (const auto& col : model.feature_columns()) {
        const auto it = std::find(produced.begin(), produced.end(), col);
        if (it == produced.end())
            throw Error(model.path() + ": the model needs feature column '" + col +
                        "', which genrekit featurize does not produce");
        map.push_back(static_cast<std::size_t>(it - produced.begin()));
    }
    return map;
}

namespace {

int argmax(const std::vector<double>& v) {
    return static_cast<int>(std::max_element(v.begin(), v.end()) - v.begin());
}

// The warnings a prediction from this audio deserves.
std::vector<std::string> input_warnings(const std::string& file, const AudioStats& st) {
    std::vector<std::string> w;
    char buf[160];
    if (st.peak_dbfs() < kNearSilentDbfs) {
        if (st.peak > 0) std::snprintf(buf, sizeof buf, "near-silent input (peak %.0f dBFS)", st.peak_dbfs());
        else std::snprintf(buf, sizeof buf, "silent input (every sample is 0)");
        w.push_back(file + ": " + buf + ": the prediction means little");
    }
    if (st.seconds() < kShortInputSeconds) {
        std::snprintf(buf, sizeof buf, "only %.2f s of audio", st.seconds());
        w.push_back(file + ": " + buf + ": the prediction means little");
    }
    return w;
}

double median(std::vector<double> v) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    const std::size_t m = v.size() / 2;
    return v.size() % 2 ? v[m] : 0.5 * (v[m - 1] + v[m]);
}

// Feature models: featurized with the model's own front end, segment probabilities averaged per file.
PredictReport predict_feature_files(const Model& model, const std::vector<std::string>& paths, const PredictOptions& options) {
    const auto columns = feature_column_map(model);
    std::vector<std::string> unreadable;
    auto inputs = collect_inputs(paths, std::nullopt, "", &unreadable);
    if (inputs.empty())
        throw Error(unreadable.empty() ? "no audio files found (extensions: wav au aiff aif flac ogg mp3)" : unreadable[0]);
    set_stdin_format(inputs, options.raw);
    BatchOptions batch;
    batch.segments = segments_for_front_end(model.front_end());
    batch.segments.clip.policy = options.clip;
    batch.features.sample_rate = model.front_end().value("sample_rate", 22050);
    batch.jobs = options.jobs;
    batch.on_message = options.on_message;
    const auto tempo_col = static_cast<std::size_t>(
        std::find(gtzan_feature_columns().begin(), gtzan_feature_columns().end(), "tempo") - gtzan_feature_columns().begin());

    // Rows arrive in input order, one file's segments together; fold each file as it completes.
    PredictReport report;
    const std::size_t K = model.labels().size();
    FilePrediction current;
    std::vector<double> tempos;
    std::vector<int> votes;
    std::size_t current_source = static_cast<std::size_t>(-1);
    std::vector<std::size_t> sources;  // input index of each report.files entry
    auto finish = [&] {
        if (current.segments.empty()) return;
        const double n = static_cast<double>(current.segments.size());
        for (double& p : current.probabilities) p /= n;
        current.label = argmax(current.probabilities);
        current.majority = static_cast<int>(std::max_element(votes.begin(), votes.end()) - votes.begin());
        current.bpm = median(tempos);
        sources.push_back(current_source);
        report.files.push_back(std::move(current));
        current = {};
    };
    std::vector<double> raw(columns.size());
    const BatchReport br = featurize_batch(inputs, batch, [&](const FeatureRow& row) {
        if (row.source != current_source) {
            finish();
            current_source = row.source;
            current.file = inputs[row.source].path;
            current.probabilities.assign(K, 0.0);
            votes.assign(K, 0);
            tempos.clear();
        }
        for (std::size_t c = 0; c < columns.size(); ++c) raw[c] = row.values[columns[c]];
        const std::vector<double> p = model.predict_proba(raw);
        for (std::size_t k = 0; k < K; ++k) current.probabilities[k] += p[k];
        const int best = argmax(p);
        ++votes[static_cast<std::size_t>(best)];
        current.segments.push_back({row.start, row.end, best, p[static_cast<std::size_t>(best)], p});
        tempos.push_back(row.values[tempo_col]);
    });
    finish();
    for (std::size_t i = 0; i < report.files.size(); ++i) report.files[i].warnings = input_warnings(report.files[i].file, br.stats[sources[i]]);
    report.failures = unreadable;
    report.failures.insert(report.failures.end(), br.failures.begin(), br.failures.end());
    report.notes = br.notes;
    return report;
}

// Spectrogram models: each file streamed in chunks of segments; per file the mean segment
// probabilities, the majority vote and every non-silent segment; bpm from the tempo of the
// clip a 30 s row would describe, at 22050 Hz.
// Segments per network call: the activations of a batch dominate memory (~15 MB a segment for
// the seed CNN on 128 x 130 log-mels), so a file goes through in small chunks.
constexpr std::size_t kChunkSegments = 8;

PredictReport predict_audio_files(const Model& model, const std::vector<std::string>& paths, const PredictOptions& options) {
    PredictReport r;
    std::vector<std::string> unreadable;
    auto inputs = collect_inputs(paths, std::string("?"), "", &unreadable);
    if (inputs.empty())
        throw Error(unreadable.empty() ? (paths.empty() ? std::string("predict") : paths[0]) + ": no audio files found" : unreadable[0]);
    set_stdin_format(inputs, options.raw);
    if (options.jobs > 0) nn::set_num_threads(options.jobs);
    r.failures = unreadable;
    for (const InputFile& in : inputs) {
        FilePrediction f;
        f.file = in.path;
        try {
            TrackPrediction p;
            const AudioStats st = stream_spectrograms(in.path, in.raw, model.params(), kChunkSegments,
                                                      [&](TrackSpectrograms& chunk) { model.predict_add(chunk, p); });
            model.predict_finish(p);
            f.probabilities = p.proba;
            f.label = p.label;
            f.majority = p.vote_label;
            for (const auto& s : p.segments)
                if (!s.silent) f.segments.push_back({s.start, s.end, s.label, s.probability, s.proba});
            f.warnings = input_warnings(in.path, st);
        } catch (const Error& e) {
            r.failures.push_back(e.what());
            if (options.on_message) options.on_message(e.what());
            continue;
        }
        f.bpm = NAN;  // standard input cannot be read twice
        if (!AudioReader::is_stdin(in.path)) {
            try {
                ClipSpec clip;
                clip.policy = options.clip;
                f.bpm = estimate_tempo(read_clip(in.path, LoadParams{}, clip).samples);
            } catch (const Error&) {
                // the spectrograms were read, so this cannot fail in practice; keep the prediction
            }
        }
        r.files.push_back(std::move(f));
    }
    return r;
}

}  // namespace

PredictReport predict_files(const Model& model, const std::vector<std::string>& paths, const PredictOptions& options) {
    return model.is_spectrogram() ? predict_audio_files(model, paths, options) : predict_feature_files(model, paths, options);
}

}  // namespace genrekit
