// Featurizing on a cluster: shard plans (disjoint, complete, balanced by size, the same on every
// machine), `featurize --shard` + `merge` giving the bytes of one run, a killed run resumed to
// the same bytes, the GNU parallel recipe of the README, and each bad case as one clear error.
#include <gtest/gtest.h>

#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>
#include <thread>

#include "genrekit/atomic_file.hpp"
#include "genrekit/error.hpp"
#include "genrekit/shard.hpp"
#include "genrekit/synth.hpp"
#include "support.hpp"

extern char** environ;

namespace fs = std::filesystem;
using genrekit::Shard;

namespace {

std::string read(const fs::path& p) { return genrekit::read_file(p.string(), true); }

TEST(ShardPlan, KCountsFromZeroAndBadSpecsSaySo) {
    const Shard s = Shard::parse("2/3");
    EXPECT_EQ(s.index, 2);
    EXPECT_EQ(s.count, 3);
    EXPECT_NE(gktest::expect_error([] { Shard::parse("3/3"); }).find("K must be from 0 to 2"), std::string::npos);
    EXPECT_NE(gktest::expect_error([] { Shard::parse("0/0"); }).find("N must be at least 1"), std::string::npos);
    EXPECT_NE(gktest::expect_error([] { Shard::parse("-1/3"); }).find("K must be from 0"), std::string::npos);
    for (const char* bad : {"1", "a/b", "1/", "/3", "1/3x", ""})
        EXPECT_NE(gktest::expect_error([&] { Shard::parse(bad); }).find("expected K/N"), std::string::npos) << bad;
}

TEST(ShardPlan, PartsAreDisjointCompleteAndBalancedBySize) {
    std::vector<std::uint64_t> sizes;
    for (std::uint64_t i = 0; i < 1000; ++i) sizes.push_back(1000 + (i * 7919) % 100000);  // 1 kB .. 100 kB
    sizes[17] = 5000000;                                                                   // one long file
    for (int n : {1, 3, 8, 1500}) {
        std::vector<int> owner(sizes.size(), -1);
        std::vector<std::uint64_t> load(static_cast<std::size_t>(n), 0);
        for (int k = 0; k < n; ++k) {
            const auto mine = genrekit::plan_shard(sizes, {k, n});
            EXPECT_TRUE(std::is_sorted(mine.begin(), mine.end())) << "a shard keeps the list's order";
            EXPECT_EQ(mine, genrekit::plan_shard(sizes, {k, n})) << "deterministic";
            for (auto i : mine) {
                EXPECT_EQ(owner[i], -1) << "file " << i << " in shards " << owner[i] << " and " << k;
                owner[i] = k;
                load[static_cast<std::size_t>(k)] += sizes[i];
            }
        }
        EXPECT_EQ(std::count(owner.begin(), owner.end(), -1), 0) << n << " shards miss files";
        // Greedy largest-first: apart from a shard holding a single file larger than the
        // average, loads differ by at most the largest other file.
        std::uint64_t lo = UINT64_MAX, hi = 0;
        for (int k = 0; k < n; ++k)
            if (load[static_cast<std::size_t>(k)] != sizes[17]) {
                lo = std::min(lo, load[static_cast<std::size_t>(k)]);
                hi = std::max(hi, load[static_cast<std::size_t>(k)]);
            }
        if (n <= 8) {
            EXPECT_LE(hi - lo, 100000u) << n << " shards: lightest " << lo << " bytes, heaviest " << hi;
        }
    }
    // Equal sizes: ties go by position, so the parts interleave.
    EXPECT_EQ(genrekit::plan_shard(std::vector<std::uint64_t>(7, 10), {1, 3}), (std::vector<std::size_t>{1, 4}));
}

// Two threads writing different bytes to one target: the result is one of them whole.
TEST(SharedFolders, ConcurrentAtomicWritersNeverMixTheirBytes) {
    const fs::path target = fs::temp_directory_path() / ("gk_atomic_" + std::to_string(::getpid()) + ".bin");
    for (int round = 0; round < 50; ++round) {  // a shared temporary name mixed them in ~1 round of 10
        std::vector<std::thread> writers;
        for (char c : {'a', 'b'})
            writers.emplace_back([&, c] {
                genrekit::AtomicFile f(target.string(), true);
                const std::string chunk(4096, c);
                for (int i = 0; i < 256; ++i) f.stream() << chunk;
                try {
                    f.commit();
                } catch (const genrekit::Error&) {
                }
            });
        for (auto& t : writers) t.join();
        const std::string got = read(target);
        ASSERT_EQ(got.size(), 4096u * 256u) << "round " << round;
        EXPECT_TRUE(got == std::string(got.size(), 'a') || got == std::string(got.size(), 'b')) << "round " << round << ": bytes mixed";
    }
    fs::remove(target);
    for (const auto& e : fs::directory_iterator(fs::temp_directory_path()))
        EXPECT_EQ(e.path().filename().string().find(target.filename().string() + ".tmp"), std::string::npos) << e.path();
}

class ShardCli : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() / ("genrekit_shard_" + std::to_string(::getpid()));
        fs::remove_all(dir_);
        genrekit::SynthParams p;
        p.clips_per_class = 4;
        p.seconds = 7;
        genrekit::write_synth_dataset(audio().string(), p);
        // Two inputs share a file name: a full run names both rows by their relative paths,
        // which a shard holding only one of them must do too.
        fs::copy_file(audio() / "folk" / "folk.00000.wav", audio() / "rock" / "folk.00000.wav");
    }
    void TearDown() override { fs::remove_all(dir_); }
    fs::path audio() const { return dir_ / "audio"; }
    std::string p(const std::string& name) const { return (dir_ / name).string(); }
    // featurize AUDIO -o OUT ARGS, checked.
    std::string featurize(const std::string& out, const std::string& args) {
        const auto r = gktest::run_genrekit("featurize " + audio().string() + " -o " + p(out) + " -q " + args);
        EXPECT_EQ(r.code, 0) << r.err;
        return read(p(out));
    }
    fs::path dir_;
};

