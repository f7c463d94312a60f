#include "genrekit/audio.hpp"

#include <sndfile.h>

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

}  // namespace

void LoadParams::validate() const {
    require_param(sample_rate >= 0 && sample_rate <= 384000, "sample_rate", sample_rate, "0 (keep) or 1..384000");
    require_param(offset >= 0 && std::isfinite(offset), "offset", offset, ">= 0 seconds");
    require_param(std::isfinite(duration), "duration", duration, "< 0 (to the end) or > 0 seconds");
    if (!raw.encoding.empty()) {
        require_param(raw.sample_rate > 0, "rate", raw.sample_rate, "> 0 Hz with --raw");
        require_param(raw.channels > 0, "channels", raw.channels, "> 0 with --raw");
    }
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

}  // namespace genrekit
