// Training data of spectrogram models: labelled audio tracks cut into segments, with
// time-shift and SpecAugment augmentation.
#include <algorithm>

#include "data_source.hpp"
#include "genrekit/distributed.hpp"
#include "genrekit/error.hpp"
#include "genrekit/sha256.hpp"
#include "nn/parallel.hpp"

namespace genrekit::detail {

using json = nlohmann::json;

std::vector<TrackSpectrograms> load_tracks(const std::vector<InputFile>& inputs, const SpectrogramParams& p, SpectrogramCache& cache,
                                           std::vector<std::string>* failures) {
    std::vector<TrackSpectrograms> tracks(inputs.size());
    std::vector<std::string> errs(inputs.size());
    nn::parallel_for(static_cast<std::int64_t>(inputs.size()), [&](std::int64_t b, std::int64_t e, int) {
        for (std::int64_t i = b; i < e; ++i) {
            const auto u = static_cast<std::size_t>(i);
            try {
                tracks[u] = cache.get(inputs[u].path, p);
                if (std::all_of(tracks[u].silent.begin(), tracks[u].silent.end(), [](std::uint8_t s) { return s != 0; })) {
                    errs[u] = inputs[u].path + ": silent: every segment peaks below " + std::to_string(static_cast<int>(p.silence_db)) + " dBFS";
                    tracks[u] = TrackSpectrograms();  // reported once, here; callers skip empty tracks
                }
            } catch (const Error& ex) {
                errs[u] = ex.what();
            } catch (const std::exception& ex) {  // escaping a worker would end the process: one file, one failure
                errs[u] = inputs[u].path + ": " + ex.what();
            }
        }
    });
    for (const auto& e : errs)
        if (!e.empty()) failures->push_back(e);
    return tracks;
}

std::vector<std::optional<TrackPrediction>> predict_inputs(const Model& model, const std::vector<InputFile>& inputs, std::vector<std::string>& failures,
                                                           const std::function<void(const std::string&)>& on_load_failure) {
    SpectrogramCache cache("none");
    failures.clear();
    const auto tracks = load_tracks(inputs, model.params(), cache, &failures);
    if (on_load_failure)
        for (const auto& f : failures) on_load_failure(f);
    std::vector<std::optional<TrackPrediction>> out(inputs.size());
    for (std::size_t i = 0; i < inputs.size(); ++i) {
        if (tracks[i].size() == 0) continue;
        try {
            out[i] = model.predict(tracks[i]);
        } catch (const Error& e) {
            if (std::find(failures.begin(), failures.end(), std::string(e.what())) == failures.end()) failures.push_back(e.what());
        }
    }
    return out;
}

namespace {

// Time shift and SpecAugment on a batch of n segments (bands x frames each), in place.
void augment_batch(const AugmentConfig& a, nn::Rng& rng, float* x, int bands, int frames, std::int64_t n, std::vector<float>& tmp) {
    for (std::int64_t i = 0; i < n; ++i) {
        float* s = x + i * bands * frames;
        if (a.time_shift > 0) {  // circular shift along time by [-time_shift, time_shift] frames
            const int sh = static_cast<int>(rng.below(static_cast<std::uint64_t>(2 * a.time_shift + 1))) - a.time_shift;
            if (sh != 0) {
                tmp.resize(static_cast<std::size_t>(frames));
                for (int b = 0; b < bands; ++b) {
                    float* row = s + b * frames;
                    for (int f = 0; f < frames; ++f) tmp[static_cast<std::size_t>(((f + sh) % frames + frames) % frames)] = row[f];
                    std::copy(tmp.begin(), tmp.end(), row);
                }
            }
        }
        // ref: Park et al. 2019 SpecAugment: masks of width ~ U[0, W] at a uniform position; masked values
        // are set to 0, the standardized mean.
        for (int m = 0; m < a.time_masks; ++m) {
            const int w = static_cast<int>(rng.below(static_cast<std::uint64_t>(std::min(a.time_mask_frames, frames) + 1)));
            const int f0 = static_cast<int>(rng.below(static_cast<std::uint64_t>(frames - w + 1)));
            for (int b = 0; b < bands; ++b) std::fill(s + b * frames + f0, s + b * frames + f0 + w, 0.0f);
        }
        for (int m = 0; m < a.freq_masks; ++m) {
            const int w = static_cast<int>(rng.below(static_cast<std::uint64_t>(std::min(a.freq_mask_bands, bands) + 1)));
            const int b0 = static_cast<int>(rng.below(static_cast<std::uint64_t>(bands - w + 1)));
            std::fill(s + b0 * frames, s + (b0 + w) * frames, 0.0f);
        }
    }
}

class AudioTracks final : public DataSource {
public:
    explicit AudioTracks(const TrainConfig& cfg) : sc_(*cfg.spectrogram) {
        nn::set_num_threads(cfg.threads);  // the spectrograms are computed on the training threads
        if (sc_.audio.empty()) throw Error("config: data.audio is empty (give folders of <label>/ sub-folders with audio)");
        if (!cfg.split.group_column.empty())
            throw Error("config: split.group_column names a column of a feature CSV; audio folders take split.group_file (track,group lines)");
        SpectrogramCache cache(sc_.cache_dir);
        source_ = sc_.audio[0];
        inputs_ = collect_inputs(sc_.audio, std::nullopt);
        if (inputs_.empty()) throw Error(sc_.audio[0] + ": no audio files found (wav au aiff aif flac ogg mp3)");
        std::vector<std::string> rel, labels;
        for (const auto& in : inputs_) {
            rel.push_back(in.rel);
            labels.push_back(in.label);
        }
        set_items(rel, labels);
        if (labels_.size() < 2)
            throw Error(sc_.audio[0] + ": only one class ('" + labels_[0] + "'); a classifier needs at least two label sub-folders");
        // Under mpirun each rank reads (and caches) only the tracks it holds.
        std::vector<std::size_t> mine;
        for (std::size_t i = 0; i < inputs_.size(); ++i)
            if (owner_[i] == dist::rank()) mine.push_back(i);
        std::vector<InputFile> to_load;
        for (auto i : mine) to_load.push_back(inputs_[i]);
        std::vector<std::string> failures;
        std::vector<TrackSpectrograms> loaded = load_tracks(to_load, sc_.params, cache, &failures);
        if (!failures.empty())
            throw Error(failures[0] + (failures.size() > 1 ? " (and " + std::to_string(failures.size() - 1) + " more bad files)" : std::string()));
        tracks_.resize(inputs_.size());
        for (std::size_t k = 0; k < mine.size(); ++k) tracks_[mine[k]] = std::move(loaded[k]);
        double counts[2] = {static_cast<double>(cache.hits()), static_cast<double>(cache.misses())};
        dist::sum(counts, 2);
        describe_ = "data: " + std::to_string(inputs_.size()) + " tracks, " + std::to_string(labels_.size()) + " labels; spectrogram cache " +
                    cache.dir() + " (" + std::to_string(static_cast<long>(counts[0])) + " hits, " + std::to_string(static_cast<long>(counts[1])) +
                    " computed)";
    }
    const char* unit() const override { return "tracks"; }
    std::string describe() const override { return describe_; }

