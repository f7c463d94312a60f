#include "genrekit/atomic_file.hpp"

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <sstream>
#include <unistd.h>

#include "genrekit/error.hpp"

namespace genrekit {

AtomicFile::AtomicFile(std::string path, bool binary) : path_(std::move(path)) {
    // The temporary sits in the target's directory so rename() stays atomic. Its name is unique
    // per host, process and call: threads, and processes on other machines sharing the folder
    // (shards filling one spectrogram cache), may write the same target at once.
    static std::atomic<unsigned long> calls{0};
    char host[256] = "host";
    ::gethostname(host, sizeof host - 1);
    tmp_path_ = path_ + ".tmp." + host + "." + std::to_string(::getpid()) + "." + std::to_string(calls++);
    out_.open(tmp_path_, binary ? std::ios::binary | std::ios::trunc : std::ios::trunc);
    if (!out_) throw Error(path_ + ": cannot write (" + std::strerror(errno) + ")");
}

AtomicFile::~AtomicFile() {
    if (!committed_) {
        out_.close();
        std::remove(tmp_path_.c_str());
    }
}

void AtomicFile::commit() {
    out_.flush();
    const bool ok = static_cast<bool>(out_);
    out_.close();
    if (!ok || out_.fail()) {
        std::remove(tmp_path_.c_str());
        committed_ = true;
        throw Error(path_ + ": write failed (disk full?)");
    }
    std::error_code ec;
    std::filesystem::rename(tmp_path_, path_, ec);
    committed_ = true;
    if (ec) {
        std::remove(tmp_path_.c_str());
        throw Error(path_ + ": cannot rename temporary file into place (" + ec.message() + ")");
    }
}

void write_file_atomic(const std::string& path, const std::string& content, bool binary) {
    AtomicFile f(path, binary);
    f.stream().write(content.data(), static_cast<std::streamsize>(content.size()));
    f.commit();
}

void check_writable(const std::string& path) {
    namespace fs = std::filesystem;
    std::error_code ec;
    if (fs::is_directory(path, ec)) throw Error(path + ": cannot write: it is a folder");
    const fs::path dir = fs::path(path).parent_path().empty() ? fs::path(".") : fs::path(path).parent_path();
    if (!fs::is_directory(dir, ec)) throw Error(path + ": cannot write: folder " + dir.string() + " does not exist");
    if (access(dir.c_str(), W_OK) != 0) throw Error(path + ": cannot write: folder " + dir.string() + " is not writable (" + std::strerror(errno) + ")");
}

std::string read_file(const std::string& path, bool binary) {
    std::ifstream in(path, binary ? std::ios::binary : std::ios::in);
    if (!in) throw Error(path + ": cannot open (" + std::strerror(errno) + ")");
    std::ostringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

}  // namespace genrekit
