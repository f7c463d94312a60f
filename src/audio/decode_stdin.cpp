// Standard input: a WAV stream parsed here (libsndfile wants to seek), or headerless PCM.
// Streams from ffmpeg and similar tools state a data size of 0 or 0xFFFFFFFF: read to the end.
#include <poll.h>
#include <cerrno>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <vector>

#include "decoder.hpp"
#include "genrekit/error.hpp"

namespace genrekit::detail {
namespace {

const std::string kName = "-";  // how standard input is named in messages

enum class Encoding { U8, S16, S24, S32, F32, F64 };

class StdinDecoder final : public Decoder {
public:
    explicit StdinDecoder(const RawFormat& raw) {
        if (::isatty(STDIN_FILENO))
            throw Error(kName + ": standard input is a terminal: pipe audio into it, e.g. "
                                "ffmpeg -i song.mp3 -f wav - | genrekit predict --model M -");
        wait_for_data();
        if (!raw.encoding.empty()) {
            open_raw(raw);
            return;
        }
        char riff[12];
        const std::size_t got = fill(riff, 12);
        if (got == 0) throw Error(kName + ": no data on standard input");
        if (got < 12 || (std::memcmp(riff, "RIFF", 4) != 0 && std::memcmp(riff, "RF64", 4) != 0) ||
            std::memcmp(riff + 8, "WAVE", 4) != 0)
            throw Error(kName + ": standard input is not a WAV stream; for headerless PCM give --raw s16le|s24le|s32le|f32le "
                                "--rate HZ --channels N");
        parse_wav_chunks();
    }

    std::size_t read(float* out, std::size_t frames) override {
        const std::size_t frame_bytes = static_cast<std::size_t>(width_) * static_cast<std::size_t>(channels);
        std::size_t want = frames * frame_bytes;
        if (remaining_ >= 0) want = std::min<std::size_t>(want, static_cast<std::size_t>(remaining_));
        bytes_.resize(want);
        const std::size_t got = fill(bytes_.data(), want) / frame_bytes * frame_bytes;  // a cut-off last frame is dropped
        if (remaining_ >= 0) remaining_ -= static_cast<std::int64_t>(got);
        const std::size_t n = got / static_cast<std::size_t>(width_);
        const auto* b = reinterpret_cast<const unsigned char*>(bytes_.data());
        // ref: libsndfile pcm.c / float32.c with SFC_SET_NORM_FLOAT: integer PCM scaled by 1/2^(bits-1).
        for (std::size_t i = 0; i < n; ++i, b += width_) {
            switch (enc_) {
                case Encoding::U8: out[i] = static_cast<float>(b[0] - 128) * (1.0f / 0x80); break;
                case Encoding::S16: out[i] = static_cast<float>(static_cast<std::int16_t>(b[0] | b[1] << 8)) * (1.0f / 0x8000); break;
                case Encoding::S24:
                    out[i] = static_cast<float>(static_cast<std::int32_t>(std::uint32_t{b[0]} << 8 | std::uint32_t{b[1]} << 16 | std::uint32_t{b[2]} << 24)) *
                             (1.0f / static_cast<float>(0x80000000u));
                    break;
                case Encoding::S32:
                    out[i] = static_cast<float>(static_cast<std::int32_t>(le32(b))) * (1.0f / static_cast<float>(0x80000000u));
                    break;
                case Encoding::F32: {
                    const std::uint32_t u = le32(b);
                    std::memcpy(&out[i], &u, 4);
                    break;
                }
                case Encoding::F64: {
                    const std::uint64_t u = le32(b) | std::uint64_t{le32(b + 4)} << 32;
                    double d;
                    std::memcpy(&d, &u, 8);
                    out[i] = static_cast<float>(d);
                    break;
                }
            }
        }
        return got / frame_bytes;
    }
    bool seek(std::int64_t) override { return false; }

private:
    static std::uint32_t le32(const unsigned char* u) {
        return std::uint32_t{u[0]} | std::uint32_t{u[1]} << 8 | std::uint32_t{u[2]} << 16 | std::uint32_t{u[3]} << 24;
    }
    static std::uint32_t le32(const char* p) { return le32(reinterpret_cast<const unsigned char*>(p)); }

