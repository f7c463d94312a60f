// Spectrogram front end and CNN training on audio: the disk cache (hits, and no stale entry
// after any front-end parameter or the file's content changes, or the entry is damaged),
// reuse of the shared mel/MFCC code, bad input (short, silent, one class), and a small
// end-to-end training run on generated audio with a model file round trip and segment output.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <unistd.h>

#include "genrekit/audio.hpp"
#include "genrekit/metrics.hpp"
#include "genrekit/train.hpp"
#include "genrekit/error.hpp"
#include "genrekit/mel.hpp"
#include "genrekit/stft.hpp"
#include "genrekit/synth.hpp"
#include "support.hpp"

using namespace genrekit;
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

fs::path tmp(const std::string& name) { return gktest::scratch_dir("cnn_spec", name); }

SpectrogramParams small_params() {
    SpectrogramParams p;
    p.n_mels = 32;
    p.n_fft = 512;
    p.hop = 256;
    p.segment = 1.0;
    p.segment_hop = 0.5;
    return p;
}

using gktest::expect_error;

json tiny_config(const std::string& audio, const std::string& cache) {
    json j = json::parse(R"({
      "front_end": {"kind": "spectrogram", "n_mels": 32, "n_fft": 512, "hop": 256, "segment": 1.0, "segment_hop": 0.5},
      "split": {"kind": "random", "valid": 0.25, "test": 0.25, "seed": 3},
      "model": {"layers": [
        {"type": "conv2d", "channels": 8, "kernel": 3, "padding": 1, "l2": 0.0001}, {"type": "batchnorm"}, {"type": "relu"},
        {"type": "maxpool2d", "size": 2},
        {"type": "conv2d", "channels": 16, "kernel": 3, "padding": 1}, {"type": "batchnorm"}, {"type": "relu"},
        {"type": "global_avg_pool"}, {"type": "dense"}]},
      "optimizer": {"type": "adam", "lr": 0.003},
      "augment": {"time_shift": 4, "time_masks": 1, "time_mask_frames": 8, "freq_masks": 1, "freq_mask_bands": 4, "mixup_alpha": 0.2},
      "batch_size": 16, "epochs": 20, "seed": 1, "threads": 2,
      "checkpoint": {"keep_best": true, "monitor": "val_loss"}
    })");
    j["data"] = {{"audio", json::array({audio})}, {"cache_dir", cache}};
    return j;
}

}  // namespace

TEST(CnnSpectrogram, LogMelSegmentIsTheSharedMelPipelineOfTheClip) {
    const auto dir = tmp("pipeline");
    const auto y = synth_clip("rock", 5, 2.0, 22050);
    save_audio((dir / "a.wav").string(), y, 22050);
    const auto p = small_params();
    const TrackSpectrograms t = compute_spectrograms((dir / "a.wav").string(), p);
    ASSERT_EQ(t.size(), 3u);  // 1 s segments every 0.5 s in 2 s
    EXPECT_EQ(t.frames, 1 + 22050 / 256);
    // Segment 1 = samples [11025, 33075) of the decoded file, through Stft -> MelFilterbank -> power_to_db.
    const Audio a = load_audio((dir / "a.wav").string());
    Stft stft({.n_fft = 512, .hop = 256});
    MelParams mp;
    mp.n_fft = 512;
    mp.n_mels = 32;
    const Spectrogram D = power_to_db(MelFilterbank(mp).apply(power(stft.forward(std::span<const float>(a.samples.data() + 11025, 22050)))));
    double worst = 0;
    for (int b = 0; b < t.bands; ++b)
        for (int f = 0; f < t.frames; ++f) worst = std::max(worst, std::abs(static_cast<double>(t.data(1)[b * t.frames + f] - D(b, f))));
    std::cout << "[pipeline] worst |diff| " << worst << " dB (tolerance 0: same code)\n";
    EXPECT_EQ(worst, 0.0);
    SpectrogramParams m = p;
    m.features = "mfcc";
    m.n_mfcc = 13;
    const TrackSpectrograms tm = compute_spectrograms((dir / "a.wav").string(), m);
    EXPECT_EQ(tm.bands, 13);
    EXPECT_EQ(tm.size(), 3u);
}