    FrontEnd fit_front_end(const TrainConfig&, const Split& split) const override {
        std::vector<const TrackSpectrograms*> tp;
        std::vector<std::vector<std::size_t>> ts;
        const Split s = share(split);
        for (auto t : s.train) {
            tp.push_back(&tracks_[t]);
            ts.emplace_back();
            for (std::size_t i = 0; i < tracks_[t].size(); ++i)
                if (!tracks_[t].silent[i]) ts.back().push_back(i);
        }
        if (dist::size() == 1) return FrontEnd::spectrograms(sc_.params, BandStandardizer::fit(tp, ts));
        return FrontEnd::spectrograms(sc_.params, BandStandardizer::fit(tp, ts, sc_.params.bands(), sc_.params.frames(),
                                                                        [](std::vector<double>& v) { dist::sum(v.data(), v.size()); }));
    }

    TrainingSet examples(const TrainConfig& cfg, const FrontEnd& fe, const Split& s) const override {
        TrainingSet set;
        std::vector<std::size_t> train_of, valid_of, test_of;  // the track of every segment
        set.train = gather(fe.z, s.train, train_of);
        set.valid = gather(fe.z, s.valid, valid_of);
        gather(fe.z, s.test, test_of);
        {  // No leakage: every segment of a track is on the side of its track (asserted on segment rows).
            Split seg_split;
            std::vector<std::string> seg_track;
            for (auto [of, side] : {std::pair{&train_of, &seg_split.train}, {&valid_of, &seg_split.valid}, {&test_of, &seg_split.test}})
                for (auto t : *of) {
                    side->push_back(seg_track.size());
                    seg_track.push_back(inputs_[t].rel);
                }
            assert_tracks_disjoint(seg_split, seg_track);
        }
        set.eval_chunk = 64;
        set.drop_single_last_batch = true;
        const int bands = sc_.params.bands(), frames = sc_.params.frames();
        auto tmp = std::make_shared<std::vector<float>>();
        set.augment = [a = cfg.augment, bands, frames, tmp](nn::Rng& rng, float* x, std::int64_t n) { augment_batch(a, rng, x, bands, frames, n, *tmp); };
        return set;
    }

