// `genrekit info`: what this build can read and how it was configured.
#include <iostream>

#include "genrekit/audio.hpp"
#include "tools.hpp"

namespace genrekit::tools {
namespace {
AutoRegister reg([](CLI::App& app) {
    auto* sub = app.add_subcommand("info", "Show the version, the audio formats this build reads, and the defaults");
    set_runner(sub, [] {
        std::cout << "genrekit " << GENREKIT_VERSION << "\n"
                  << "audio: " << audio_backend_version() << " (wav, au, aiff, flac, ogg, mp3)\n"
                  << "front end defaults: 22050 Hz mono, n_fft 2048, hop 512, 128 mel bands, 20 MFCC (librosa 0.7.2 conventions)\n";
        return kExitOk;
    });
});
}  // namespace
}  // namespace genrekit::tools