TEST_F(ShardCli, ThreeShardsMergeToTheBytesOfOneRunInBothModes) {
    for (const std::string mode : {"30s", "3s"}) {
        const std::string single = featurize("single.csv", "--mode " + mode);
        ASSERT_NE(single.find("rock/folk.00000."), std::string::npos) << "the name collision is in the data";
        std::string parts;
        for (int k = 0; k < 3; ++k) {
            featurize("part" + std::to_string(k) + ".csv", "--mode " + mode + " --shard " + std::to_string(k) + "/3 -j 1");
            parts = " " + p("part" + std::to_string(k) + ".csv") + parts;  // any order
        }
        const auto r = gktest::run_genrekit("merge" + parts + " -o " + p("merged.csv"));
        ASSERT_EQ(r.code, 0) << r.err;
        EXPECT_EQ(read(p("merged.csv")), single) << mode;
    }
}

TEST_F(ShardCli, MoreShardsThanFilesLeavesEmptyPartsThatMergeAsWell) {
    const std::string single = featurize("single.csv", "");
    std::string parts;
    for (int k = 0; k < 20; ++k) parts += " " + p("p" + std::to_string(k) + ".csv");
    for (int k = 0; k < 20; ++k) featurize("p" + std::to_string(k) + ".csv", "--shard " + std::to_string(k) + "/20 -j 1");
    ASSERT_EQ(gktest::run_genrekit("merge" + parts + " -o " + p("merged.csv")).code, 0);
    EXPECT_EQ(read(p("merged.csv")), single);
}

// The README's recipe: GNU parallel runs the shards, merge joins them.
TEST_F(ShardCli, GnuParallelRecipeGivesTheBytesOfOneRun) {
    if (std::system("command -v parallel >/dev/null 2>&1") != 0)
        GTEST_SKIP() << "GNU parallel is not installed (scripts/install-deps.sh --test installs it)";
    const std::string single = featurize("single.csv", "--mode 3s");
    const std::string cmd = "parallel " + std::string(GENREKIT_BINARY) + " featurize " + audio().string() + " --mode 3s -q -j 1 -o " +
                            p("part{}.csv") + " --shard {}/3 ::: 0 1 2";
    ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
    const auto r = gktest::run_genrekit("merge " + p("part0.csv") + " " + p("part1.csv") + " " + p("part2.csv") + " -o " + p("all.csv"));
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(read(p("all.csv")), single);
}

