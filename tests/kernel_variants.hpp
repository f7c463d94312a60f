// Runs a check once per kernel variant: simd::isa() capped to baseline, avx2 and avx512 in turn
// through simd::ScopedCap, so that each variant of the DSP kernels (src/simd) is exercised.
#pragma once

#include <gtest/gtest.h>

#include <iostream>
#include <string>

#include "simd/isa.hpp"

namespace gktest {

// Calls fn(isa) under ScopedCap(isa), inside a SCOPED_TRACE naming the variant, for each variant
// this CPU runs; the others are skipped with a message. Returns how many ran.
template <class Fn>
int for_each_isa(Fn&& fn) {
    using genrekit::simd::Isa;
    int ran = 0;
    for (const Isa isa : {Isa::baseline, Isa::avx2, Isa::avx512}) {
        if (static_cast<int>(isa) > static_cast<int>(genrekit::simd::detected())) {
            std::cout << "[ SKIPPED  ] the " << genrekit::simd::name(isa) << " kernel variant: this CPU lacks it\n";
            continue;
        }
        std::cout << "[ variant  ] " << genrekit::simd::name(isa) << "\n";
        genrekit::simd::ScopedCap cap(isa);
        SCOPED_TRACE(std::string("kernel variant ") + genrekit::simd::name(isa));
        EXPECT_EQ(genrekit::simd::isa(), isa);
        fn(isa);
        ++ran;
    }
    return ran;
}

}  // namespace gktest
