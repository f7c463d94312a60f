// Small synthetic feature tables for the NN/training tests (shared by several test files).
#pragma once

#include <sstream>
#include <string>

#include "genrekit/csv.hpp"
#include "genrekit/nn/rng.hpp"

namespace gktest {

// `classes` Gaussian blobs in 4 dimensions, `per_class` rows each, named like GTZAN
// ("c0.00000.wav"), or as 3-second segments ("c0.00000.<i>.wav", `segments` per track).
inline std::string blobs_csv(int classes = 3, int per_class = 20, std::uint64_t seed = 11, int segments = 0) {
    genrekit::nn::Rng rng(seed);
    std::ostringstream s;
    s << "filename,length,f0,f1,f2,f3,label\n";
    for (int c = 0; c < classes; ++c)
        for (int i = 0; i < per_class; ++i) {
            const int reps = segments > 0 ? segments : 1;
            for (int g = 0; g < reps; ++g) {
                char name[64];
                if (segments > 0) std::snprintf(name, sizeof name, "c%d.%05d.%d.wav", c, i, g);
                else std::snprintf(name, sizeof name, "c%d.%05d.wav", c, i);
                s << name << ",661794";
                for (int f = 0; f < 4; ++f) s << ',' << genrekit::format_number((f == c % 4 ? 2.0 : 0.0) + rng.normal() + 10.0 * f);
                s << ",class" << c << "\n";
            }
        }
    return s.str();
}

}  // namespace gktest
