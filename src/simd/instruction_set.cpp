// The public view of simd::isa() (include/genrekit/instruction_set.hpp).
#include "genrekit/instruction_set.hpp"

#include "simd/isa.hpp"

namespace genrekit {

InstructionSets instruction_sets() { return {simd::name(simd::isa()), simd::name(simd::detected())}; }

}  // namespace genrekit
