// Which instruction set the vector kernels use, for `genrekit info` and for callers that log it.
//
//   const auto sets = genrekit::instruction_sets();   // e.g. {"avx2", "avx512"}
//   std::cout << sets.in_use << " (CPU: " << sets.supported << ")\n";
//
// Names are "baseline" (x86-64 SSE2, or any other CPU), "avx2" (AVX2 + FMA) and "avx512"
// (AVX-512 F/DQ/VL/BW). GENREKIT_ISA=baseline|avx2|avx512 in the environment lowers the one in use.
#pragma once

#include <string>

namespace genrekit {

struct InstructionSets {
    std::string in_use;     // what every kernel runs: the CPU's, capped by GENREKIT_ISA
    std::string supported;  // the widest this CPU runs
};

// Throws genrekit::Error (one line naming GENREKIT_ISA) when GENREKIT_ISA holds anything else
// than baseline, avx2 or avx512: tools call it once at start to report that before any work.
InstructionSets instruction_sets();

}  // namespace genrekit
