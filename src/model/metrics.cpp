#include "genrekit/metrics.hpp"

#include <algorithm>
#include <cstdio>
#include <map>
#include <sstream>

#include "genrekit/dataset.hpp"
#include "genrekit/error.hpp"

namespace genrekit {

using json = nlohmann::json;

ClassificationReport classification_report(const std::vector<int>& truth, const std::vector<int>& pred, const std::vector<std::string>& labels) {
    const std::size_t K = labels.size();
    ClassificationReport r;
    r.labels = labels;
    r.confusion.assign(K, std::vector<long>(K, 0));
    long correct = 0;
    for (std::size_t i = 0; i < truth.size(); ++i) {
        r.confusion[static_cast<std::size_t>(truth[i])][static_cast<std::size_t>(pred[i])]++;
        correct += truth[i] == pred[i];
    }
    r.n = static_cast<long>(truth.size());
    r.accuracy = r.n ? static_cast<double>(correct) / static_cast<double>(r.n) : 0.0;
    double f1_sum = 0;
    for (std::size_t k = 0; k < K; ++k) {
        long tp = r.confusion[k][k], row = 0, col = 0;
        for (std::size_t j = 0; j < K; ++j) {
            row += r.confusion[k][j];
            col += r.confusion[j][k];
        }
        ClassMetrics m;
        m.label = labels[k];
        m.support = row;
        m.precision = col ? static_cast<double>(tp) / static_cast<double>(col) : 0.0;
        m.recall = row ? static_cast<double>(tp) / static_cast<double>(row) : 0.0;
        m.f1 = m.precision + m.recall > 0 ? 2 * m.precision * m.recall / (m.precision + m.recall) : 0.0;
        f1_sum += m.f1;
        r.per_class.push_back(m);
    }
    r.macro_f1 = K ? f1_sum / static_cast<double>(K) : 0.0;
    return r;
}

std::string format_report(const ClassificationReport& r, const std::string& title) {
    std::ostringstream s;
    char buf[256];
    if (!title.empty()) s << title << "\n";
    std::snprintf(buf, sizeof buf, "accuracy %.4f  macro F1 %.4f  (%ld rows)\n\n", r.accuracy, r.macro_f1, r.n);
    s << buf;
    std::size_t w = 5;
    for (const auto& l : r.labels) w = std::max(w, l.size());
    std::snprintf(buf, sizeof buf, "%-*s  precision  recall     f1  support\n", static_cast<int>(w), "class");
    s << buf;
    for (const auto& m : r.per_class) {
        std::snprintf(buf, sizeof buf, "%-*s     %.4f  %.4f %.4f  %7ld\n", static_cast<int>(w), m.label.c_str(), m.precision, m.recall, m.f1, m.support);
        s << buf;
    }
    s << "\nconfusion matrix (rows: truth, columns: predicted)\n" << std::string(w, ' ');
    for (const auto& l : r.labels) {
        std::snprintf(buf, sizeof buf, " %5.5s", l.c_str());
        s << buf;
    }
    s << "\n";
    for (std::size_t i = 0; i < r.labels.size(); ++i) {
        std::snprintf(buf, sizeof buf, "%-*s", static_cast<int>(w), r.labels[i].c_str());
        s << buf;
        for (auto c : r.confusion[i]) {
            std::snprintf(buf, sizeof buf, " %5ld", c);
            s << buf;
        }
        s << "\n";
    }
    return s.str();
}

json report_json(const ClassificationReport& r) {
    json per = json::object();
    for (const auto& m : r.per_class) per[m.label] = {{"precision", m.precision}, {"recall", m.recall}, {"f1", m.f1}, {"support", m.support}};
    return {{"accuracy", r.accuracy}, {"macro_f1", r.macro_f1}, {"rows", r.n}, {"labels", r.labels}, {"confusion_matrix", r.confusion}, {"per_class", per}};
}

std::string confusion_matrix_csv(const ClassificationReport& r) {
    std::ostringstream s;
    s << "truth\\predicted";
    for (const auto& l : r.labels) s << ',' << csv_escape(l);
    s << '\n';
    for (std::size_t i = 0; i < r.labels.size(); ++i) {
        s << csv_escape(r.labels[i]);
        for (auto c : r.confusion[i]) s << ',' << c;
        s << '\n';
    }
    return s.str();
}

FeatureTable read_eval_table(const Model& model, const std::string& csv_path) {
    CsvReadOptions o;
    o.feature_columns = model.feature_columns();
    const auto& cfg = model.info().contains("config") ? model.info()["config"] : json::object();
    if (cfg.contains("data")) {
        o.label_column = cfg["data"].value("label_column", o.label_column);
        o.file_column = cfg["data"].value("file_column", o.file_column);
    }
    return read_feature_csv(csv_path, o);
}

Evaluation evaluate_model(const Model& model, const FeatureTable& t) {
    if (t.feature_columns != model.feature_columns()) throw Error(t.path + ": feature columns differ from the model's (read it with read_eval_table)");
    Evaluation ev;
    for (std::size_t r = 0; r < t.rows(); ++r) {
        const int y = model.label_index(t.labels[r]);
        if (y < 0) {
            std::string known;
            for (const auto& l : model.labels()) known += (known.empty() ? "" : ", ") + l;
            throw Error(t.path + ":" + std::to_string(t.lines[r]) + ": label '" + t.labels[r] + "' was never seen by the model (it knows: " + known + ")");
        }
        ev.truth.push_back(y);
    }
    ev.probabilities = model.predict_proba(t.features);
    for (Eigen::Index i = 0; i < ev.probabilities.rows(); ++i) {
        Eigen::Index arg;
        ev.probabilities.row(i).maxCoeff(&arg);
        ev.predicted.push_back(static_cast<int>(arg));
    }
    ev.rows = classification_report(ev.truth, ev.predicted, model.labels());
    if (detect_front_end_mode(t.files) == "3s") {
        // Track level: mean probability over a track's segments.
        const auto tracks = track_ids(t.files, true);
        std::map<std::string, std::pair<Eigen::RowVectorXd, int>> acc;
        std::vector<std::string> order;
        for (std::size_t r = 0; r < t.rows(); ++r) {
            auto it = acc.find(tracks[r]);
            if (it == acc.end()) {
                order.push_back(tracks[r]);
                it = acc.emplace(tracks[r], std::make_pair(Eigen::RowVectorXd::Zero(ev.probabilities.cols()), ev.truth[r])).first;
            } else if (it->second.second != ev.truth[r]) {
                throw Error(t.path + ":" + std::to_string(t.lines[r]) + ": track '" + tracks[r] + "' has segments with different labels");
            }
            it->second.first += ev.probabilities.row(static_cast<Eigen::Index>(r));
        }
        std::vector<int> tt, tp;
        for (const auto& k : order) {
            Eigen::Index arg;
            acc[k].first.maxCoeff(&arg);
            tt.push_back(acc[k].second);
            tp.push_back(static_cast<int>(arg));
        }
        ev.tracks = classification_report(tt, tp, model.labels());
    }
    return ev;
}

json evaluation_json(const Evaluation& ev, const Model& model, const FeatureTable& t) {
    json j = report_json(ev.rows);
    if (ev.tracks) {
        j["track_level"] = report_json(*ev.tracks);
        j["track_accuracy"] = ev.tracks->accuracy;
    }
    json preds = json::array();
    for (std::size_t r = 0; r < t.rows(); ++r) {
        std::vector<double> p(ev.probabilities.cols());
        for (Eigen::Index k = 0; k < ev.probabilities.cols(); ++k) p[static_cast<std::size_t>(k)] = ev.probabilities(static_cast<Eigen::Index>(r), k);
        preds.push_back({{"file", t.files[r]}, {"label", t.labels[r]}, {"predicted", model.labels()[static_cast<std::size_t>(ev.predicted[r])]}, {"probabilities", p}});
    }
    j["predictions"] = preds;
    j["model"] = {{"path", model.path()}, {"front_end", model.front_end()},
                  {"training_data", model.info().value("training_data", json())}, {"genrekit_version", GENREKIT_VERSION}};
    j["data"] = {{"csv", t.path}, {"sha256", t.sha256}, {"rows", t.rows()}};
    return j;
}

}  // namespace genrekit