TEST(CnnSpectrogram, CacheHitsAndNeverReusesAnEntryAfterAnyChange) {
    const auto dir = tmp("cache");
    const std::string wav = (dir / "a.wav").string(), cdir = (dir / "cache").string();
    save_audio(wav, synth_clip("folk", 1, 2.0, 22050), 22050);
    SpectrogramCache cache(cdir);
    const auto p = small_params();
    const TrackSpectrograms first = cache.get(wav, p);
    const TrackSpectrograms again = cache.get(wav, p);
    EXPECT_EQ(cache.misses(), 1);
    EXPECT_EQ(cache.hits(), 1);
    EXPECT_EQ(first.values, again.values);

    // Every front-end parameter changes the entry: a miss, and the shape/values of the new parameters.
    std::vector<std::pair<std::string, std::function<void(SpectrogramParams&)>>> changes = {
        {"features", [](SpectrogramParams& q) { q.features = "mfcc"; }}, {"sample_rate", [](SpectrogramParams& q) { q.sample_rate = 16000; }},
        {"n_fft", [](SpectrogramParams& q) { q.n_fft = 1024; }},          {"hop", [](SpectrogramParams& q) { q.hop = 128; }},
        {"n_mels", [](SpectrogramParams& q) { q.n_mels = 40; }},          {"fmin", [](SpectrogramParams& q) { q.fmin = 30; }},
        {"fmax", [](SpectrogramParams& q) { q.fmax = 8000; }},            {"n_mfcc", [](SpectrogramParams& q) { q.n_mfcc = 13; }},
        {"segment", [](SpectrogramParams& q) { q.segment = 0.75; }},      {"segment_hop", [](SpectrogramParams& q) { q.segment_hop = 0.25; }},
        {"silence_db", [](SpectrogramParams& q) { q.silence_db = -60; }}};
    for (const auto& [name, change] : changes) {
        SpectrogramParams q = p;
        change(q);
        EXPECT_NE(cache.entry_path(wav, q), cache.entry_path(wav, p)) << name;
        const long misses = cache.misses();
        const TrackSpectrograms t = cache.get(wav, q);
        EXPECT_EQ(cache.misses(), misses + 1) << name << " reused a cached spectrogram";
        EXPECT_EQ(t.values, compute_spectrograms(wav, q).values) << name;
    }
    // A changed file (same name) is a new entry.
    save_audio(wav, synth_clip("rock", 2, 2.0, 22050), 22050);
    const long misses = cache.misses();
    const TrackSpectrograms changed = cache.get(wav, p);
    EXPECT_EQ(cache.misses(), misses + 1);
    EXPECT_EQ(changed.values, compute_spectrograms(wav, p).values);
    EXPECT_NE(changed.values, first.values);
    // A damaged entry is recomputed, not served.
    const std::string entry = cache.entry_path(wav, p);
    {
        std::fstream f(entry, std::ios::in | std::ios::out | std::ios::binary);
        f.seekp(-8, std::ios::end);
        f.write("garbage!", 8);
    }
    const TrackSpectrograms repaired = cache.get(wav, p);
    EXPECT_EQ(cache.misses(), misses + 2);
    EXPECT_EQ(repaired.values, changed.values);
    // Deleting the cache is safe.
    fs::remove_all(cdir);
    EXPECT_EQ(cache.get(wav, p).values, changed.values);
}

TEST(CnnSpectrogram, ShortAudioIsAClearError) {
    const auto dir = tmp("short");
    const std::string wav = (dir / "short.wav").string();
    save_audio(wav, synth_clip("rock", 1, 0.4, 22050), 22050);
    const std::string m = expect_error([&] { compute_spectrograms(wav, small_params()); });
    EXPECT_NE(m.find("short.wav"), std::string::npos) << m;
    EXPECT_NE(m.find("shorter than one 1 s segment"), std::string::npos) << m;
}

TEST(CnnSpectrogram, SilenceAndSingleClassAreClearErrors) {
    const auto dir = tmp("bad");
    fs::create_directories(dir / "audio" / "ambient");
    fs::create_directories(dir / "audio" / "rock");
    for (int i = 0; i < 3; ++i) {
        save_audio((dir / "audio" / "ambient" / ("a" + std::to_string(i) + ".wav")).string(), synth_clip("ambient", i, 2.0, 22050), 22050);
        save_audio((dir / "audio" / "rock" / ("r" + std::to_string(i) + ".wav")).string(), synth_clip("rock", i, 2.0, 22050), 22050);
    }
    save_audio((dir / "audio" / "rock" / "quiet.wav").string(), std::vector<float>(44100, 0.0f), 22050);
    const auto cfg = parse_train_config(tiny_config((dir / "audio").string(), "none"), "test");
    std::string m = expect_error([&] { train(cfg); });
    EXPECT_NE(m.find("quiet.wav: silent"), std::string::npos) << m;
    EXPECT_TRUE(compute_spectrograms((dir / "audio" / "rock" / "quiet.wav").string(), small_params()).silent[0]);

    const auto one = parse_train_config(tiny_config((dir / "audio" / "ambient").string(), "none"), "test");
    m = expect_error([&] { train(one); });
    EXPECT_NE(m.find("only one class"), std::string::npos) << m;
}

TEST(CnnSpectrogram, TrainsOnAudioFoldersAndRoundTrips) {
    const auto dir = tmp("train");
    SynthParams sp;
    sp.clips_per_class = 6;
    sp.seconds = 3.0;
    write_synth_dataset((dir / "audio").string(), sp);
    const auto cfg = parse_train_config(tiny_config((dir / "audio").string(), (dir / "cache").string()), "test");
    const TrainResult r = train(cfg);
    const std::size_t total = 4 * 6;
    EXPECT_EQ(r.split.train.size() + r.split.valid.size() + r.split.test.size(), total);
    EXPECT_EQ(r.metrics["test"]["tracks"], r.split.test.size());
    const double acc = r.metrics["test"]["track_accuracy"];
    std::cout << "[train] test track accuracy " << acc << " on " << r.split.test.size() << " tracks, metrics " << r.metrics.dump() << "\n";
    EXPECT_GE(acc, 0.75);  // four very different generated styles

    const std::string path = (dir / "m.safetensors").string();
    r.model.save(path);
    ASSERT_TRUE(Model::load(path).is_spectrogram());
    Model a = Model::load(path);
    Model b = Model::load(path);
    const std::string song = (dir / "audio" / "rock" / "rock.00000.wav").string();
    const TrackPrediction pa = a.predict_file(song), pb = b.predict_file(song);
    EXPECT_EQ(pa.proba, pb.proba);
    const json j = prediction_json(a, pa, true);
    ASSERT_EQ(j["segments"].size(), 5u);  // 1 s every 0.5 s in 3 s
    EXPECT_EQ(j["segments"][1]["start"], 0.5);
    EXPECT_EQ(j["segments"][1]["end"], 1.5);
    EXPECT_TRUE(j["segments"][1]["label"].is_string());
    EXPECT_EQ(a.info()["config"]["front_end"]["n_mels"], 32);
    // A model trained again from the same config is the same model (seeded).
    const TrainResult r2 = train(cfg);
    EXPECT_EQ(r2.history.back().loss, r.history.back().loss);
}
