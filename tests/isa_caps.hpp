// The instruction sets a kernel test runs each variant under (with simd::ScopedCap).
#pragma once

#include <gtest/gtest.h>

#include <iostream>
#include <vector>

#include "simd/isa.hpp"

namespace gktest {

// baseline, avx2, avx512: those this CPU runs; the others are named as skipped.
inline std::vector<genrekit::simd::Isa> runnable_isas() {
    using genrekit::simd::Isa;
    std::vector<Isa> out;
    for (Isa isa : {Isa::baseline, Isa::avx2, Isa::avx512}) {
        if (static_cast<int>(isa) > static_cast<int>(genrekit::simd::detected())) {
            std::cout << "skipping the " << genrekit::simd::name(isa) << " variant: this CPU does not run it\n";
            continue;
        }
        out.push_back(isa);
    }
    return out;
}

// Calls fn(isa) with the kernels capped at each runnable instruction set in turn.
template <class Fn>
void for_each_isa(Fn fn) {
    for (const genrekit::simd::Isa isa : runnable_isas()) {
        const genrekit::simd::ScopedCap cap(isa);
        ASSERT_EQ(genrekit::simd::isa(), isa) << "the cap did not take";
        SCOPED_TRACE(genrekit::simd::name(isa));
        fn(isa);
    }
}

}  // namespace gktest
