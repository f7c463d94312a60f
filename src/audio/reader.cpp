// AudioReader: the one decode loop (decoders -> checks -> downmix -> resampler) that every
// audio input goes through, in fixed-size blocks; load_audio collects it.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include "decoder.hpp"
#include "genrekit/audio.hpp"
#include "genrekit/error.hpp"

namespace fs = std::filesystem;

namespace genrekit {

namespace {

constexpr std::size_t kBlockFrames = 1 << 15;

std::string seconds(double s) {
    std::ostringstream o;
    o.precision(s < 10 ? 3 : 1);
    o << std::fixed << s << " s";
    return o.str();
}

// MPEG audio goes to libmpg123 by name or by content (an ID3 tag or a frame sync up front).
bool looks_like_mpeg(const std::string& path) {
    std::string ext = fs::path(path).extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
    if (ext == ".mp3" || ext == ".mp2") return true;
    std::ifstream in(path, std::ios::binary);
    unsigned char h[3] = {};
    in.read(reinterpret_cast<char*>(h), 3);
    if (in.gcount() < 3) return false;
    return (h[0] == 'I' && h[1] == 'D' && h[2] == '3') || (h[0] == 0xFF && (h[1] & 0xE0) == 0xE0);
}

std::unique_ptr<detail::Decoder> open_path(const std::string& path, const LoadParams& p) {
    if (AudioReader::is_stdin(path)) return detail::open_stdin(p.raw);
    if (!p.raw.encoding.empty()) throw Error(path + ": --raw applies to standard input ('-') only");
    std::error_code ec;
    const fs::file_status st = fs::status(path, ec);
    if (st.type() == fs::file_type::not_found) throw Error(path + ": no such file");
    if (ec) throw Error(path + ": cannot open (" + ec.message() + ")");  // a symlink loop, EACCES
    if (fs::is_directory(st)) throw Error(path + ": is a directory, not an audio file");
    // Opening a FIFO blocks until a writer appears, and devices never end: refuse them, and
    // say how to stream on purpose.
    if (!fs::is_regular_file(st)) {
        const char* kind = fs::is_fifo(st) ? "a FIFO" : fs::is_character_file(st) ? "a character device"
                                           : fs::is_block_file(st)  ? "a block device" : fs::is_socket(st) ? "a socket" : "a special file";
        throw Error(path + ": not a regular file (" + kind + "); to read a stream, pipe it to standard input and give '-' as the input");
    }
    return looks_like_mpeg(path) ? detail::open_mpg123(path) : detail::open_sndfile(path);
}

}  // namespace

struct AudioReader::Impl {
    std::string path;
    LoadParams params;
    std::unique_ptr<detail::Decoder> dec;
    std::optional<StreamResampler> resampler;
    int out_channels = 1;
    std::int64_t start = 0;      // native frames skipped
    std::int64_t wanted = -1;    // native frames to read; -1 to the end
    std::int64_t decoded = 0;    // native frames decoded after start
    std::uint64_t returned = 0;  // output frames handed out
    bool ended = false;
    std::vector<float> block, mixed, pending;
    std::size_t pending_at = 0;

    double native_seconds(std::int64_t frames) const { return static_cast<double>(frames) / dec->rate; }

    void check_samples(const float* x, std::size_t n) const {
        for (std::size_t i = 0; i < n; ++i)
            if (!(std::abs(x[i]) <= kMaxSampleMagnitude)) {
                const double at = native_seconds(decoded) + static_cast<double>(i / static_cast<std::size_t>(dec->channels)) / dec->rate;
                char value[32];
                std::snprintf(value, sizeof value, "%g", static_cast<double>(x[i]));
                throw Error(path + ": bad sample value " + value + " at " + seconds(at) +
                            (std::isfinite(x[i]) ? " (audio samples lie within [-1, 1])" : " (NaN or infinite samples)"));
            }
    }

    void skip_to_start() {
        if (start <= 0) return;
        if (dec->seekable) {
            if (!dec->seek(start)) throw Error(path + ": offset " + seconds(params.offset) + " is past the end of the file");
            return;
        }
        for (std::int64_t left = start; left > 0;) {  // a stream: read and drop
            block.resize(kBlockFrames * static_cast<std::size_t>(dec->channels));
            const std::size_t got = dec->read(block.data(), static_cast<std::size_t>(std::min<std::int64_t>(left, kBlockFrames)));
            if (got == 0) throw Error(path + ": offset " + seconds(params.offset) + " is past the end of the stream");
            left -= static_cast<std::int64_t>(got);
        }
    }

    // At the end: fewer frames than the header declares means a decoder stopped early.
    void check_complete() const {
        if (dec->declared_frames < 0) return;
        std::int64_t expected = dec->declared_frames - start;
        if (wanted >= 0) expected = std::min(expected, wanted);
        if (decoded < expected)
            throw Error(path + ": decoding stopped after " + seconds(native_seconds(start + decoded)) + " of the " +
                        seconds(native_seconds(dec->declared_frames)) + " its header declares: the file is truncated or corrupt");
    }

