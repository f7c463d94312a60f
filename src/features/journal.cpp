// The resumable journal of a featurize run (see FeatureJournal in genrekit/shard.hpp).
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <fstream>

#include "features/shard_format.hpp"
#include "genrekit/atomic_file.hpp"
#include "genrekit/error.hpp"
#include "genrekit/sha256.hpp"
#include "genrekit/shard.hpp"

namespace genrekit {

namespace {

void write_all(int fd, const std::string& bytes, const std::string& path) {
    std::size_t done = 0;
    while (done < bytes.size()) {
        const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) throw Error(path + ": write failed (" + std::strerror(errno) + ")");
        done += static_cast<std::size_t>(n);
    }
}

// The first line where two identity texts differ, for the message.
std::string first_line_difference(const std::string& stored, const std::string& now) {
    std::size_t a = 0, b = 0;
    while (a < stored.size() && b < now.size()) {
        const auto ea = stored.find('\n', a), eb = now.find('\n', b);
        const std::string la = stored.substr(a, ea - a), lb = now.substr(b, eb - b);
        if (la != lb) return "it has '" + la + "', this run '" + lb + "'";
        a = ea + 1;
        b = eb + 1;
    }
    return "they differ";
}

}  // namespace

FeatureJournal::FeatureJournal(std::string out, RunIdentity id, bool resume)
    : out_(std::move(out)), path_(path_for(out_)), id_(std::move(id)) {
    fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0666);
    if (fd_ < 0) throw Error(path_ + ": cannot write (" + std::strerror(errno) + ")");
    // A file system without locks (ENOSYS, ENOLCK: some Lustre and NFS mounts) goes unlocked.
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK) {
        ::close(fd_);
        fd_ = -1;
        throw Error(out_ + ": another genrekit featurize is writing it (" + path_ + " is locked)");
    }
    struct stat st {};
    ::fstat(fd_, &st);
    const std::string head = std::string(detail::kJournalMagic) + "\n" + id_.text();
    std::uint64_t valid_end = 0;
    if (st.st_size > 0 && static_cast<std::size_t>(st.st_size) < head.size()) {
        // Killed while writing its first lines: nothing was recorded yet, start afresh.
        std::string start(static_cast<std::size_t>(st.st_size), '\0');
        if (::pread(fd_, start.data(), start.size(), 0) == st.st_size && head.compare(0, start.size(), start) == 0) st.st_size = 0;
    }
    if (st.st_size > 0 && !resume) {
        ::close(fd_);
        fd_ = -1;
        throw Error(path_ + ": left by an interrupted run: add --resume to continue it, or delete it to start over");
    }
    if (st.st_size > 0) {
        std::ifstream in(path_, std::ios::binary);
        try {
            const auto stored = detail::read_identity(in, path_, detail::kJournalMagic);
            if (stored.text != id_.text())
                throw Error(path_ + ": an interrupted run with other inputs or settings (" + first_line_difference(stored.text, id_.text()) +
                            "): delete it to start over");
        } catch (const Error&) {
            ::close(fd_);
            fd_ = -1;
            throw;
        }
        valid_end = static_cast<std::uint64_t>(in.tellg());
        // Complete records only: a kill may have torn the last one, which is dropped (its
        // file is computed again) together with anything after it.
        std::string line, block;
        while (std::getline(in, line) && !in.eof()) {
            FileEntry e;
            if (!detail::parse_entry_line(line, false, e)) break;
            e.offset = static_cast<std::uint64_t>(in.tellg());
            block.resize(e.length);
            if (!in.read(block.data(), static_cast<std::streamsize>(block.size())) || sha256_hex(block) != e.sha256) break;
            entries_[e.input] = e;
            valid_end = e.offset + e.length;
        }
        if (::ftruncate(fd_, static_cast<off_t>(valid_end)) != 0) throw Error(path_ + ": cannot truncate (" + std::strerror(errno) + ")");
    } else {
        if (::ftruncate(fd_, 0) != 0) throw Error(path_ + ": cannot truncate (" + std::strerror(errno) + ")");
        write_all(fd_, head, path_);
        valid_end = head.size();
    }
    size_ = valid_end;
    ::lseek(fd_, static_cast<off_t>(size_), SEEK_SET);
}

FeatureJournal::~FeatureJournal() {
    if (fd_ >= 0) ::close(fd_);
}

bool FeatureJournal::done(std::size_t input) const {
    const auto it = entries_.find(input);
    return it != entries_.end() && it->second.status != FileStatus::Failed;
}

std::size_t FeatureJournal::done_count() const {
    std::size_t n = 0;
    for (const auto& [input, e] : entries_) n += e.status != FileStatus::Failed;
    return n;
}

void FeatureJournal::record(std::size_t input, FileStatus status, const std::string& rel, const std::string& rows_text, std::size_t rows) {
    FileEntry e;
    e.input = input;
    e.status = status;
    e.rows = rows;
    e.length = rows_text.size();
    e.sha256 = sha256_hex(rows_text);
    e.rel = rel;
    const std::string line = detail::entry_line(e, false);
    e.offset = size_ + line.size();
    // One write per record: it reaches the kernel whole, so a killed process leaves it intact.
    write_all(fd_, line + rows_text, path_);
    size_ = e.offset + e.length;
    entries_[input] = std::move(e);
}

FeatureJournal::Summary FeatureJournal::summary() const {
    Summary s;
    for (const auto& [input, e] : entries_) {
        ++s.files;
        s.rows += e.rows;
        s.failed += e.status == FileStatus::Failed;
    }
    return s;
}

void FeatureJournal::commit(bool part_index) {
    AtomicFile file(out_, true);
    file.stream() << id_.header;
    std::uint64_t pos = id_.header.size();
    std::ifstream in(path_, std::ios::binary);
    std::string block, index = std::string(detail::kPartMagic) + "\n" + id_.text();
    for (const auto& [input, e] : entries_) {
        FileEntry placed = e;
        placed.offset = pos;
        if (e.status == FileStatus::Ok) {
            block.resize(e.length);
            in.seekg(static_cast<std::streamoff>(e.offset));
            if (!in.read(block.data(), static_cast<std::streamsize>(block.size()))) throw Error(path_ + ": cannot read it back");
            file.stream() << block;
            pos += e.length;
        } else {
            placed.length = 0;
        }
        index += detail::entry_line(placed, true);
    }
    file.commit();
    if (part_index) write_file_atomic(part_index_path(out_), index);
    discard();
}

void FeatureJournal::discard() {
    std::remove(path_.c_str());
    if (fd_ >= 0) ::close(fd_);  // after the removal: the lock holds until the journal is gone
    fd_ = -1;
}

}  // namespace genrekit
