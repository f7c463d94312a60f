#include "genrekit/error.hpp"

#include <sstream>

namespace genrekit {

void require_param(bool ok, const std::string& name, double value, const std::string& allowed) {
    if (ok) return;
    std::ostringstream msg;
    msg << name << " = " << value << " is out of range; allowed: " << allowed;
    throw Error(msg.str());
}

std::optional<std::uint64_t> product_within(std::initializer_list<std::uint64_t> dims, std::uint64_t limit) {
    std::uint64_t n = 1;
    for (const std::uint64_t d : dims) {
        if (d != 0 && n > limit / d) return std::nullopt;
        n *= d;
    }
    // A zero dimension makes the product 0 whatever came before it.
    return n <= limit ? std::optional<std::uint64_t>(n) : std::nullopt;
}

}  // namespace genrekit