// The README's Slurm recipe, run as Slurm would run its array tasks 0, 1, 2.
TEST_F(ShardCli, SlurmArrayScriptGivesTheBytesOfOneRun) {
    const std::string single = featurize("single.csv", "--mode 3s");
    for (int k = 0; k < 3; ++k) {
        const std::string cmd = "SLURM_ARRAY_TASK_ID=" + std::to_string(k) + " SLURM_ARRAY_TASK_COUNT=3 SLURM_CPUS_PER_TASK=1 GENREKIT=" +
                                GENREKIT_BINARY + " bash " + gktest::source_dir() + "/scripts/slurm/featurize.sbatch " + audio().string() +
                                " " + p("out") + " 3s";
        ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
    }
    const auto r = gktest::run_genrekit("merge " + p("out/part-*.csv") + " -o " + p("all.csv"));
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(read(p("all.csv")), single);
}

// Starts featurize --resume, kills it (SIGKILL, as a preempted job) once its journal holds
// `records` finished files; false when the run finished first.
bool kill_after(const std::vector<std::string>& args, const fs::path& journal, int records) {
    std::vector<char*> argv;
    std::vector<std::string> all = {GENREKIT_BINARY};
    all.insert(all.end(), args.begin(), args.end());
    for (auto& a : all) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t pid = 0;
    if (posix_spawn(&pid, argv[0], nullptr, nullptr, argv.data(), environ) != 0) return false;
    for (int i = 0; i < 20000; ++i) {
        int status = 0;
        if (waitpid(pid, &status, WNOHANG) == pid) return false;
        std::ifstream in(journal);
        const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        int n = 0;
        for (std::size_t at = text.find("\nfile "); at != std::string::npos; at = text.find("\nfile ", at + 1)) ++n;
        if (n >= records) break;
        std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    ::kill(pid, SIGKILL);
    int status = 0;
    waitpid(pid, &status, 0);
    return WIFSIGNALED(status);
}

TEST_F(ShardCli, AKilledRunResumesToTheBytesOfAnUninterruptedOne) {
    for (const std::string mode : {"30s", "3s"}) {
        const std::string single = featurize("single.csv", "--mode " + mode);
        const fs::path out = dir_ / "resumed.csv", journal = dir_ / "resumed.csv.partial";
        fs::remove(journal);
        fs::remove(out);
        if (!kill_after({"featurize", audio().string(), "-o", out.string(), "--mode", mode, "--resume", "-q", "-j", "1"}, journal, 3))
            GTEST_SKIP() << "the run finished before it could be killed";
        EXPECT_FALSE(fs::exists(out)) << "a killed run writes no output";
        // A kill in the middle of a write: the last record torn.
        fs::resize_file(journal, fs::file_size(journal) - 100);
        const auto r = gktest::run_genrekit("featurize " + audio().string() + " -o " + out.string() + " --mode " + mode + " --resume -j 2");
        ASSERT_EQ(r.code, 0) << r.err;
        EXPECT_NE(r.err.find("files already done"), std::string::npos) << r.err;
        EXPECT_EQ(read(out), single) << mode;
        EXPECT_FALSE(fs::exists(journal)) << "the journal is removed once the output is written";
    }
}

TEST_F(ShardCli, AFileThatFailedIsRetriedOnResume) {
    const std::string single = featurize("single.csv", "");
    const fs::path good = audio() / "folk" / "folk.00001.wav", kept = dir_ / "kept.wav";
    fs::rename(good, kept);
    std::ofstream(good) << "not audio";
    const std::string args = "featurize " + audio().string() + " -o " + p("out.csv") + " -q --resume -j 1";
    auto r = gktest::run_genrekit(args + " --strict");
    EXPECT_EQ(r.code, 1) << r.err;
    EXPECT_NE(r.err.find("--resume continues"), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(p("out.csv")));
    fs::remove(good);
    fs::rename(kept, good);
    r = gktest::run_genrekit(args);
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(read(p("out.csv")), single);
}

TEST_F(ShardCli, AJournalIsNeverMixedWithAnotherRun) {
    const std::string out = p("out.csv"), journal = out + ".partial";
    std::ofstream(journal) << "genrekit-journal 1\nshard 0/1\ninputs 3 x\nsettings 3s\nheader y\n";
    auto r = gktest::run_genrekit("featurize " + audio().string() + " -o " + out + " -q");
    EXPECT_EQ(r.code, 0) << "without --resume or --shard no journal is involved: " << r.err;
    r = gktest::run_genrekit("featurize " + audio().string() + " -o " + out + " -q --shard 0/2");
    EXPECT_EQ(r.code, 1);
    EXPECT_NE(r.err.find("left by an interrupted run: add --resume"), std::string::npos) << r.err;
    r = gktest::run_genrekit("featurize " + audio().string() + " -o " + out + " -q --resume");
    EXPECT_EQ(r.code, 1);
    EXPECT_NE(r.err.find("other inputs or settings"), std::string::npos) << r.err;
    EXPECT_TRUE(fs::exists(journal)) << "an unusable journal is left for the user to delete";

    // A run killed while writing the journal's first line left nothing to resume: start afresh.
    std::ofstream(journal, std::ios::trunc) << "genrekit-jou";
    EXPECT_EQ(gktest::run_genrekit("featurize " + audio().string() + " -o " + out + " -q --shard 0/2").code, 0);
    // A journal in use by a running process (here: locked by the test) is left alone.
    const int fd = ::open(journal.c_str(), O_RDWR | O_CREAT, 0666);
    ASSERT_EQ(::flock(fd, LOCK_EX), 0);
    r = gktest::run_genrekit("featurize " + audio().string() + " -o " + out + " -q --resume");
    EXPECT_EQ(r.code, 1);
    EXPECT_NE(r.err.find("another genrekit featurize is writing it"), std::string::npos) << r.err;
    ::close(fd);
}

TEST_F(ShardCli, BadShardsAndBadMergesAreOneClearError) {
    const std::string a = "featurize " + audio().string() + " -q -o " + p("x.csv");
    for (const auto& [shard, says] : std::vector<std::pair<std::string, std::string>>{
             {"1/0", "N must be at least 1"}, {"4/3", "K must be from 0 to 2"}, {"3/3", "K must be from 0 to 2"}, {"x", "expected K/N"}}) {
        const auto r = gktest::run_genrekit(a + " --shard " + shard);
        EXPECT_EQ(r.code, 2) << shard;
        EXPECT_NE(r.err.find(says), std::string::npos) << shard << ": " << r.err;
    }
    EXPECT_EQ(gktest::run_genrekit("featurize " + audio().string() + " --shard 0/2").code, 2) << "--shard needs -o";

    for (int k = 0; k < 2; ++k) featurize("p" + std::to_string(k) + ".csv", "--shard " + std::to_string(k) + "/2 -j 1");
    const std::string p0 = p("p0.csv"), p1 = p("p1.csv");
    const auto merge = [&](const std::string& args) { return gktest::run_genrekit("merge " + args + " -o " + p("m.csv")); };
    const auto expect_refused = [&](const std::string& args, const std::string& says) {
        const auto r = merge(args);
        EXPECT_EQ(r.code, 1) << args;
        EXPECT_NE(r.err.find(says), std::string::npos) << args << ": " << r.err;
        EXPECT_FALSE(fs::exists(p("m.csv"))) << args;
    };
    expect_refused(p0, "shard 1/2 is missing");
    expect_refused(p0 + " " + p1 + " " + p0, "are in both");  // a duplicated row
    fs::copy_file(p1, p("copy.csv"));
    fs::copy_file(p1 + ".shard", p("copy.csv.shard"));
    expect_refused(p0 + " " + p1 + " " + p("copy.csv"), "are in both");
    expect_refused(p0 + " " + p("nothing.csv"), "nothing.csv: cannot open");
    std::ofstream(p("plain.csv")) << read(p0);
    expect_refused(p0 + " " + p("plain.csv"), "plain.csv.shard: missing");

    // Different headers: a part whose column was renamed.
    std::string text = read(p1);
    text.replace(text.find("chroma_stft_mean"), 16, "chroma_stft_MEAN");
    std::ofstream(p1, std::ios::binary) << text;
    expect_refused(p0 + " " + p1, "header differs from " + p0 + "'s (column 3 is 'chroma_stft_mean' there, 'chroma_stft_MEAN' here)");
    // Rows changed after featurize.
    text.replace(text.find("chroma_stft_MEAN"), 16, "chroma_stft_mean");
    text[text.size() - 10] = text[text.size() - 10] == '1' ? '2' : '1';
    std::ofstream(p1, std::ios::binary) << text;
    expect_refused(p0 + " " + p1, "do not match its index");

    // Parts of different runs.
    featurize("q1.csv", "--shard 1/2 -j 1 --mode 3s");
    expect_refused(p0 + " " + p("q1.csv"), "made from other settings");
    EXPECT_EQ(gktest::run_genrekit("merge " + p0).code, 2) << "-o is required";
}

TEST_F(ShardCli, MergeWithAManifestRefusesFilesWithoutRows) {
    std::ofstream(p("m.csv")) << "path,label\naudio/folk/folk.00001.wav,folk\naudio/ambient/ambient.00000.wav,ambient\n";
    const std::string args = "featurize --manifest " + p("m.csv") + " -q -o ";
    ASSERT_EQ(gktest::run_genrekit(args + p("a.csv") + " --shard 0/2").code, 0);
    std::ofstream(audio() / "folk" / "folk.00001.wav") << "broken";
    EXPECT_EQ(gktest::run_genrekit(args + p("b.csv") + " --shard 1/2").code, 3) << "the shard lists its failed file";
    const auto r = gktest::run_genrekit("merge " + p("a.csv") + " " + p("b.csv") + " -o " + p("all.csv") + " --manifest " + p("m.csv"));
    EXPECT_EQ(r.code, 1);
    EXPECT_NE(r.err.find("1 file(s) have no rows in the parts: audio/folk/folk.00001.wav"), std::string::npos) << r.err;
    EXPECT_FALSE(fs::exists(p("all.csv")));
    const auto plain = gktest::run_genrekit("merge " + p("a.csv") + " " + p("b.csv") + " -o " + p("all.csv"));
    EXPECT_EQ(plain.code, 3) << "without a manifest the rows are merged and the failure listed";
    EXPECT_NE(plain.err.find("audio/folk/folk.00001.wav: failed in"), std::string::npos) << plain.err;
}

}  // namespace

