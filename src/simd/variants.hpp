// How a DSP kernel family compiles its variants and picks one (see isa.hpp).
//
// A family writes each kernel body once, as an always-inline template, and a STAMP(NS, ATTR, ISA)
// macro that defines the family's exported entry points in namespace NS with the function
// attribute ATTR, forwarding to the bodies (ISA: the Isa value, to choose a vector type with
// ByIsa, or passed on to a body that chooses more than a type by it).
// GENREKIT_SIMD_STAMP(STAMP) instantiates it as baseline::, avx2:: and avx512::
// (without GENREKIT_SIMD_VARIANTS only baseline::, the other two names aliasing it), and
// GENREKIT_SIMD_PICK(fn) is the variant of fn for simd::isa(), read on every call.
#pragma once

#include <type_traits>

#include "simd/isa.hpp"

#if GENREKIT_SIMD_VARIANTS
#define GENREKIT_SIMD_STAMP(STAMP)                                     \
    STAMP(baseline, , ::genrekit::simd::Isa::baseline)                 \
    STAMP(avx2, GENREKIT_TARGET_AVX2, ::genrekit::simd::Isa::avx2)     \
    STAMP(avx512, GENREKIT_TARGET_AVX512, ::genrekit::simd::Isa::avx512)
#else
#define GENREKIT_SIMD_STAMP(STAMP)                     \
    STAMP(baseline, , ::genrekit::simd::Isa::baseline) \
    namespace avx2 = baseline;                         \
    namespace avx512 = baseline;
#endif

#define GENREKIT_SIMD_PICK(fn) ::genrekit::simd::pick(baseline::fn, avx2::fn, avx512::fn)

namespace genrekit::simd {

// The type a variant uses, by its Isa I: e.g. ByIsa<ISA, V4f, V8f, V16f> for 4, 8 or 16 lanes.
template <Isa I, class Baseline, class Avx2, class Avx512>
using ByIsa = std::conditional_t<I == Isa::avx512, Avx512, std::conditional_t<I == Isa::avx2, Avx2, Baseline>>;

}  // namespace genrekit::simd
