// A hint for busy-wait loops (the thread pool's spin before it sleeps): x86's PAUSE, which lets a
// sibling hyper-thread run and saves power while spinning; nothing on other CPUs.
#pragma once

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#endif

namespace genrekit::simd {

inline void spin_pause() {
#if defined(__x86_64__) || defined(__i386__)
    _mm_pause();  // SSE2: every x86-64 CPU has it
#endif
}

}  // namespace genrekit::simd
