#include "genrekit/error.hpp"

#include <sstream>

namespace genrekit {

void require_param(bool ok, const std::string& name, double value, const std::string& allowed) {
    if (ok) return;
    std::ostringstream msg;
    msg << name << " = " << value << " is out of range; allowed: " << allowed;
    throw Error(msg.str());
}

}  // namespace genrekit
