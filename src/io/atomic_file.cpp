#include "genrekit/atomic_file.hpp"

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <mutex>
#include <sstream>
#include <unistd.h>

#include "genrekit/error.hpp"

namespace genrekit {

namespace {
// The paths to delete on a signal: fixed slots, so the handler only reads atomics and calls
// unlink(), both async-signal-safe. More live temporaries than slots just go unguarded.
constexpr int kSlots = 256;
std::atomic<const char*> g_temporaries[kSlots];

extern "C" void remove_temporaries(int sig) {
    for (auto& slot : g_temporaries)
        if (const char* p = slot.load()) ::unlink(p);
    ::raise(sig);  // SA_RESETHAND restored the default action: the process ends as it would have
}

void install_handlers() {
    for (const int sig : {SIGINT, SIGTERM, SIGHUP}) {
        struct sigaction old {};
        if (::sigaction(sig, nullptr, &old) != 0 || (old.sa_flags & SA_SIGINFO) || old.sa_handler != SIG_DFL) continue;
        struct sigaction sa {};
        sa.sa_handler = remove_temporaries;
        sigemptyset(&sa.sa_mask);
        sa.sa_flags = SA_RESETHAND;
        ::sigaction(sig, &sa, nullptr);
    }
}
}  // namespace

RemoveOnSignal::RemoveOnSignal(std::string path) : path_(std::move(path)) {
    static std::once_flag once;
    std::call_once(once, install_handlers);
    for (int i = 0; i < kSlots && slot_ < 0; ++i) {
        const char* expected = nullptr;
        if (g_temporaries[i].compare_exchange_strong(expected, path_.c_str())) slot_ = i;
    }
}

RemoveOnSignal::~RemoveOnSignal() {
    if (slot_ >= 0) g_temporaries[slot_].store(nullptr);
}

// The temporary sits in the target's directory so rename() stays atomic. Its name is unique per
// host, process and call: threads, and processes on other machines sharing the folder (shards
// filling one spectrogram cache), may write the same target at once.
static std::string unique_temporary(const std::string& path) {
    static std::atomic<unsigned long> calls{0};
    char host[256] = "host";
    ::gethostname(host, sizeof host - 1);
    return path + ".tmp." + host + "." + std::to_string(::getpid()) + "." + std::to_string(calls++);
}

AtomicFile::AtomicFile(std::string path, bool binary)
    : path_(std::move(path)), tmp_path_(unique_temporary(path_)), guard_(tmp_path_) {
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
