// JSON text as genrekit writes it. File names and labels are bytes, not always UTF-8 (a Latin-1
// folder name, a CSV from another system); nlohmann's dump() throws on invalid UTF-8, which
// would turn bad input into an internal error. Every JSON genrekit prints or writes goes
// through dump_json, which writes such bytes as U+FFFD, so the output is always valid JSON.
//
//   std::cout << genrekit::dump_json(report) << "\n";
//   if (!genrekit::valid_utf8(label)) throw genrekit::Error(...);   // where bytes must survive
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <string_view>

namespace genrekit {

template <typename Json>
std::string dump_json(const Json& j, int indent = -1) {
    return j.dump(indent, ' ', false, Json::error_handler_t::replace);
}

// True when s is well-formed UTF-8 (what a JSON string can hold unchanged).
bool valid_utf8(std::string_view s);

}  // namespace genrekit
