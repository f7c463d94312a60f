// Shared bits of the benchmarks: finding a real 30 s GTZAN track.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <string>

namespace gkbench {

// GENREKIT_SHARED, else ../shared beside the source tree; empty when absent.
inline std::string shared_dir() {
    if (const char* env = std::getenv("GENREKIT_SHARED"); env && *env) return env;
    const auto p = std::filesystem::path(GENREKIT_BENCH_SOURCE_DIR) / ".." / "shared";
    return std::filesystem::is_directory(p) ? p.string() : std::string();
}

inline std::string blues_track() {
    const std::string s = shared_dir();
    return s.empty() ? std::string() : s + "/data/gtzan-dev/genres_original/blues/blues.00000.wav";
}

}  // namespace gkbench
