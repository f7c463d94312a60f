// The kernel layer's one dispatch point: which instruction set the vector kernels use.
//
//   switch (genrekit::simd::isa()) { case Isa::avx512: ...; case Isa::avx2: ...; default: ... }
//   auto fn = genrekit::simd::pick(kernel_baseline, kernel_avx2, kernel_avx512);
//
// The CPU is asked once, at the first call. GENREKIT_ISA=baseline|avx2|avx512 in the environment
// caps the choice (a CPU without AVX-512 stays at AVX2 whatever the cap says), and set_cap() lowers
// it at run time, for tests that run every variant. Kernel families read isa() on every call and
// keep no function pointer of their own, so a cap always reaches every family, DSP and NN alike.
//
// Variants are compiled with GENREKIT_TARGET_AVX2 / GENREKIT_TARGET_AVX512, the two feature sets
// declared here once, under `#if GENREKIT_SIMD_VARIANTS` (x86-64 with GCC). Elsewhere
// only the baseline variant exists and isa() is always Isa::baseline.
#pragma once

#include <string>

// Clang builds (the libFuzzer build, scripts/fuzz.sh) take the portable path: clang's target
// pragmas reach neither the lambdas inside variant functions nor Eigen's AVX inline asm.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define GENREKIT_SIMD_VARIANTS 1
// AVX2 with FMA (Haswell and later; every CPU with AVX2 has FMA) and AVX-512 F/DQ/VL/BW
// (Skylake-X, Ice Lake, Zen 4). The DSP is compiled with -ffp-contract=off, so FMA enters its
// kernels only where they ask for it by name.
#define GENREKIT_FEATURES_AVX2 "avx2,fma"
#define GENREKIT_FEATURES_AVX512 "avx2,fma,avx512f,avx512dq,avx512vl,avx512bw"
#define GENREKIT_TARGET_AVX2 [[gnu::target(GENREKIT_FEATURES_AVX2)]]
#define GENREKIT_TARGET_AVX512 [[gnu::target(GENREKIT_FEATURES_AVX512)]]
// The same sets for a whole translation unit of one variant (intrinsics files, Eigen recompiled):
//   GENREKIT_TARGET_PRAGMA(GENREKIT_FEATURES_AVX2)  ==  #pragma GCC target("avx2,fma")
#define GENREKIT_PRAGMA_(text) _Pragma(#text)
#define GENREKIT_TARGET_PRAGMA(features) GENREKIT_PRAGMA_(GCC target(features))
#else
#define GENREKIT_SIMD_VARIANTS 0
#endif

namespace genrekit::simd {

enum class Isa : int { baseline = 0, avx2 = 1, avx512 = 2 };

// The widest instruction set this CPU runs (asked once).
Isa detected();
// The one the kernels use: detected(), capped by GENREKIT_ISA and set_cap(). Throws
// genrekit::Error when GENREKIT_ISA holds anything but baseline, avx2 or avx512.
Isa isa();
// Lowers (or restores) the cap for this process; tests run each variant through it.
void set_cap(Isa cap);
// "baseline", "avx2", "avx512"
const char* name(Isa isa);
// The inverse of name(); throws genrekit::Error naming `what` for anything else.
Isa parse(const std::string& text, const std::string& what);

// The variant for isa(): fn_avx512 on AVX-512, fn_avx2 on AVX2, fn_baseline otherwise.
template <class Fn>
Fn pick(Fn fn_baseline, [[maybe_unused]] Fn fn_avx2, [[maybe_unused]] Fn fn_avx512) {
#if GENREKIT_SIMD_VARIANTS
    switch (isa()) {
        case Isa::avx512: return fn_avx512;
        case Isa::avx2: return fn_avx2;
        case Isa::baseline: break;
    }
#endif
    return fn_baseline;
}

// Sets the cap for the lifetime of the object and restores the previous one after (tests).
class ScopedCap {
public:
    explicit ScopedCap(Isa cap);
    ~ScopedCap();
    ScopedCap(const ScopedCap&) = delete;
    ScopedCap& operator=(const ScopedCap&) = delete;

private:
    int previous_;
};

}  // namespace genrekit::simd
