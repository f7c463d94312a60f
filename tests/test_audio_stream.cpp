// The chunked audio reader: streaming resampling and segmenting give exactly what the whole-
// signal path gives; lying headers, FIFOs, corrupt or truncated FLAC/MP3, MP3 without frames
// and absurd sample values get one clear line; standard input reads WAV streams and raw PCM;
// memory stays flat in the input's length.
#include <gtest/gtest.h>
#include <sndfile.h>
#include <soxr.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <future>
#include <random>

#include "genrekit/audio.hpp"
#include "genrekit/error.hpp"
#include "genrekit/featurize.hpp"
#include "support.hpp"

namespace fs = std::filesystem;

namespace {

fs::path temp_dir() {
    const fs::path d = fs::temp_directory_path() / ("genrekit_test_stream_" + std::to_string(::getpid()));
    fs::create_directories(d);
    return d;
}

std::vector<float> noise(std::size_t n, unsigned seed, float amp = 0.3f) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> u(-amp, amp);
    std::vector<float> y(n);
    for (float& v : y) v = u(rng);
    return y;
}

// A WAV header written by hand, so it can say what a test needs (a lie, a stream's sizes).
std::string wav_header(int format_tag, int channels, std::uint32_t rate, int bits, std::uint32_t data_bytes, std::uint32_t riff_bytes) {
    auto u16 = [](unsigned v) { return std::string{static_cast<char>(v & 0xFF), static_cast<char>(v >> 8 & 0xFF)}; };
    auto u32 = [&](std::uint32_t v) { return u16(v & 0xFFFF) + u16(v >> 16); };
    const unsigned align = static_cast<unsigned>(channels * bits / 8);
    return "RIFF" + u32(riff_bytes) + "WAVEfmt " + u32(16) + u16(static_cast<unsigned>(format_tag)) + u16(static_cast<unsigned>(channels)) +
           u32(rate) + u32(rate * align) + u16(align) + u16(static_cast<unsigned>(bits)) + "data" + u32(data_bytes);
}

void write_bytes(const fs::path& p, const std::string& bytes) {
    std::ofstream(p, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string read_bytes(const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), {}};
}

std::vector<float> oneshot(const std::vector<float>& y, int from, int to) {
    std::vector<float> out(static_cast<std::size_t>(std::ceil(static_cast<double>(y.size()) * to / from)));
    const soxr_io_spec_t io = soxr_io_spec(SOXR_FLOAT32_I, SOXR_FLOAT32_I);
    const soxr_quality_spec_t q = soxr_quality_spec(SOXR_VHQ, 0);
    std::size_t done = 0;
    EXPECT_EQ(soxr_oneshot(from, to, 1, y.data(), y.size(), nullptr, out.data(), out.size(), &done, &io, &q, nullptr), nullptr);
    return out;
}

TEST(StreamResampler, ChunkedOutputIsBitIdenticalToSoxrOneshot) {
    for (auto [from, to] : {std::pair{44100, 22050}, std::pair{8000, 22050}, std::pair{48000, 22050}}) {
        const auto y = noise(static_cast<std::size_t>(from) * 3 + 17, 7);
        const auto want = oneshot(y, from, to);
        std::mt19937 rng(1);
        std::vector<float> got;
        genrekit::StreamResampler r(from, to);
        for (std::size_t at = 0; at < y.size();) {
            const std::size_t n = std::min<std::size_t>(y.size() - at, 1 + rng() % 9000);
            r.push(y.data() + at, n, got);
            at += n;
        }
        r.finish(got);
        ASSERT_EQ(got.size(), want.size()) << from << " -> " << to;
        std::size_t differ = 0;
        for (std::size_t i = 0; i < got.size(); ++i) differ += std::memcmp(&got[i], &want[i], sizeof(float)) != 0;
        std::cout << "[" << from << " -> " << to << ", bitwise] " << differ << " of " << got.size() << " samples differ\n";
        EXPECT_EQ(differ, 0u);
        EXPECT_EQ(genrekit::resample(y, from, to), want);
    }
}

