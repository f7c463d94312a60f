// Regular files through libsndfile (WAV, AU, AIFF, FLAC, OGG/Vorbis).
#include <sndfile.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <memory>

#include "decoder.hpp"
#include "genrekit/error.hpp"

namespace genrekit::detail {

std::string why_not_audio(const std::string& path, const std::string& decoder_error) {
    std::error_code ec;
    const auto size = std::filesystem::file_size(path, ec);
    if (!ec && size == 0) return "empty file (0 bytes)";
    std::ifstream in(path, std::ios::binary);
    char head[64] = {};
    in.read(head, sizeof head);
    const std::string start(head, static_cast<std::size_t>(in.gcount()));
    if (start.rfind("version https://git-lfs", 0) == 0)
        return "not audio: a Git LFS pointer file (fetch the real file with 'git lfs pull')";
    const bool text = !start.empty() && std::all_of(start.begin(), start.end(), [](char c) {
        const auto u = static_cast<unsigned char>(c);
        return u == '\n' || u == '\r' || u == '\t' || (u >= 32 && u < 127);
    });
    if (text) return "not audio: the file is plain text";
    return "not a readable audio file (" + decoder_error + ")";
}

void check_format(const std::string& path, long rate, long channels) {
    if (channels < 1 || channels > kMaxChannels)
        throw Error(path + ": implausible channel count " + std::to_string(channels) + " (the header is corrupt?)");
    if (rate < kMinRate || rate > kMaxRate)
        throw Error(path + ": implausible sample rate " + std::to_string(rate) + " Hz (expected " +
                    std::to_string(kMinRate) + ".." + std::to_string(kMaxRate) + "; the header is corrupt?)");
}

namespace {

std::uint32_t le32(const char* p) {
    const auto* u = reinterpret_cast<const unsigned char*>(p);
    return std::uint32_t{u[0]} | std::uint32_t{u[1]} << 8 | std::uint32_t{u[2]} << 16 | std::uint32_t{u[3]} << 24;
}

// WAV headers state chunk sizes; libsndfile trusts a data chunk that claims more than the
// file holds and decodes whatever bytes follow. Refuse such files with the sizes in the
// message: a truncated or corrupt WAV must not pass silently.
void check_riff_sizes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    char head[12] = {};
    if (!in.read(head, 12) || std::string(head, 4) != "RIFF" || std::string(head + 8, 4) != "WAVE") return;
    std::error_code ec;
    const auto file_size = static_cast<std::uint64_t>(std::filesystem::file_size(path, ec));
    if (ec) return;
    std::uint64_t pos = 12;
    char chunk[8];
    while (pos + 8 <= file_size && in.seekg(static_cast<std::streamoff>(pos)) && in.read(chunk, 8)) {
        const std::uint32_t size = le32(chunk + 4);
        const std::uint64_t available = file_size - pos - 8;
        if (size > available)
            throw Error(path + ": truncated or corrupt WAV: the '" + std::string(chunk, 4) + "' chunk declares " +
                        std::to_string(size) + " bytes but only " + std::to_string(available) + " follow");
        if (std::string(chunk, 4) == "data") return;
        pos += 8 + size + (size & 1u);
    }
}

class SndfileDecoder final : public Decoder {
public:
    explicit SndfileDecoder(const std::string& path) : path_(path) {
        check_riff_sizes(path);
        SF_INFO info{};
        file_.reset(sf_open(path.c_str(), SFM_READ, &info));
        if (!file_) throw Error(path + ": " + why_not_audio(path, sf_strerror(nullptr)));
        check_format(path, info.samplerate, info.channels);
        // libsndfile scales int16 by 1/32768 when reading floats, as soundfile (librosa) does.
        sf_command(file_.get(), SFC_SET_NORM_FLOAT, nullptr, SF_TRUE);
        rate = info.samplerate;
        channels = info.channels;
        seekable = info.seekable != 0;
        // FLAC streams of unknown length report 0 or a huge count.
        if (info.frames > 0 && info.frames < (sf_count_t{1} << 50)) declared_frames = info.frames;
    }
    std::size_t read(float* out, std::size_t frames) override {
        const sf_count_t got = sf_readf_float(file_.get(), out, static_cast<sf_count_t>(frames));
        if (sf_error(file_.get()) != SF_ERR_NO_ERROR)
            throw Error(path_ + ": decode error (" + std::string(sf_strerror(file_.get())) + "): the file is corrupt");
        return static_cast<std::size_t>(std::max<sf_count_t>(got, 0));
    }
    bool seek(std::int64_t frame) override { return sf_seek(file_.get(), frame, SEEK_SET) >= 0; }

private:
    std::string path_;
    // Owned from the start: a constructor that throws runs no destructor, but members are freed.
    struct Closer {
        void operator()(SNDFILE* f) const { sf_close(f); }
    };
    std::unique_ptr<SNDFILE, Closer> file_;
};

}  // namespace

std::unique_ptr<Decoder> open_sndfile(const std::string& path) { return std::make_unique<SndfileDecoder>(path); }

}  // namespace genrekit::detail
