// The `genrekit featurize` command as a user runs it: exit codes, row order independent
// of --jobs, labels from folders / --label / --manifest, segment naming, bad files listed
// while the others are written, --strict leaving no output file.
#include <gtest/gtest.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "genrekit/synth.hpp"
#include "support.hpp"

namespace fs = std::filesystem;

namespace {

using gktest::CliResult;
CliResult run(const std::string& args) { return gktest::run_genrekit(args); }

std::vector<std::string> lines(const std::string& text) {
    std::vector<std::string> out;
    std::stringstream ss(text);
    for (std::string l; std::getline(ss, l);) out.push_back(l);
    return out;
}

std::string read(const fs::path& p) {
    std::ifstream in(p);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

class FeaturizeCli : public ::testing::Test {
protected:
    void SetUp() override {
        dir_ = fs::temp_directory_path() / ("genrekit_cli_" + std::to_string(::getpid()));
        genrekit::SynthParams p;
        p.clips_per_class = 2;
        p.seconds = 7;
        genrekit::write_synth_dataset((dir_ / "audio").string(), p);
    }
    void TearDown() override { fs::remove_all(dir_); }
    fs::path dir_;
};

TEST_F(FeaturizeCli, SameRowsInTheSameOrderWithOneOrTwoJobs) {
    const CliResult a = run("featurize " + (dir_ / "audio").string() + " -j 1 -q");
    const CliResult b = run("featurize " + (dir_ / "audio").string() + " -j 2 -q");
    ASSERT_EQ(a.code, 0) << a.err;
    ASSERT_EQ(b.code, 0) << b.err;
    EXPECT_EQ(a.out, b.out);
    const auto rows = lines(a.out);
    ASSERT_EQ(rows.size(), 9u);  // header + 8 clips
    EXPECT_EQ(rows[0].rfind("filename,length,chroma_stft_mean", 0), 0u);
    EXPECT_EQ(rows[1].rfind("ambient.00000.wav,154350,", 0), 0u) << rows[1];
    EXPECT_NE(rows[1].find(",ambient"), std::string::npos) << "label from the folder name";
    EXPECT_EQ(rows[8].substr(rows[8].rfind(',') + 1), "rock");
}

TEST_F(FeaturizeCli, SegmentsAreNamedAndShortClipsSaySo) {
    const CliResult r = run("featurize " + (dir_ / "audio" / "folk").string() + " --mode 3s -q");
    ASSERT_EQ(r.code, 0) << r.err;
    const auto rows = lines(r.out);
    ASSERT_EQ(rows.size(), 5u);  // two 7 s clips, two 3 s segments each
    EXPECT_EQ(rows[1].rfind("folk.00000.0.wav,66149,", 0), 0u) << rows[1];
    EXPECT_EQ(rows[2].rfind("folk.00000.1.wav,66149,", 0), 0u) << rows[2];
    const CliResult s = run("featurize " + (dir_ / "audio" / "folk").string() + " --segment 2 --hop 1 -q");
    ASSERT_EQ(s.code, 0) << s.err;
    EXPECT_EQ(lines(s.out).size(), 1u + 2u * 6u);  // 7 s: starts at 0..5 s

    GK_REQUIRE_SHARED(shared);
    const CliResult t = run("featurize " + shared + "/data/bad/short_0.5s.wav --mode 3s -q");
    EXPECT_EQ(t.code, 1) << "no rows at all is a failure";
    EXPECT_NE(t.err.find("shorter than one segment"), std::string::npos) << t.err;
}

TEST_F(FeaturizeCli, LabelAndManifestOverrideFolderNames) {
    const CliResult r = run("featurize " + (dir_ / "audio" / "rock").string() + " --label loud -q");
    ASSERT_EQ(r.code, 0) << r.err;
    for (std::size_t i = 1; i < lines(r.out).size(); ++i) EXPECT_EQ(lines(r.out)[i].substr(lines(r.out)[i].rfind(',') + 1), "loud");
    {
        std::ofstream m(dir_ / "list.csv");
        m << "path,label\naudio/ambient/ambient.00001.wav,calm\n\"audio/rock/rock.00000.wav\",energetic\n";
    }
    const CliResult s = run("featurize --manifest " + (dir_ / "list.csv").string() + " -q");
    ASSERT_EQ(s.code, 0) << s.err;
    const auto rows = lines(s.out);
    ASSERT_EQ(rows.size(), 3u);
    EXPECT_EQ(rows[1].substr(rows[1].rfind(',') + 1), "calm");
    EXPECT_EQ(rows[2].substr(rows[2].rfind(',') + 1), "energetic");
}

TEST_F(FeaturizeCli, BadFilesAreListedTheRestWrittenAndTheExitCodeSaysSo) {
    GK_REQUIRE_SHARED(shared);
    const fs::path out = dir_ / "bad.csv";
    const CliResult r = run("featurize " + shared + "/data/bad -o " + out.string() + " -q -j 2");
    EXPECT_EQ(r.code, 3) << r.err;
    // silence and the 0.5 s tone are valid audio; the nine broken files are each named once.
    EXPECT_EQ(lines(read(out)).size(), 3u);
    for (const char* f : {"absurd_sizes.wav", "empty.wav", "lfs_pointer.wav", "nan_float.wav", "not_audio.wav",
                          "random_bytes.flac", "truncated_data.wav", "truncated_header.wav", "zero_samples.wav"})
        EXPECT_NE(r.err.find(std::string("/") + f + ": "), std::string::npos) << f << "\n" << r.err;
    EXPECT_NE(r.err.find("9 file(s) failed"), std::string::npos) << r.err;
    for (const auto& l : lines(read(out))) EXPECT_EQ(l.find("nan"), std::string::npos) << l;
}

TEST_F(FeaturizeCli, StrictStopsAndLeavesNoOutputFile) {
    GK_REQUIRE_SHARED(shared);
    const fs::path out = dir_ / "strict.csv";
    const CliResult r = run("featurize " + shared + "/data/bad -o " + out.string() + " -q --strict -j 1");
    EXPECT_EQ(r.code, 1);
    EXPECT_FALSE(fs::exists(out));
    for (const auto& e : fs::directory_iterator(dir_)) EXPECT_EQ(e.path().string().find(".tmp"), std::string::npos) << e.path();
}

TEST_F(FeaturizeCli, UsageErrorsExitWithTwo) {
    EXPECT_EQ(run("featurize").code, 2);
    EXPECT_EQ(run("featurize x --mode 5s").code, 2);
    EXPECT_EQ(run("featurize /nonexistent/folder").code, 1);
    EXPECT_EQ(run("--version").code, 0);
}

}  // namespace

// GENREKIT_ISA reaches the tools: `info` names the instruction set in use and the CPU's, and a bad
// value is one line on stderr and exit 2 (usage) from any subcommand, before any work.
TEST(GenrekitCli, InfoNamesTheInstructionSetAndABadIsaIsAUsageError) {
    const char* before = std::getenv("GENREKIT_ISA");
    const std::string saved = before ? before : "";
    ::unsetenv("GENREKIT_ISA");
    const CliResult plain = run("info");
    ::setenv("GENREKIT_ISA", "baseline", 1);
    const CliResult base = run("info");
    ::setenv("GENREKIT_ISA", "sse9", 1);
    const CliResult bad_info = run("info"), bad_featurize = run("featurize /nonexistent -q");
    if (before) ::setenv("GENREKIT_ISA", saved.c_str(), 1);
    else ::unsetenv("GENREKIT_ISA");

    ASSERT_EQ(plain.code, 0) << plain.err;
    EXPECT_NE(plain.out.find("instruction set: "), std::string::npos) << plain.out;
    ASSERT_EQ(base.code, 0) << base.err;
    EXPECT_NE(base.out.find("instruction set: baseline in use, "), std::string::npos) << base.out;
    for (const CliResult* r : {&bad_info, &bad_featurize}) {
        EXPECT_EQ(r->code, 2);
        EXPECT_EQ(lines(r->err).size(), 1u) << r->err;
        EXPECT_NE(r->err.find("GENREKIT_ISA = 'sse9' is not an instruction set; allowed: baseline, avx2, avx512"), std::string::npos)
            << r->err;
        EXPECT_TRUE(r->out.empty()) << r->out;
    }
}
