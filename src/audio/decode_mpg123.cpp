// MP3 through libmpg123 directly, with the flags libsndfile uses (so the samples are the ones
// libsndfile gave) plus MPG123_QUIET: libmpg123 would otherwise print its own notes and
// errors on stderr. Problems reach the user as one line from us instead.
#include <mpg123.h>

#include <memory>

#include "decoder.hpp"
#include "genrekit/error.hpp"

namespace genrekit::detail {
namespace {

class Mpg123Decoder final : public Decoder {
public:
    explicit Mpg123Decoder(const std::string& path) : path_(path) {
        mpg123_init();  // a no-op since libmpg123 1.27, required before
        int err = MPG123_OK;
        h_.reset(mpg123_new(nullptr, &err));
        if (!h_) throw Error(path + ": cannot start the MP3 decoder (" + mpg123_plain_strerror(err) + ")");
        mpg123_param(h_.get(), MPG123_ADD_FLAGS, MPG123_QUIET, 0);
        // ref: libsndfile 1.2.0 src/mpeg_decode.c mpeg_decoder_init
        mpg123_param(h_.get(), MPG123_REMOVE_FLAGS, MPG123_AUTO_RESAMPLE, 0);
        mpg123_param(h_.get(), MPG123_ADD_FLAGS, MPG123_FORCE_FLOAT | MPG123_GAPLESS, 0);
#if MPG123_API_VERSION >= 45
        mpg123_param(h_.get(), MPG123_ADD_FLAGS, MPG123_NO_FRANKENSTEIN, 0);
#endif
        if (mpg123_open(h_.get(), path.c_str()) != MPG123_OK) fail("cannot open");
        long r = 0;
        int ch = 0, enc = 0;
        if (mpg123_getformat(h_.get(), &r, &ch, &enc) != MPG123_OK)
            throw Error(path + ": " + why_not_audio(path, "no MPEG audio frames found"));
        check_format(path, r, ch);
        mpg123_format_none(h_.get());
        if (mpg123_format(h_.get(), r, ch, MPG123_ENC_FLOAT_32) != MPG123_OK) fail("unsupported format");
        rate = static_cast<int>(r);
        channels = ch;
        seekable = true;
        // Only a length the stream states (a Xing/Info header) counts as declared; otherwise
        // libmpg123 estimates it from the file size.
        long accurate = 0;
        if (mpg123_getstate(h_.get(), MPG123_ACCURATE, &accurate, nullptr) == MPG123_OK && accurate) {
            const off_t n = mpg123_length(h_.get());
            if (n > 0) declared_frames = n;
        }
    }
    std::size_t read(float* out, std::size_t frames) override {
        const std::size_t bytes = frames * static_cast<std::size_t>(channels) * sizeof(float);
        std::size_t done = 0;
        auto* dst = reinterpret_cast<unsigned char*>(out);
        while (done < bytes) {
            std::size_t got = 0;
            const int rc = mpg123_read(h_.get(), dst + done, bytes - done, &got);
            done += got;
            if (rc == MPG123_DONE) break;
            if (rc != MPG123_OK && rc != MPG123_NEW_FORMAT) fail("decode error");
            if (got == 0 && rc == MPG123_OK) break;
        }
        return done / (static_cast<std::size_t>(channels) * sizeof(float));
    }
    bool seek(std::int64_t frame) override {
        return mpg123_seek(h_.get(), static_cast<off_t>(frame), SEEK_SET) >= 0 && (declared_frames < 0 || frame < declared_frames);
    }

private:
    [[noreturn]] void fail(const char* what) {
        throw Error(path_ + ": MP3 " + what + " (" + mpg123_strerror(h_.get()) + "): the file is corrupt or truncated");
    }
    std::string path_;
    // Owned from the start: a constructor that throws runs no destructor, but members are freed.
    struct Closer {
        void operator()(mpg123_handle* h) const {
            mpg123_close(h);
            mpg123_delete(h);
        }
    };
    std::unique_ptr<mpg123_handle, Closer> h_;
};

}  // namespace

std::unique_ptr<Decoder> open_mpg123(const std::string& path) { return std::make_unique<Mpg123Decoder>(path); }

}  // namespace genrekit::detail
