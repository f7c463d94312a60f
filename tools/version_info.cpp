// `genrekit info`: what this build can read and how it was configured.
#include <iostream>

#include "genrekit/audio.hpp"
#include "genrekit/distributed.hpp"
#include "genrekit/instruction_set.hpp"
#include "tools.hpp"

namespace genrekit::tools {
namespace {
AutoRegister reg([](CLI::App& app) {
    auto* sub = app.add_subcommand("info", "Show the version, the audio formats this build reads, the instruction set, and the defaults");
    set_runner(sub, [] {
        const InstructionSets sets = instruction_sets();
        std::cout << "genrekit " << GENREKIT_VERSION << "\n"
                  << "audio: " << audio_backend_version() << " (wav, au, aiff, flac, ogg, mp3)\n"
                  << "instruction set: " << sets.in_use << " in use, " << sets.supported
                  << " supported by this CPU (GENREKIT_ISA=baseline|avx2|avx512 lowers it)\n"
                  << "mpi: " << (dist::built_with_mpi() ? "built in (mpirun -np P genrekit train ... trains data-parallel)" : "not built in (GENREKIT_MPI=OFF)")
                  << "\n"
                  << "front end defaults: 22050 Hz mono, n_fft 2048, hop 512, 128 mel bands, 20 MFCC (librosa 0.7.2 conventions)\n";
        return kExitOk;
    });
});
}  // namespace
}  // namespace genrekit::tools
