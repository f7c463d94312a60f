// Files written by genrekit appear whole or not at all: data goes to a
// temporary file beside the target, which is renamed into place on commit().
//
//   genrekit::AtomicFile out("model.safetensors");
//   out.stream() << ...;
//   out.commit();            // without commit() the temporary file is removed
#pragma once

#include <fstream>
#include <string>

namespace genrekit {

class AtomicFile {
public:
    explicit AtomicFile(std::string path, bool binary = false);
    ~AtomicFile();
    AtomicFile(const AtomicFile&) = delete;
    AtomicFile& operator=(const AtomicFile&) = delete;

    std::ofstream& stream() { return out_; }
    // Flushes, checks for write errors, renames. Throws genrekit::Error naming the path.
    void commit();

private:
    std::string path_;
    std::string tmp_path_;
    std::ofstream out_;
    bool committed_ = false;
};

// Convenience: the whole content in one call.
void write_file_atomic(const std::string& path, const std::string& content, bool binary = false);

// Throws genrekit::Error "<path>: cannot write: ..." when path is a folder or its folder is
// missing or not writable: a check before long work whose result goes there.
void check_writable(const std::string& path);

// Reads a whole file; throws genrekit::Error naming the path when it cannot.
std::string read_file(const std::string& path, bool binary = false);

}  // namespace genrekit
