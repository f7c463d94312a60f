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

// While one lives, `path` is deleted if the process is stopped by SIGINT, SIGTERM or SIGHUP
// (then the signal takes its default course), so an interrupted run leaves no temporary file
// behind. Signals the program ignores or handles itself are left alone. AtomicFile uses it;
// so does any writer of a temporary file of its own.
class RemoveOnSignal {
public:
    explicit RemoveOnSignal(std::string path);
    ~RemoveOnSignal();
    RemoveOnSignal(const RemoveOnSignal&) = delete;
    RemoveOnSignal& operator=(const RemoveOnSignal&) = delete;

private:
    std::string path_;
    int slot_ = -1;
};

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
    RemoveOnSignal guard_;
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
