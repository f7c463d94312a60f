// Hardening seen from the command line: a bad path inside an input folder is reported and the
// rest processed (exit 3, never 70); names and labels that are not UTF-8 never become an
// internal error; an interrupted run leaves no temporary file behind. Each test failed before
// its fix (see the commit).
#include <gtest/gtest.h>

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "genrekit/atomic_file.hpp"
#include "genrekit/audio.hpp"
#include "genrekit/synth.hpp"
#include "nn_test_data.hpp"
#include "support.hpp"

extern char** environ;

using namespace genrekit;
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

fs::path fresh_dir(const std::string& name) { return gktest::scratch_dir("hardening_cli", name, true); }

void write_clip(const fs::path& path, double seconds = 1.0) {
    fs::create_directories(path.parent_path());
    save_audio(path.string(), synth_clip("rock", 3, seconds, 22050), 22050);
}

std::string quoted(const fs::path& p) { return "'" + p.string() + "'"; }

std::size_t data_rows(const fs::path& csv) {
    std::ifstream in(csv);
    std::size_t n = 0;
    for (std::string line; std::getline(in, line);) n += !line.empty();
    return n > 0 ? n - 1 : 0;
}

}  // namespace

TEST(HardeningCli, SymlinkLoopAndUnreadableEntriesAreReportedAndTheRestFeaturized) {
    const fs::path d = fresh_dir("walk");
    write_clip(d / "rock" / "good.wav");
    fs::create_directory_symlink("..", d / "rock" / "loop");     // a folder that contains itself
    fs::create_symlink("self.wav", d / "rock" / "self.wav");      // ELOOP when opened
    fs::create_symlink("nowhere/x.wav", d / "rock" / "gone.wav");  // dangling
    const fs::path out = d / "out.csv";
    const auto r = gktest::run_genrekit("featurize " + quoted(d) + " -o " + quoted(out) + " --quiet -j 1");
    EXPECT_EQ(r.code, 3) << r.err;
    EXPECT_NE(r.err.find("loop: symlink loop"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("self.wav: cannot read"), std::string::npos) << r.err;
    EXPECT_NE(r.err.find("gone.wav: cannot read"), std::string::npos) << r.err;
    EXPECT_EQ(r.err.find("internal error"), std::string::npos) << r.err;
    EXPECT_EQ(data_rows(out), 1u);
    // A missing input among good ones is one more reported path, not the end of the batch.
    const auto m = gktest::run_genrekit("featurize " + quoted(d / "rock" / "good.wav") + " " + quoted(d / "missing") + " --quiet");
    EXPECT_EQ(m.code, 3) << m.err;
    EXPECT_NE(m.err.find("missing: no such file or folder"), std::string::npos) << m.err;
}

TEST(HardeningCli, UnreadableSubfolderIsReportedAndTheRestFeaturized) {
    // Permissions do not stop root, so as root genrekit runs as user nobody (util-linux setpriv).
    std::string as_user;
    if (::geteuid() == 0) {
        if (gktest::run_command("setpriv --version").code != 0) GTEST_SKIP() << "running as root without setpriv: cannot drop privileges";
        as_user = "setpriv --reuid=65534 --regid=65534 --clear-groups ";
    }
    const fs::path d = fresh_dir("locked");
    write_clip(d / "rock" / "good.wav");
    write_clip(d / "locked" / "hidden.wav");
    for (const fs::path& p : {d.parent_path(), d, d / "rock"}) fs::permissions(p, fs::perms::all);  // nobody writes out.csv in d
    fs::permissions(d / "rock" / "good.wav", fs::perms::owner_all | fs::perms::group_read | fs::perms::others_read);
    fs::permissions(d / "locked", fs::perms::none);
    const fs::path out = d / "out.csv";
    const auto r = gktest::run_command(as_user + quoted(fs::path(GENREKIT_BINARY)) + " featurize " + quoted(d) + " -o " + quoted(out) + " --quiet -j 1");
    fs::permissions(d / "locked", fs::perms::owner_all);
    EXPECT_EQ(r.code, 3) << r.err;
    EXPECT_NE(r.err.find("locked: cannot read folder"), std::string::npos) << r.err;
    EXPECT_EQ(data_rows(out), 1u);
}

TEST(HardeningCli, FileNamesThatAreNotUtf8GiveValidJson) {
    const fs::path d = fresh_dir("names");
    const fs::path clip = d / "caf\xE9\xFF.wav";  // Latin-1 bytes, not UTF-8
    write_clip(clip, 2.0);
    const std::string model = gktest::source_dir() + "/tests/data/model_v1/cnn_ensemble_v1.safetensors";
    const auto r = gktest::run_genrekit("predict --model " + model + " --json " + quoted(clip));
    ASSERT_EQ(r.code, 0) << r.err;
    const json j = json::parse(r.out);  // throws (fails the test) unless valid JSON
    EXPECT_NE(j["file"].get<std::string>().find("caf\xEF\xBF\xBD"), std::string::npos) << j["file"];  // U+FFFD
}

TEST(HardeningCli, TrainingWithNonUtf8TextIsNeverAnInternalError) {
    const fs::path d = fresh_dir("train");
    const fs::path cfg = d / "cfg.json";
    std::ofstream(cfg) << R"({"model": {"layers": [{"type": "dense", "units": 4}, {"type": "relu"}, {"type": "dense"}]}, "epochs": 2})";
    // A CSV whose labels are Latin-1: the model could not hold them; one line says so.
    std::string csv = gktest::blobs_csv();
    for (std::size_t p; (p = csv.find(",class0")) != std::string::npos;) csv.replace(p, 7, ",cl\xE4ss0");
    std::ofstream(d / "latin1.csv") << csv;
    auto r = gktest::run_genrekit("train --config " + quoted(cfg) + " --data " + quoted(d / "latin1.csv") + " --out " + quoted(d / "m.safetensors") + " --quiet");
    EXPECT_EQ(r.code, 1) << r.err;
    EXPECT_NE(r.err.find("is not valid UTF-8"), std::string::npos) << r.err;
    // A data file whose name is in another encoding: the name goes into the model's stored
    // config (as U+FFFD), the model is written and loads.
    const fs::path data = d / "caf\xE9.csv";
    std::ofstream(data) << gktest::blobs_csv();
    r = gktest::run_genrekit("train --config " + quoted(cfg) + " --data " + quoted(data) + " --out " + quoted(d / "m.safetensors") + " --quiet");
    EXPECT_EQ(r.code, 0) << r.err;
    r = gktest::run_genrekit("eval --model " + quoted(d / "m.safetensors") + " --data " + quoted(data) + " --json " + quoted(d / "e.json"));
    EXPECT_EQ(r.code, 0) << r.err;
}

TEST(HardeningCli, InterruptedFeaturizeLeavesNoTemporaryFile) {
    const fs::path d = fresh_dir("signal");
    // Enough work (about a second on one core) that the signal arrives mid-run.
    for (int i = 0; i < 32; ++i) write_clip(d / "rock" / ("clip" + std::to_string(i) + ".wav"), 30.0);
    for (const int sig : {SIGINT, SIGTERM}) {
        const fs::path out = d / "out.csv";
        const std::string output = out.string(), input = d.string();
        std::vector<char*> argv = {const_cast<char*>(GENREKIT_BINARY), const_cast<char*>("featurize"), const_cast<char*>(input.c_str()),
                                   const_cast<char*>("-o"), const_cast<char*>(output.c_str()), const_cast<char*>("--quiet"),
                                   const_cast<char*>("-j"), const_cast<char*>("1"), nullptr};
        pid_t pid = 0;
        ASSERT_EQ(::posix_spawn(&pid, GENREKIT_BINARY, nullptr, nullptr, argv.data(), environ), 0);
        // The temporary is "<out>.tmp.<host>.<pid>.<n>" (src/io/atomic_file.cpp).
        const std::string prefix = "out.csv.tmp.";
        auto find_tmp = [&] {
            for (const auto& e : fs::directory_iterator(d))
                if (e.path().filename().string().rfind(prefix, 0) == 0) return e.path();
            return fs::path();
        };
        fs::path tmp;
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
        while ((tmp = find_tmp()).empty() && std::chrono::steady_clock::now() < deadline)
            std::this_thread::sleep_for(std::chrono::milliseconds(5));
        ASSERT_FALSE(tmp.empty()) << "the temporary output never appeared";
        EXPECT_NE(tmp.filename().string().find("." + std::to_string(pid) + "."), std::string::npos) << tmp;
        ::kill(pid, sig);
        int status = 0;
        ::waitpid(pid, &status, 0);
        EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == sig) << "signal " << sig << ": status " << status;
        EXPECT_FALSE(fs::exists(tmp)) << tmp << " left behind after signal " << sig;
        EXPECT_FALSE(fs::exists(out)) << "an interrupted run wrote its output";
    }
}
