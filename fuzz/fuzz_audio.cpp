// libFuzzer harness: the audio loader's header checks and decoding path, through the public
// genrekit::load_audio (the bytes go to a temporary file named by their container's magic).
#include <cstring>

#include "fuzz_support.hpp"
#include "genrekit/audio.hpp"

namespace {
const char* extension_for(const std::uint8_t* d, std::size_t n) {
    auto magic = [&](const char* m) { return n >= std::strlen(m) && std::memcmp(d, m, std::strlen(m)) == 0; };
    if (magic(".snd")) return ".au";
    if (magic("FORM")) return ".aiff";
    if (magic("fLaC")) return ".flac";
    if (magic("OggS")) return ".ogg";
    if (magic("ID3") || (n >= 2 && d[0] == 0xFF && (d[1] & 0xE0) == 0xE0)) return ".mp3";
    return ".wav";
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string path = genrekit::fuzz::temp_path(extension_for(data, size));
    genrekit::fuzz::write_bytes(path, data, size);
    genrekit::fuzz::expect_only_errors([&] {
        genrekit::LoadParams p;
        p.sample_rate = 0;  // the file's own rate: the decoder, not the resampler, is under test
        const genrekit::Audio a = genrekit::load_audio(path, p);
        if (a.sample_rate <= 0 || a.channels < 1) std::abort();  // loaded audio must be usable
    });
    std::remove(path.c_str());
    return 0;
}
