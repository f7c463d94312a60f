#include "genrekit/audio.hpp"

#include <sndfile.h>
#include <soxr.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <memory>

#include "genrekit/atomic_file.hpp"
#include "genrekit/error.hpp"

namespace genrekit {

namespace {

struct SndfileCloser {
    void operator()(SNDFILE* f) const { sf_close(f); }
};

// A short reason for files libsndfile refuses, looking at the first bytes
// for the cases users actually meet (empty files, Git LFS pointers, text).
std::string why_not_audio(const std::string& path, const char* sndfile_error) {
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
    return std::string("not a readable audio file (") + sndfile_error + ")";
}

// WAV headers state chunk sizes; libsndfile trusts a data chunk that claims more
// than the file holds and decodes whatever bytes follow. Refuse such files with
// the sizes in the message: a truncated or corrupt WAV must not pass silently.
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
        const std::uint32_t size = static_cast<std::uint32_t>(static_cast<unsigned char>(chunk[4])) |
                                   static_cast<std::uint32_t>(static_cast<unsigned char>(chunk[5])) << 8 |
                                   static_cast<std::uint32_t>(static_cast<unsigned char>(chunk[6])) << 16 |
                                   static_cast<std::uint32_t>(static_cast<unsigned char>(chunk[7])) << 24;
        const std::uint64_t available = file_size - pos - 8;
        if (size > available)
            throw Error(path + ": truncated or corrupt WAV: the '" + std::string(chunk, 4) + "' chunk declares " +
                        std::to_string(size) + " bytes but only " + std::to_string(available) + " follow");
        if (std::string(chunk, 4) == "data") return;
        pos += 8 + size + (size & 1u);
    }
}

}  // namespace

void LoadParams::validate() const {
    require_param(sample_rate >= 0 && sample_rate <= 384000, "sample_rate", sample_rate, "0 (keep) or 1..384000");
    require_param(offset >= 0 && std::isfinite(offset), "offset", offset, ">= 0 seconds");
    require_param(std::isfinite(duration), "duration", duration, "< 0 (to the end) or > 0 seconds");
}

void save_audio(const std::string& path, const std::vector<float>& samples, int sample_rate, int channels) {
    require_param(sample_rate > 0, "sample_rate", sample_rate, "> 0");
    require_param(channels >= 1 && channels <= 8, "channels", channels, "1..8");
    std::string ext = std::filesystem::path(path).extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
    int format = 0;
    if (ext == ".wav") format = SF_FORMAT_WAV | SF_FORMAT_PCM_16;
    else if (ext == ".aiff" || ext == ".aif") format = SF_FORMAT_AIFF | SF_FORMAT_PCM_16;
    else if (ext == ".au") format = SF_FORMAT_AU | SF_FORMAT_PCM_16;
    else if (ext == ".flac") format = SF_FORMAT_FLAC | SF_FORMAT_PCM_16;
    else if (ext == ".ogg") format = SF_FORMAT_OGG | SF_FORMAT_VORBIS;
    else if (ext == ".mp3") format = SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III;
    else throw Error(path + ": cannot write audio with extension '" + ext + "' (use wav, aiff, au, flac, ogg or mp3)");
    SF_INFO info{};
    info.samplerate = sample_rate;
    info.channels = channels;
    info.format = format;
    const std::string tmp = path + ".tmp" + ext;
    const RemoveOnSignal guard(tmp);
    {
        std::unique_ptr<SNDFILE, SndfileCloser> file(sf_open(tmp.c_str(), SFM_WRITE, &info));
        if (!file) throw Error(path + ": cannot write (" + std::string(sf_strerror(nullptr)) + ")");
        // Clip instead of wrapping around when a float sample exceeds [-1, 1].
        sf_command(file.get(), SFC_SET_CLIPPING, nullptr, SF_TRUE);
        const auto frames = static_cast<sf_count_t>(samples.size() / static_cast<std::size_t>(channels));
        if (sf_writef_float(file.get(), samples.data(), frames) != frames) {
            const std::string why = sf_strerror(file.get());
            file.reset();
            std::remove(tmp.c_str());
            throw Error(path + ": write failed (" + why + ")");
        }
    }
    std::error_code ec;
    std::filesystem::rename(tmp, path, ec);
    if (ec) {
        std::remove(tmp.c_str());
        throw Error(path + ": cannot rename temporary file into place (" + ec.message() + ")");
    }
}

std::string audio_backend_version() {
    char buf[128] = {};
    sf_command(nullptr, SFC_GET_LIB_VERSION, buf, sizeof buf);
    return buf;
}

bool is_audio_extension(const std::string& path) {
    std::string ext = std::filesystem::path(path).extension().string();
    std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
    return ext == ".wav" || ext == ".au" || ext == ".aiff" || ext == ".aif" || ext == ".flac" ||
           ext == ".ogg" || ext == ".mp3";
}