// Segments streamed from a 44.1 kHz stereo file (downmix and resampling in blocks) are the
// segments of the whole signal loaded at once, sample for sample.
TEST(ForEachSegment, StreamsTheSameSegmentsAsTheWholeSignal) {
    const auto dir = temp_dir();
    const std::string path = (dir / "long44.wav").string();
    genrekit::save_audio(path, noise(44100 * 2 * 20, 3), 44100, 2);
    const genrekit::Audio whole = genrekit::load_audio(path);
    genrekit::SegmentSpec sliding;
    sliding.mode = genrekit::SegmentMode::Sliding;
    sliding.seconds = 3.0;
    sliding.hop = 1.5;
    genrekit::SegmentSpec gapped = sliding;
    gapped.hop = 4.0;  // a hop longer than the segment skips samples
    genrekit::SegmentSpec kaggle;
    kaggle.mode = genrekit::SegmentMode::Kaggle3s;
    kaggle.max_segments = 0;
    for (const auto& spec : {sliding, gapped, kaggle}) {
        const auto plan = genrekit::plan_segments(whole.samples.size(), whole.sample_rate, spec);
        genrekit::AudioReader reader(path);
        std::size_t k = 0;
        const auto st = genrekit::for_each_segment(reader, spec, [&](const genrekit::Segment& s, std::span<const float> y) {
            ASSERT_LT(k, plan.size());
            EXPECT_EQ(s.start, plan[k].start);
            EXPECT_EQ(s.length, plan[k].length);
            EXPECT_EQ(std::memcmp(y.data(), whole.samples.data() + s.start, y.size() * sizeof(float)), 0) << spec.describe() << " segment " << k;
            ++k;
        });
        EXPECT_EQ(k, plan.size()) << spec.describe();
        EXPECT_EQ(st.samples, 22050u * 20);
    }
    fs::remove_all(dir);
}

TEST(AudioReader, MpegDecodesAsLibsndfileDidWithoutItsChatter) {
    const auto dir = temp_dir();
    const std::string path = (dir / "n.mp3").string();
    genrekit::save_audio(path, noise(22050 * 4, 5), 22050);
    SF_INFO info{};
    SNDFILE* f = sf_open(path.c_str(), SFM_READ, &info);
    ASSERT_NE(f, nullptr);
    sf_command(f, SFC_SET_NORM_FLOAT, nullptr, SF_TRUE);
    std::vector<float> want(static_cast<std::size_t>(info.frames));
    want.resize(static_cast<std::size_t>(sf_readf_float(f, want.data(), info.frames)));
    sf_close(f);
    genrekit::LoadParams native;
    native.sample_rate = 0;
    EXPECT_EQ(genrekit::load_audio(path, native).samples, want);

    // No MPEG frames: one line from us, nothing from libmpg123.
    const fs::path bad = dir / "noframes.mp3";
    write_bytes(bad, std::string("ID3\x03\0\0\0\0\0\x0a", 10) + std::string(10, '\0') + std::string(1100, 'x'));
    testing::internal::CaptureStderr();
    const std::string err = gktest::expect_error([&] { genrekit::load_audio(bad.string()); });
    const std::string chatter = testing::internal::GetCapturedStderr();
    EXPECT_NE(err.find("no MPEG audio frames"), std::string::npos) << err;
    EXPECT_EQ(chatter, "");
    fs::remove_all(dir);
}