#include "genrekit/audio.hpp"
#include "genrekit/spectrogram_dataset.hpp"

namespace {

// Shards sharing one spectrogram cache folder: writers of the same entry at once all get the
// spectrograms, and the entry left behind is whole (the next reader hits it).
TEST(SharedFolders, ConcurrentWritersShareOneSpectrogramCache) {
    const fs::path dir = fs::temp_directory_path() / ("gk_cache_" + std::to_string(::getpid()));
    fs::remove_all(dir);
    fs::create_directories(dir);
    const std::string wav = (dir / "a.wav").string(), cdir = (dir / "cache").string();
    genrekit::save_audio(wav, genrekit::synth_clip("folk", 1, 4.0, 22050), 22050);
    genrekit::SpectrogramParams p;
    p.n_mels = 32;
    const auto want = genrekit::compute_spectrograms(wav, p).values;
    for (int round = 0; round < 3; ++round) {
        fs::remove_all(cdir);
        std::vector<std::vector<float>> got(4);
        std::vector<std::thread> writers;
        for (std::size_t w = 0; w < got.size(); ++w)
            writers.emplace_back([&, w] { got[w] = genrekit::SpectrogramCache(cdir).get(wav, p).values; });
        for (auto& t : writers) t.join();
        for (const auto& g : got) EXPECT_EQ(g, want);
        genrekit::SpectrogramCache reader(cdir);
        EXPECT_EQ(reader.get(wav, p).values, want);
        EXPECT_EQ(reader.hits(), 1) << "round " << round << ": the entry left behind is whole";
        for (const auto& e : fs::recursive_directory_iterator(cdir))
            EXPECT_EQ(e.path().string().find(".tmp"), std::string::npos) << e.path();
    }
    fs::remove_all(dir);
}

}  // namespace
