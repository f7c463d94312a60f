// The one error type of the genrekit library.
//
//   try { auto a = genrekit::load_audio("x.wav"); }
//   catch (const genrekit::Error& e) { std::cerr << e.what() << "\n"; }
//
// Messages are one line and name the file or parameter at fault; tools print
// them as they are and choose the exit code.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <stdexcept>
#include <string>

namespace genrekit {

class Error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Throws Error("<name> = <value> is out of range; allowed: <allowed>") unless ok.
void require_param(bool ok, const std::string& name, double value, const std::string& allowed);

// The product of sizes read from a file header, when it is at most `limit`; nullopt when it is
// larger (or would overflow on the way). Readers check this before allocating anything.
std::optional<std::uint64_t> product_within(std::initializer_list<std::uint64_t> dims, std::uint64_t limit);

}  // namespace genrekit