// A corrupt frame in the middle or a cut-off end must not pass as a shorter file.
TEST(AudioReader, CorruptOrTruncatedFlacAndMp3AreErrors) {
    const auto dir = temp_dir();
    for (const std::string ext : {"flac", "mp3"}) {
        const fs::path path = dir / ("n." + ext);
        genrekit::save_audio(path.string(), noise(22050 * 10, 9), 22050);
        const std::string good = read_bytes(path);
        std::string corrupt = good;
        std::memset(corrupt.data() + good.size() / 2, ext == "flac" ? 0x55 : 0, 3000);
        write_bytes(dir / ("corrupt." + ext), corrupt);
        write_bytes(dir / ("truncated." + ext), good.substr(0, good.size() / 2));
        for (const std::string kind : {"corrupt.", "truncated."}) {
            testing::internal::CaptureStderr();
            const std::string err = gktest::expect_error([&] { genrekit::load_audio((dir / (kind + ext)).string()); });
            EXPECT_EQ(testing::internal::GetCapturedStderr(), "");
            std::cout << "[" << kind << ext << "] " << err << "\n";
            EXPECT_TRUE(err.find("corrupt") != std::string::npos || err.find("truncated") != std::string::npos) << err;
        }
    }
    fs::remove_all(dir);
}

TEST(AudioReader, HeaderSizesAreCheckedBeforeAnythingIsAllocated) {
    const auto dir = temp_dir();
    const std::string pcm(220000, '\x10');
    write_bytes(dir / "one_hz.wav", wav_header(1, 1, 1, 16, 220000, 220036) + pcm);
    EXPECT_NE(gktest::expect_error([&] { genrekit::load_audio((dir / "one_hz.wav").string()); }).find("implausible sample rate 1 Hz"),
              std::string::npos);
    write_bytes(dir / "channels.wav", wav_header(1, 4000, 22050, 16, 8000, 8036) + std::string(8000, '\0'));
    EXPECT_NE(gktest::expect_error([&] { genrekit::load_audio((dir / "channels.wav").string()); }).find("channel"), std::string::npos);
    fs::remove_all(dir);
}

TEST(AudioReader, AbsurdFloatSamplesAreBadInputNotAnInternalError) {
    const auto dir = temp_dir();
    std::string data;
    for (int i = 0; i < 22050 * 2; ++i) {
        const float v = i == 30000 ? 1e30f : 0.1f * static_cast<float>(std::sin(i * 0.05));
        data.append(reinterpret_cast<const char*>(&v), 4);
    }
    const fs::path path = dir / "huge.wav";
    write_bytes(path, wav_header(3, 1, 22050, 32, static_cast<std::uint32_t>(data.size()), static_cast<std::uint32_t>(data.size() + 36)) + data);
    const auto r = gktest::run_genrekit("featurize " + path.string() + " -o " + (dir / "o.csv").string());
    EXPECT_NE(r.code, 70) << r.err;
    EXPECT_NE(r.code, 0) << r.err;
    EXPECT_NE(r.err.find("huge.wav: bad sample value"), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find("internal error"), std::string::npos) << r.err;
    fs::remove_all(dir);
}

TEST(AudioReader, AFifoIsRefusedAtOnceNotWaitedOn) {
    const auto dir = temp_dir();
    const std::string fifo = (dir / "pipe.wav").string();
    ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
    auto pending = std::async(std::launch::async, [&] { return gktest::expect_error([&] { genrekit::load_audio(fifo); }); });
    if (pending.wait_for(std::chrono::seconds(10)) != std::future_status::ready) {
        ADD_FAILURE() << "load_audio blocked on a FIFO with no writer";
        std::ofstream(fifo).close();  // a writer that closes at once lets the blocked open return
    }
    const std::string err = pending.get();
    EXPECT_NE(err.find("not a regular file (a FIFO)"), std::string::npos) << err;
    fs::remove_all(dir);
}