Audio load_audio(const std::string& path, const LoadParams& params) {
    params.validate();
    std::error_code ec;  // the throwing forms would turn a symlink loop or EACCES into an internal error
    const auto status = std::filesystem::status(path, ec);
    if (status.type() == std::filesystem::file_type::not_found) throw Error(path + ": no such file");
    if (ec) throw Error(path + ": cannot open (" + ec.message() + ")");
    if (std::filesystem::is_directory(status)) throw Error(path + ": is a directory, not an audio file");

    check_riff_sizes(path);
    SF_INFO info{};
    std::unique_ptr<SNDFILE, SndfileCloser> file(sf_open(path.c_str(), SFM_READ, &info));
    if (!file) throw Error(path + ": " + why_not_audio(path, sf_strerror(nullptr)));
    if (info.channels <= 0 || info.channels > 256) throw Error(path + ": implausible channel count " + std::to_string(info.channels));
    if (info.samplerate <= 0 || info.samplerate > 768000)
        throw Error(path + ": implausible sample rate " + std::to_string(info.samplerate));
    // libsndfile scales int16 by 1/32768 when reading floats, as soundfile (librosa) does.
    sf_command(file.get(), SFC_SET_NORM_FLOAT, nullptr, SF_TRUE);

    // ref: librosa 0.7.2 core/audio.py load: seek int(offset*sr), read int(duration*sr) frames.
    const auto start = static_cast<sf_count_t>(params.offset * info.samplerate);
    if (start > 0) {
        if (info.seekable && sf_seek(file.get(), start, SEEK_SET) < 0)
            throw Error(path + ": offset " + std::to_string(params.offset) + " s is past the end of the file");
        if (!info.seekable) throw Error(path + ": file is not seekable, cannot apply an offset");
    }
    sf_count_t wanted = params.duration < 0 ? -1 : static_cast<sf_count_t>(params.duration * info.samplerate);

    // Read in blocks, straight into the output, rather than trusting the header's frame count:
    // a header may claim gigabytes that the file does not hold. The claim only sizes a first
    // reservation, capped (the vector still grows past it if the file holds more).
    const std::size_t channels = static_cast<std::size_t>(info.channels);
    constexpr sf_count_t kBlock = 1 << 16;
    constexpr sf_count_t kMaxReserve = sf_count_t{1} << 24;  // frames: ~6 min at 44.1 kHz
    std::vector<float> interleaved;
    sf_count_t expect = std::clamp<sf_count_t>(info.frames - std::max<sf_count_t>(start, 0), 0, kMaxReserve);
    if (wanted >= 0) expect = std::min(expect, wanted);
    interleaved.reserve(static_cast<std::size_t>(expect) * channels);
    sf_count_t total = 0;
    while (wanted < 0 || total < wanted) {
        const sf_count_t ask = wanted < 0 ? kBlock : std::min(kBlock, wanted - total);
        const std::size_t at = interleaved.size();
        interleaved.resize(at + static_cast<std::size_t>(ask) * channels);
        const sf_count_t got = sf_readf_float(file.get(), interleaved.data() + at, ask);
        interleaved.resize(at + static_cast<std::size_t>(std::max<sf_count_t>(got, 0)) * channels);
        if (got <= 0) break;
        total += got;
    }
    if (sf_error(file.get()) != SF_ERR_NO_ERROR && total == 0)
        throw Error(path + ": decode error (" + std::string(sf_strerror(file.get())) + ")");
    if (total == 0) throw Error(path + (start > 0 ? ": no audio at that offset" : ": no audio (0 samples)"));
    for (float v : interleaved)
        if (!std::isfinite(v)) throw Error(path + ": contains NaN or infinite samples");

    Audio out;
    out.native_rate = info.samplerate;
    out.sample_rate = info.samplerate;
    out.channels = info.channels;
    if (params.mono && channels > 1) {
        // ref: librosa 0.7.2 to_mono: np.mean over channels (float32 sum, then divide).
        std::vector<float> mono(static_cast<std::size_t>(total));
        for (std::size_t i = 0; i < mono.size(); ++i) {
            float s = 0.f;
            for (std::size_t c = 0; c < channels; ++c) s += interleaved[i * channels + c];
            mono[i] = s / static_cast<float>(channels);
        }
        out.samples = std::move(mono);
        out.channels = 1;
    } else {
        out.samples = std::move(interleaved);
    }
    if (params.sample_rate > 0 && params.sample_rate != info.samplerate) {
        if (out.channels != 1) throw Error(path + ": resampling needs mono=true");
        out.samples = resample(out.samples, info.samplerate, params.sample_rate);
        out.sample_rate = params.sample_rate;
    }
    return out;
}

std::vector<float> resample(const std::vector<float>& y, int from_rate, int to_rate) {
    require_param(from_rate > 0, "from_rate", from_rate, "> 0");
    require_param(to_rate > 0, "to_rate", to_rate, "> 0");
    if (from_rate == to_rate) return y;
    // ref: librosa 0.7.2 resample: n_samples = ceil(len * ratio), then fix_length.
    const double ratio = static_cast<double>(to_rate) / from_rate;
    const auto n_out = static_cast<std::size_t>(std::ceil(static_cast<double>(y.size()) * ratio));
    std::vector<float> out(n_out, 0.f);
    // Very-high quality (SOXR_VHQ): the closest soxr setting to resampy's 'kaiser_best',
    // which librosa 0.7.2 used; librosa >= 0.10 defaults to soxr_hq.
    const soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
    const soxr_quality_spec_t quality = soxr_quality_spec(SOXR_VHQ, 0);
    std::size_t done = 0;
    const soxr_error_t err = soxr_oneshot(from_rate, to_rate, 1, y.data(), y.size(), nullptr, out.data(), out.size(),
                                          &done, &io, &quality, nullptr);
    if (err) throw Error(std::string("resampling failed: ") + err);
    return out;
}

}  // namespace genrekit
