// The one error type of the genrekit library.
//
//   try { auto a = genrekit::load_audio("x.wav"); }
//   catch (const genrekit::Error& e) { std::cerr << e.what() << "\n"; }
//
// Messages are one line and name the file or parameter at fault; tools print
// them as they are and choose the exit code.
#pragma once

#include <stdexcept>
#include <string>

namespace genrekit {

class Error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

// Throws Error("<name> = <value> is out of range; allowed: <allowed>") unless ok.
void require_param(bool ok, const std::string& name, double value, const std::string& allowed);

}  // namespace genrekit
