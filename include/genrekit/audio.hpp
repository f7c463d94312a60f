// Audio loading through libsndfile (WAV, AU, AIFF, FLAC, OGG/Vorbis) and libmpg123 (MP3),
// returning what librosa.load returns: float32 mono at a target rate. AudioReader does the
// same in blocks, for files of any length and for standard input ("-": a WAV stream or raw
// PCM); load_audio is a loop over it.
//
//   genrekit::LoadParams p;               // sr 22050, mono, whole file
//   p.offset = 10.0; p.duration = 3.0;    // read only 3 s from 10 s in
//   genrekit::Audio a = genrekit::load_audio("blues.00000.wav", p);
//   // a.samples.size() == 66150, a.sample_rate == 22050
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace genrekit {

// Headerless PCM on standard input (`--raw s16le --rate 22050 --channels 1`).
struct RawFormat {
    std::string encoding;  // "" = not raw (a WAV stream); s16le, s24le, s32le, f32le
    int sample_rate = 0;
    int channels = 1;
};

struct LoadParams {
    int sample_rate = 22050;  // target rate; 0 keeps the file's own rate
    bool mono = true;         // average the channels
    double offset = 0.0;      // seconds to skip before reading
    double duration = -1.0;   // seconds to read; < 0 reads to the end
    RawFormat raw;            // standard input only
    void validate() const;
};

struct Audio {
    std::vector<float> samples;  // mono: one channel; otherwise interleaved
    int sample_rate = 0;
    int channels = 1;
    int native_rate = 0;         // the file's own rate, before resampling
};

// Reads audio in blocks: decode, check, downmix, resample (libsoxr, streaming). Memory is
// bounded by the block, whatever the length. Every error is a genrekit::Error with one line
// "<path>: <problem>": a missing, unreadable, empty or non-audio file, a path that is not a
// regular file (FIFOs and devices are refused: pipe them to standard input instead), a header
// that declares an implausible rate or channel count or more data than the file holds, a
// decoder error, fewer samples than the header declares (a corrupt or truncated file), and
// samples that are NaN, infinite or absurdly large (|x| > kMaxSampleMagnitude).
class AudioReader {
public:
    static constexpr float kMaxSampleMagnitude = 1000.f;  // float audio is nominally within [-1, 1]
    static bool is_stdin(const std::string& path) { return path == "-"; }

    explicit AudioReader(const std::string& path, const LoadParams& params = {});
    ~AudioReader();
    AudioReader(const AudioReader&) = delete;
    AudioReader& operator=(const AudioReader&) = delete;

    const std::string& path() const;
    int sample_rate() const;   // of what read() returns
    int native_rate() const;   // the file's own rate
    int channels() const;      // of what read() returns (1 when mono)
    // Seconds the header declares from the offset on, capped by params.duration; < 0 when
    // unknown (streams without a size, some MP3s).
    double declared_seconds() const;
    // Up to `max_frames` frames into `out` (interleaved when channels() > 1); 0 at the end.
    std::size_t read(float* out, std::size_t max_frames);
    // Frames returned so far.
    std::uint64_t frames_read() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// The whole file (or params' window) in memory: use AudioReader for long inputs.
Audio load_audio(const std::string& path, const LoadParams& params = {});

// Resamples mono float audio with libsoxr; the output has ceil(n * to / from)
// samples, as librosa.resample(fix=True) gives.
std::vector<float> resample(const std::vector<float>& y, int from_rate, int to_rate);

// The same, in blocks: push() what arrives, finish() once at the end. The concatenated
// output is identical to resample() on the whole signal (same soxr setup, same length rule).
class StreamResampler {
public:
    StreamResampler(int from_rate, int to_rate);
    ~StreamResampler();
    StreamResampler(const StreamResampler&) = delete;
    StreamResampler& operator=(const StreamResampler&) = delete;
    void push(const float* in, std::size_t n, std::vector<float>& out);  // appends to out
    void finish(std::vector<float>& out);                                 // appends the tail

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

// Writes mono or interleaved float audio; the container and codec follow the
// extension: .wav/.aiff/.au as 16-bit PCM, .flac, .ogg (Vorbis), .mp3. Written
// to a temporary file and renamed into place. Throws genrekit::Error.
void save_audio(const std::string& path, const std::vector<float>& samples, int sample_rate, int channels = 1);

// The decoder library and its version, e.g. "libsndfile-1.2.0".
std::string audio_backend_version();

// True when the path's extension is one genrekit reads (any case).
bool is_audio_extension(const std::string& path);

}  // namespace genrekit