    json score(const Model& model, const std::vector<std::size_t>& items) const override {
        if (items.empty()) return json();
        std::size_t tc = 0, vc = 0, segs = 0, sc = 0;
        for (auto t : items) {
            const TrackPrediction p = model.predict(tracks_[t]);
            tc += p.label == classes_[t];
            vc += p.vote_label == classes_[t];
            for (const auto& s : p.segments)
                if (!s.silent) {
                    ++segs;
                    sc += s.label == classes_[t];
                }
        }
        const double n = static_cast<double>(items.size());
        return {{"tracks", items.size()}, {"track_accuracy", static_cast<double>(tc) / n}, {"vote_accuracy", static_cast<double>(vc) / n},
                {"segments", segs}, {"segment_accuracy", segs ? static_cast<double>(sc) / static_cast<double>(segs) : 0.0}};
    }

    json provenance(const Split& s, const TrainingSet& set) const override {
        return {{"audio", sc_.audio},
                {"tracks", {{"train", s.train.size()}, {"valid", s.valid.size()}, {"test", s.test.size()}}},
                {"train_tracks_sha256", digest(s.train)},
                {"valid_tracks_sha256", digest(s.valid)},
                {"test_tracks_sha256", digest(s.test)},
                {"train_segments", train_segments(set)}};
    }

private:
    static std::size_t train_segments(const TrainingSet& set) {  // over every rank
        double n = static_cast<double>(set.train.x.cols());
        dist::sum(&n, 1);
        return static_cast<std::size_t>(n);
    }
    // The non-silent segments of some tracks, standardized, with their classes; `of`: their track.
    Examples gather(const BandStandardizer& z, const std::vector<std::size_t>& tracks, std::vector<std::size_t>& of) const {
        Examples s;
        std::size_t n = 0;
        for (auto t : tracks)
            for (auto v : tracks_[t].silent) n += v == 0;
        const std::int64_t F = static_cast<std::int64_t>(sc_.params.bands()) * sc_.params.frames();
        s.x.resize(F, static_cast<Eigen::Index>(n));
        std::size_t c = 0;
        for (auto t : tracks)
            for (std::size_t i = 0; i < tracks_[t].size(); ++i) {
                if (tracks_[t].silent[i]) continue;
                std::copy(tracks_[t].data(i), tracks_[t].data(i) + F, s.x.col(static_cast<Eigen::Index>(c)).data());
                z.apply(s.x.col(static_cast<Eigen::Index>(c)).data(), sc_.params.frames());
                s.y.push_back(classes_[t]);
                of.push_back(t);
                ++c;
            }
        return s;
    }
    std::string digest(const std::vector<std::size_t>& tracks) const {
        Sha256 h;
        for (auto t : tracks) {
            h.update(inputs_[t].rel.data(), inputs_[t].rel.size());
            h.update("\n", 1);
        }
        return h.hex();
    }
    SpectrogramConfig sc_;
    std::vector<InputFile> inputs_;
    std::vector<TrackSpectrograms> tracks_;
    std::string describe_;
};

}  // namespace

std::unique_ptr<DataSource> spectrogram_source(const TrainConfig& cfg) { return std::make_unique<AudioTracks>(cfg); }

}  // namespace genrekit::detail
