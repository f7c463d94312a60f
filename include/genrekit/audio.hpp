// Audio loading through libsndfile (WAV, AU, AIFF, FLAC, OGG/Vorbis, MP3),
// returning what librosa.load returns: float32 mono at a target rate.
//
//   genrekit::LoadParams p;               // sr 22050, mono, whole file
//   p.offset = 10.0; p.duration = 3.0;    // read only 3 s from 10 s in
//   genrekit::Audio a = genrekit::load_audio("blues.00000.wav", p);
//   // a.samples.size() == 66150, a.sample_rate == 22050
#pragma once

#include <string>
#include <vector>

namespace genrekit {

struct LoadParams {
    int sample_rate = 22050;  // target rate; 0 keeps the file's own rate
    bool mono = true;         // average the channels
    double offset = 0.0;      // seconds to skip before reading
    double duration = -1.0;   // seconds to read; < 0 reads to the end
    void validate() const;
};

struct Audio {
    std::vector<float> samples;  // mono: one channel; otherwise interleaved
    int sample_rate = 0;
    int channels = 1;
    int native_rate = 0;         // the file's own rate, before resampling
};

// Throws genrekit::Error with one line "<path>: <problem>" for a missing,
// unreadable, empty or non-audio file, or one with NaN/Inf samples.
Audio load_audio(const std::string& path, const LoadParams& params = {});

// Resamples mono float audio with libsoxr; the output has ceil(n * to / from)
// samples, as librosa.resample(fix=True) gives.
std::vector<float> resample(const std::vector<float>& y, int from_rate, int to_rate);

// Writes mono or interleaved float audio; the container and codec follow the
// extension: .wav/.aiff/.au as 16-bit PCM, .flac, .ogg (Vorbis), .mp3. Written
// to a temporary file and renamed into place. Throws genrekit::Error.
void save_audio(const std::string& path, const std::vector<float>& samples, int sample_rate, int channels = 1);

// The decoder library and its version, e.g. "libsndfile-1.2.0".
std::string audio_backend_version();

// True when the path's extension is one genrekit reads (any case).
bool is_audio_extension(const std::string& path);

}  // namespace genrekit
