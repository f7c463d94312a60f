// Decoders behind AudioReader: each yields interleaved float frames in blocks, states what its
// header declares, and throws Error "<path>: <problem>" for anything it cannot decode. Sizes taken
// from a header are checked against sane limits here, before anything is allocated from them.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "genrekit/audio.hpp"

namespace genrekit::detail {

// Sane limits for what a header may declare (a lying header must not size an allocation).
inline constexpr int kMinRate = 1000;
inline constexpr int kMaxRate = 768000;
inline constexpr int kMaxChannels = 64;

class Decoder {
public:
    virtual ~Decoder() = default;
    int rate = 0, channels = 0;
    std::int64_t declared_frames = -1;  // what the header says the stream holds; -1 unknown
    bool seekable = false;
    // Up to `frames` frames into `out` (interleaved); 0 only at the end of the stream.
    virtual std::size_t read(float* out, std::size_t frames) = 0;
    // Positions at `frame` (seekable decoders only); false when past the end.
    virtual bool seek(std::int64_t frame) = 0;
};

// Throws Error "<path>: implausible ..." unless rate and channels are within the limits above.
void check_format(const std::string& path, long rate, long channels);

std::unique_ptr<Decoder> open_sndfile(const std::string& path);  // regular files libsndfile reads
std::unique_ptr<Decoder> open_mpg123(const std::string& path);   // .mp3 files, decoded quietly
// Standard input: a WAV stream (any data size, 0 and 0xFFFFFFFF meaning "to the end") or,
// when raw.encoding is set, headerless PCM.
std::unique_ptr<Decoder> open_stdin(const RawFormat& raw);

}  // namespace genrekit::detail

namespace genrekit::detail {
// A short reason for a file no decoder accepts, from its first bytes (empty, Git LFS pointer,
// text), else "not a readable audio file (<decoder's reason>)".
std::string why_not_audio(const std::string& path, const std::string& decoder_error);
}  // namespace genrekit::detail
