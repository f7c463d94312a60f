// Shared by the libFuzzer harnesses: bytes to a temporary file, and the rule every harness
// checks: bad input may only fail with genrekit::Error (exit 1 or 3 in the tool); any other
// exception would reach `genrekit: internal error` (exit 70), so it aborts the run as a crash.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <string>

#include "genrekit/error.hpp"

namespace genrekit::fuzz {

// A per-process path on tmpfs when there is one; `ext` lets loaders that look at the name see one.
inline std::string temp_path(const std::string& ext) {
    const char* dir = ::access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    return std::string(dir) + "/genrekit-fuzz-" + std::to_string(::getpid()) + ext;
}

inline void write_bytes(const std::string& path, const std::uint8_t* data, std::size_t size) {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
    if (!out) std::abort();
}

// Runs `f`; genrekit::Error is an accepted answer to bad input, anything else is a bug.
template <typename F>
void expect_only_errors(F&& f) {
    try {
        f();
    } catch (const genrekit::Error&) {
    } catch (const std::exception& e) {
        std::fprintf(stderr, "non-genrekit exception (would be exit 70): %s\n", e.what());
        std::abort();
    }
}

}  // namespace genrekit::fuzz