    // Decodes one block into `pending`; false at the end.
    bool fill() {
        pending.clear();
        pending_at = 0;
        while (pending.empty() && !ended) {
            std::size_t ask = kBlockFrames;
            if (wanted >= 0) ask = static_cast<std::size_t>(std::min<std::int64_t>(ask, wanted - decoded));
            const auto ch = static_cast<std::size_t>(dec->channels);
            block.resize(ask * ch);
            const std::size_t got = ask > 0 ? dec->read(block.data(), ask) : 0;
            if (got == 0) {
                ended = true;
                if (wanted < 0 || decoded < wanted) check_complete();
                if (decoded == 0) throw Error(path + (start > 0 ? ": no audio at that offset" : ": no audio (0 samples)"));
                if (resampler) resampler->finish(pending);
                break;
            }
            check_samples(block.data(), got * ch);
            decoded += static_cast<std::int64_t>(got);
            const float* src = block.data();
            if (params.mono && ch > 1) {
                // ref: librosa 0.7.2 to_mono: np.mean over channels (float32 sum, then divide).
                mixed.resize(got);
                for (std::size_t i = 0; i < got; ++i) {
                    float s = 0.f;
                    for (std::size_t c = 0; c < ch; ++c) s += block[i * ch + c];
                    mixed[i] = s / static_cast<float>(ch);
                }
                src = mixed.data();
            }
            const std::size_t n = got * static_cast<std::size_t>(out_channels);
            if (resampler) resampler->push(src, n, pending);
            else pending.assign(src, src + n);
        }
        return !pending.empty();
    }
};

AudioReader::AudioReader(const std::string& path, const LoadParams& params) : impl_(std::make_unique<Impl>()) {
    params.validate();
    Impl& m = *impl_;
    m.path = path;
    m.params = params;
    m.dec = open_path(path, params);
    m.out_channels = params.mono ? 1 : m.dec->channels;
    // ref: librosa 0.7.2 core/audio.py load: seek int(offset*sr), read int(duration*sr) frames.
    m.start = static_cast<std::int64_t>(params.offset * m.dec->rate);
    if (params.duration >= 0) m.wanted = static_cast<std::int64_t>(params.duration * m.dec->rate);
    if (params.sample_rate > 0 && params.sample_rate != m.dec->rate) {
        if (m.out_channels != 1) throw Error(path + ": resampling needs mono=true");
        m.resampler.emplace(m.dec->rate, params.sample_rate);
    }
    m.skip_to_start();
}

AudioReader::~AudioReader() = default;

const std::string& AudioReader::path() const { return impl_->path; }
int AudioReader::native_rate() const { return impl_->dec->rate; }
int AudioReader::sample_rate() const { return impl_->resampler ? impl_->params.sample_rate : impl_->dec->rate; }
int AudioReader::channels() const { return impl_->out_channels; }
std::uint64_t AudioReader::frames_read() const { return impl_->returned; }

double AudioReader::declared_seconds() const {
    const Impl& m = *impl_;
    if (m.dec->declared_frames < 0) return -1.0;
    std::int64_t n = std::max<std::int64_t>(m.dec->declared_frames - m.start, 0);
    if (m.wanted >= 0) n = std::min(n, m.wanted);
    return m.native_seconds(n);
}

std::size_t AudioReader::read(float* out, std::size_t max_frames) {
    Impl& m = *impl_;
    const auto ch = static_cast<std::size_t>(m.out_channels);
    std::size_t done = 0;
    while (done < max_frames) {
        if (m.pending_at == m.pending.size() && !m.fill()) break;
        const std::size_t n = std::min((m.pending.size() - m.pending_at) / ch, max_frames - done);
        std::copy_n(m.pending.begin() + static_cast<std::ptrdiff_t>(m.pending_at), n * ch, out + done * ch);
        m.pending_at += n * ch;
        done += n;
    }
    m.returned += done;
    return done;
}

Audio load_audio(const std::string& path, const LoadParams& params) {
    AudioReader r(path, params);
    Audio out;
    out.native_rate = r.native_rate();
    out.sample_rate = r.sample_rate();
    out.channels = r.channels();
    // The header's claim only sizes a first reservation, capped: a header may lie.
    const double declared = r.declared_seconds();
    if (declared > 0)
        out.samples.reserve(static_cast<std::size_t>(std::min(declared * out.sample_rate + 1, double(1 << 24))) *
                            static_cast<std::size_t>(out.channels));
    const auto ch = static_cast<std::size_t>(out.channels);
    for (;;) {
        const std::size_t at = out.samples.size();
        out.samples.resize(at + kBlockFrames * ch);
        const std::size_t got = r.read(out.samples.data() + at, kBlockFrames);
        out.samples.resize(at + got * ch);
        if (got == 0) break;
    }
    return out;
}

}  // namespace genrekit