    // Reads until n bytes or the end of input; returns the count.
    static std::size_t fill(char* p, std::size_t n) {
        std::size_t got = 0;
        while (got < n) {
            const ssize_t r = ::read(STDIN_FILENO, p + got, n - got);
            if (r < 0 && errno == EINTR) continue;
            if (r < 0) throw Error(kName + ": cannot read standard input (" + std::strerror(errno) + ")");
            if (r == 0) break;
            got += static_cast<std::size_t>(r);
        }
        return got;
    }
    // A pipe whose writer never writes would block silently: say once what we are waiting for.
    static void wait_for_data() {
        pollfd p{STDIN_FILENO, POLLIN, 0};
        if (::poll(&p, 1, 10000) == 0)
            std::fprintf(stderr, "genrekit: waiting for audio on standard input (nothing has arrived for 10 s)\n");
    }
    void skip(std::uint64_t n) {
        char buf[4096];
        while (n > 0) {
            const std::size_t k = fill(buf, static_cast<std::size_t>(std::min<std::uint64_t>(n, sizeof buf)));
            if (k == 0) throw Error(kName + ": the WAV stream ends inside its header");
            n -= k;
        }
    }

    void set_encoding(bool is_float, int bits, const std::string& what) {
        if (is_float && bits == 32) enc_ = Encoding::F32;
        else if (is_float && bits == 64) enc_ = Encoding::F64;
        else if (!is_float && bits == 8) enc_ = Encoding::U8;
        else if (!is_float && bits == 16) enc_ = Encoding::S16;
        else if (!is_float && bits == 24) enc_ = Encoding::S24;
        else if (!is_float && bits == 32) enc_ = Encoding::S32;
        else throw Error(kName + ": unsupported " + what + " (" + std::to_string(bits) + "-bit " + (is_float ? "float" : "integer") + ")");
        width_ = bits / 8;
    }

    void open_raw(const RawFormat& raw) {
        const std::string& e = raw.encoding;
        if (e == "s16le") set_encoding(false, 16, "raw encoding");
        else if (e == "s24le") set_encoding(false, 24, "raw encoding");
        else if (e == "s32le") set_encoding(false, 32, "raw encoding");
        else if (e == "f32le") set_encoding(true, 32, "raw encoding");
        else throw Error(kName + ": unknown raw encoding '" + e + "' (s16le, s24le, s32le or f32le)");
        check_format(kName, raw.sample_rate, raw.channels);
        rate = raw.sample_rate;
        channels = raw.channels;
    }

    void parse_wav_chunks() {
        bool have_fmt = false;
        for (;;) {
            char h[8];
            if (fill(h, 8) < 8) throw Error(kName + ": the WAV stream ends before its data chunk");
            const std::uint32_t size = le32(h + 4);
            const std::string id(h, 4);
            if (id == "data") {
                if (!have_fmt) throw Error(kName + ": the WAV stream has no 'fmt ' chunk before its data");
                const std::size_t frame_bytes = static_cast<std::size_t>(width_ * channels);
                // 0 and 0xFFFFFFFF: a writer that did not know the length (ffmpeg to a pipe, RF64).
                if (size != 0 && size != 0xFFFFFFFFu) {
                    remaining_ = size;
                    declared_frames = size / frame_bytes;
                }
                return;
            }
            if (id == "fmt ") {
                if (size < 16 || size > 1024) throw Error(kName + ": implausible 'fmt ' chunk size " + std::to_string(size));
                std::vector<char> f(size + (size & 1u));
                if (fill(f.data(), f.size()) < f.size()) throw Error(kName + ": the WAV stream ends inside its header");
                const auto* u = reinterpret_cast<const unsigned char*>(f.data());
                unsigned tag = u[0] | u[1] << 8;
                const unsigned ch = u[2] | u[3] << 8;
                const std::uint32_t sr = le32(u + 4);
                const unsigned bits = u[14] | u[15] << 8;
                if (tag == 0xFFFE && size >= 26) tag = u[24] | u[25] << 8;  // WAVE_FORMAT_EXTENSIBLE: the sub-format
                if (tag != 1 && tag != 3) throw Error(kName + ": WAV format tag " + std::to_string(tag) + " is not PCM or float");
                check_format(kName, static_cast<long>(sr), static_cast<long>(ch));
                set_encoding(tag == 3, static_cast<int>(bits), "WAV sample format");
                rate = static_cast<int>(sr);
                channels = static_cast<int>(ch);
                have_fmt = true;
                continue;
            }
            skip(std::uint64_t{size} + (size & 1u));  // LIST, fact, ds64, ...
        }
    }

    Encoding enc_ = Encoding::S16;
    int width_ = 2;
    std::int64_t remaining_ = -1;  // data bytes left when the header states them
    std::vector<char> bytes_;
};

}  // namespace

std::unique_ptr<Decoder> open_stdin(const RawFormat& raw) { return std::make_unique<StdinDecoder>(raw); }

}  // namespace genrekit::detail
