// The front end of spectrogram (CNN) models: audio -> log-mel or MFCC "images" cut into
// segments, per-band standardization learned on training data, and an on-disk cache.
//
//   genrekit::SpectrogramParams p;                 // log-mel 128 bands, n_fft 2048, hop 512, 3 s every 1.5 s
//   genrekit::SpectrogramCache cache("");          // "" = $GENREKIT_CACHE or ~/.cache/genrekit/spectrograms
//   genrekit::TrackSpectrograms t = cache.get("blues.00000.wav", p);   // computed once, then read from disk
//   // t.segments: S segments of p.bands() x p.frames() floats (band-major: band b, frame f at b*frames + f)
//   genrekit::BandStandardizer z = genrekit::BandStandardizer::fit({&t}, p.bands());
//   z.apply(t.data(0), p.frames());               // in place, one segment
//
// Segments reuse plan_segments (SegmentMode::Sliding): segment i covers samples
// [i*hop, i*hop + segment) of the file loaded at sample_rate, and its spectrogram is that
// clip's own (centred STFT, power_to_db with top_db 80 relative to the clip's maximum), so a
// 3 s recording given to predict looks exactly like a training segment. A segment is a
// {1, bands, frames} sample, frames = 1 + segment_samples / hop (130 for 3 s at hop 512).
//
// Cache: one file per (audio content, front-end parameters) pair, named by
// sha256(format version, canonical parameter JSON, sha256 of the file's bytes). The file
// records its own key, shapes and a checksum of the data; an entry whose header, size or
// checksum does not match is recomputed and rewritten (atomically). A changed file or a
// changed parameter gives a different key, so a stale entry is never read; deleting the
// folder at any time is safe.
#pragma once

#include <nlohmann/json.hpp>

#include <functional>

#include "genrekit/featurize.hpp"

#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace genrekit {

struct SpectrogramParams {
    std::string features = "logmel";  // logmel | mfcc
    int sample_rate = 22050;
    int n_fft = 2048;
    int hop = 512;
    int n_mels = 128;
    double fmin = 0.0;
    double fmax = 0.0;        // <= 0: sample_rate / 2
    int n_mfcc = 20;          // mfcc only (from n_mels log-mel bands)
    double segment = 3.0;     // seconds
    double segment_hop = 1.5; // seconds
    double silence_db = -80;  // a segment whose peak is below this (dBFS) is silent: not trained on, not voted

    void validate() const;      // throws Error naming the parameter
    int bands() const { return features == "mfcc" ? n_mfcc : n_mels; }
    int frames() const;         // per segment
    std::size_t segment_samples() const;
    nlohmann::json to_json() const;  // {"features":..., ...}: every key (the cache key uses it)
    // `j` may hold a subset; unknown keys and wrong types throw Error prefixed with `where`.
    static SpectrogramParams from_json(const nlohmann::json& j, const std::string& where);
};

struct TrackSpectrograms {
    std::string path;
    std::vector<float> values;        // S * bands * frames
    std::vector<double> starts;       // seconds, per segment
    std::vector<std::uint8_t> silent; // 1 when the segment is silent (peak below silence_db)
    int bands = 0, frames = 0;
    double duration = 0;              // seconds of audio
    std::size_t size() const { return starts.size(); }
    float* data(std::size_t s) { return values.data() + s * static_cast<std::size_t>(bands * frames); }
    const float* data(std::size_t s) const { return values.data() + s * static_cast<std::size_t>(bands * frames); }
};

// Loads the file and computes every segment. Throws Error "<path>: ..." for unreadable audio
// or audio shorter than one segment (the message gives both durations).
TrackSpectrograms compute_spectrograms(const std::string& path, const SpectrogramParams& p);

// The same, streamed: on_chunk receives up to `chunk` consecutive segments at a time (only
// those: values, starts, silent), so memory is flat in the input's length. `path` may be "-"
// (standard input, `raw` for headerless PCM). Returns what was read.
AudioStats stream_spectrograms(const std::string& path, const RawFormat& raw, const SpectrogramParams& p, std::size_t chunk,
                               const std::function<void(TrackSpectrograms&)>& on_chunk);

class SpectrogramCache {
public:
    // dir "" = default location; "none" disables the cache (always compute).
    explicit SpectrogramCache(std::string dir);
    const std::string& dir() const { return dir_; }
    // Thread-safe. Counts hits and misses (for tests and progress lines).
    TrackSpectrograms get(const std::string& path, const SpectrogramParams& p);
    // The cache file for (path's current content, p).
    std::string entry_path(const std::string& path, const SpectrogramParams& p) const;
    long hits() const { return hits_; }
    long misses() const { return misses_; }

private:
    std::string dir_;
    std::atomic_long hits_{0}, misses_{0};
};

// Per-band z-score over every frame of the given segments (population sd; a zero sd becomes 1).
struct BandStandardizer {
    std::vector<double> mean, sd;  // per band
    static BandStandardizer fit(const std::vector<const TrackSpectrograms*>& tracks, const std::vector<std::vector<std::size_t>>& segments);
    // The same over segments spread across processes: `combine` replaces partial sums (per band,
    // then the frame count) by their total over every process (each may hold no tracks).
    static BandStandardizer fit(const std::vector<const TrackSpectrograms*>& tracks, const std::vector<std::vector<std::size_t>>& segments,
                                int bands, int frames, const std::function<void(std::vector<double>&)>& combine);
    void apply(float* segment, int frames) const;  // bands x frames, in place
    nlohmann::json to_json() const;
    static BandStandardizer from_json(const nlohmann::json& j, int bands, const std::string& where);
};

}  // namespace genrekit
