#include "simd/isa.hpp"

#include <atomic>
#include <cstdlib>

#include "genrekit/error.hpp"

namespace genrekit::simd {
namespace {

Isa ask_cpu() {
#if GENREKIT_SIMD_VARIANTS
    __builtin_cpu_init();
    const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    const bool avx512 = avx2 && __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
                        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw");
    return avx512 ? Isa::avx512 : avx2 ? Isa::avx2 : Isa::baseline;
#else
    return Isa::baseline;
#endif
}

// -1: not read yet; otherwise the environment's cap (Isa::avx512 when GENREKIT_ISA is unset).
std::atomic<int> g_cap{-1};

int env_cap() {
    const char* e = std::getenv("GENREKIT_ISA");
    if (!e || !*e) return static_cast<int>(Isa::avx512);
    return static_cast<int>(parse(e, "GENREKIT_ISA"));
}

}  // namespace

Isa detected() {
    static const Isa d = ask_cpu();
    return d;
}

Isa isa() {
    int cap = g_cap.load(std::memory_order_relaxed);
    if (cap < 0) {
        cap = env_cap();
        g_cap.store(cap, std::memory_order_relaxed);
    }
    const int d = static_cast<int>(detected());
    return static_cast<Isa>(cap < d ? cap : d);
}

void set_cap(Isa cap) { g_cap.store(static_cast<int>(cap), std::memory_order_relaxed); }

const char* name(Isa i) {
    switch (i) {
        case Isa::avx512: return "avx512";
        case Isa::avx2: return "avx2";
        case Isa::baseline: break;
    }
    return "baseline";
}

Isa parse(const std::string& text, const std::string& what) {
    for (Isa i : {Isa::baseline, Isa::avx2, Isa::avx512})
        if (text == name(i)) return i;
    throw Error(what + " = '" + text + "' is not an instruction set; allowed: baseline, avx2, avx512");
}

ScopedCap::ScopedCap(Isa cap) {
    isa();  // reads the environment's cap first, so that it is what the destructor restores
    previous_ = g_cap.load(std::memory_order_relaxed);
    set_cap(cap);
}
ScopedCap::~ScopedCap() { g_cap.store(previous_, std::memory_order_relaxed); }

}  // namespace genrekit::simd
