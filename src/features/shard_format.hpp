// The text lines shared by featurize journals (<out>.partial) and part indexes (<part>.shard).
#pragma once

#include <istream>
#include <string>

#include "genrekit/shard.hpp"

namespace genrekit::detail {

constexpr const char* kJournalMagic = "genrekit-journal 1";
constexpr const char* kPartMagic = "genrekit-part 1";

// "file <input> <status> <rows> [<offset>] <length> <sha256> <rel as a JSON string>\n". A journal
// leaves the offset out (the rows follow their line); a part index gives it.
std::string entry_line(const FileEntry& e, bool with_offset);
// False for a line that is not a complete, well-formed entry.
bool parse_entry_line(const std::string& line, bool with_offset, FileEntry& e);

// The identity as read back: its raw text (RunIdentity::text()) and the fields merge compares.
struct StoredIdentity {
    std::string text;
    Shard shard;
    std::string inputs, settings, header_sha256;  // "count sha", the settings, the header's digest
};
// Reads the magic line and the identity lines; throws Error "<path>: ..." when they are not there.
StoredIdentity read_identity(std::istream& in, const std::string& path, const char* magic);

}  // namespace genrekit::detail