// ffmpeg writes a WAV to a pipe with data size 0xFFFFFFFF (or 0): read it to the end.
TEST(StandardInput, WavStreamsAndRawPcmGiveTheFilesFeatures) {
    const auto dir = temp_dir();
    const fs::path file = dir / "clip.wav";
    genrekit::save_audio(file.string(), noise(22050 * 7, 11), 22050);
    const std::string bytes = read_bytes(file);
    const std::size_t data_at = bytes.find("data") + 8;
    std::string ff = bytes, zero = bytes;
    std::memcpy(ff.data() + data_at - 4, "\xff\xff\xff\xff", 4);
    std::memcpy(zero.data() + data_at - 4, "\0\0\0\0", 4);
    write_bytes(dir / "ff.wav", ff);
    write_bytes(dir / "zero.wav", zero);
    write_bytes(dir / "raw.s16", bytes.substr(data_at));
    auto values = [&](const std::string& args) {
        const auto r = gktest::run_genrekit("featurize --segment 3 " + args + " -o " + (dir / "o.csv").string());
        EXPECT_EQ(r.code, 0) << args << ": " << r.err;
        return gktest::read_feature_csv((dir / "o.csv").string()).values;
    };
    const auto want = values(file.string());
    ASSERT_EQ(want.size(), 2u);
    EXPECT_EQ(values("- < " + (dir / "ff.wav").string()), want);
    EXPECT_EQ(values("- < " + (dir / "zero.wav").string()), want);
    EXPECT_EQ(values("- --raw s16le --rate 22050 --channels 1 < " + (dir / "raw.s16").string()), want);
    const auto text = gktest::run_genrekit("featurize - -o " + (dir / "o.csv").string() + " < " + (gktest::source_dir() + "/README.md"));
    EXPECT_NE(text.err.find("-: standard input is not a WAV stream"), std::string::npos) << text.err;
    const auto empty = gktest::run_genrekit("featurize - -o " + (dir / "o.csv").string() + " < /dev/null");
    EXPECT_NE(empty.err.find("-: no data on standard input"), std::string::npos) << empty.err;
    fs::remove_all(dir);
}

// Peak memory of featurize --segment over a 20-minute file: the audio alone would be 106 MB
// as floats; streamed, the process stays near its 30 s working set.
TEST(StandardInput, MemoryStaysFlatInTheInputsLength) {
#if defined(__SANITIZE_ADDRESS__)
    GTEST_SKIP() << "AddressSanitizer build: its quarantine and shadow memory, not genrekit, set the peak RSS here "
                    "(the Release run checks it)";
#endif
    const auto dir = temp_dir();
    const fs::path file = dir / "long.wav";
    {  // written a second at a time: the test process itself stays small (children inherit its size at spawn)
        const std::uint32_t bytes = 22050u * 2 * 60 * 20;
        std::ofstream out(file, std::ios::binary);
        const std::string head = wav_header(1, 1, 22050, 16, bytes, bytes + 36);
        out.write(head.data(), static_cast<std::streamsize>(head.size()));
        std::mt19937 rng(13);
        std::vector<std::int16_t> second(22050);
        for (int s = 0; s < 60 * 20; ++s) {
            for (auto& v : second) v = static_cast<std::int16_t>(static_cast<int>(rng() % 13000) - 6500);
            out.write(reinterpret_cast<const char*>(second.data()), static_cast<std::streamsize>(second.size() * 2));
        }
    }
    const auto r = gktest::run_genrekit("featurize --segment 30 --hop 120 -j 1 " + file.string() + " -o " + (dir / "o.csv").string());
    ASSERT_EQ(r.code, 0) << r.err;
    rusage ru{};
    ::getrusage(RUSAGE_CHILDREN, &ru);
    const double mb = static_cast<double>(ru.ru_maxrss) / 1024.0;
    std::cout << "[20-minute file, --segment 30: peak RSS of the child, limit 100 MB] " << mb << " MB\n";
    EXPECT_LT(mb, 100.0);
    EXPECT_EQ(gktest::read_feature_csv((dir / "o.csv").string()).values.size(), 10u);
    fs::remove_all(dir);
}

}  // namespace
