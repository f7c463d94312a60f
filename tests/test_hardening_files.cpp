// Hardening of the file readers: sizes from a header or metadata are checked against the bytes
// present and against sane limits before anything is allocated; config numbers are range-checked
// before they are narrowed; the model checksum covers the metadata; genrekit reads back the CSV
// it writes whatever the file names. Each test failed before its fix (see the commit).
#include <gtest/gtest.h>

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <new>

#include "genrekit/atomic_file.hpp"
#include "genrekit/csv.hpp"
#include "genrekit/featurize.hpp"
#include "genrekit/model.hpp"
#include "genrekit/npy.hpp"
#include "genrekit/safetensors.hpp"
#include "genrekit/train_config.hpp"
#include "nn_test_data.hpp"
#include "support.hpp"

// The largest single allocation since the last reset: "rejected before allocating" is then
// something a test can see.
namespace {
std::atomic<std::size_t> g_largest{0};
void* counted_new(std::size_t n) {
    std::size_t seen = g_largest.load();
    while (n > seen && !g_largest.compare_exchange_weak(seen, n)) {
    }
    if (void* p = std::malloc(n ? n : 1)) return p;
    throw std::bad_alloc();
}
}  // namespace
void* operator new(std::size_t n) { return counted_new(n); }
void* operator new[](std::size_t n) { return counted_new(n); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
// The nothrow forms too (std::stable_sort's buffer uses them): every form must pair with free().
void* operator new(std::size_t n, const std::nothrow_t&) noexcept { return std::malloc(n ? n : 1); }
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept { return std::malloc(n ? n : 1); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }

using namespace genrekit;
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

constexpr std::size_t kSmall = 64u << 20;  // no single allocation above 64 MB while rejecting a file

std::string tmp_path(const std::string& name) {
    const auto d = fs::temp_directory_path() / ("genrekit_hardening_files_" + std::to_string(::getpid()));
    fs::create_directories(d);
    return (d / name).string();
}

std::string model_v2() { return gktest::source_dir() + "/tests/data/model_v2/mlp_v2.safetensors"; }

// The v2 fixture with one metadata value replaced (the tensors as they are).
std::string edited_model(const std::string& key, const std::string& value, const std::string& from = model_v2()) {
    SafeTensors st = load_safetensors(from);
    st.metadata[key] = value;
    const std::string out = tmp_path("edited_" + key + ".safetensors");
    save_safetensors(out, st);
    return out;
}

std::string safetensors_with_header(const std::string& header, std::size_t data_bytes) {
    std::string h = header;
    while (h.size() % 8) h += ' ';
    std::string out(8, '\0');
    const std::uint64_t n = h.size();
    std::memcpy(out.data(), &n, 8);
    return out + h + std::string(data_bytes, '\0');
}

}  // namespace

TEST(HardeningFiles, SafetensorsShapeThatOverflowsIsRefused) {
    // 4 x 2^62 floats wrapped around to 0 values, which "matched" an empty data range.
    const std::string bytes = safetensors_with_header(
        R"({"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"t":{"dtype":"F32","shape":[4,4611686018427387904],"data_offsets":[4,4]}})", 4);
    const std::string msg = gktest::expect_error([&] { parse_safetensors(bytes, "x.safetensors"); });
    EXPECT_NE(msg.find("larger than the file"), std::string::npos) << msg;
}

TEST(HardeningFiles, NpyShapeBeyondTheFileIsAnError) {
    const std::string path = tmp_path("huge.npy");
    for (const std::string dims : {"99999999999999999999999,", "4611686018427387904, 4", "3000000, 3000000"}) {
        std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + dims + "), }";
        header.append((64 - (10 + header.size() + 1) % 64) % 64, ' ');
        header.push_back('\n');
        std::string bytes = "\x93NUMPY\x01";
        bytes.push_back('\0');
        bytes.push_back(static_cast<char>(header.size() & 0xff));
        bytes.push_back(static_cast<char>(header.size() >> 8));
        write_file_atomic(path, bytes + header + std::string(16, '\0'), true);
        g_largest = 0;
        const std::string msg = gktest::expect_error([&] { read_npy(path); });
        EXPECT_NE(msg.find("needs more data than the file"), std::string::npos) << dims << ": " << msg;
        EXPECT_LT(g_largest.load(), kSmall) << dims;
    }
}

TEST(HardeningFiles, ModelMetadataAskingForHugeLayersIsRefusedBeforeAllocating) {
    const json arch = json::parse(load_safetensors(model_v2()).metadata.at("architecture"));
    // Two hidden layers of 2^20 units: 2^40 weights, from a few bytes of metadata.
    json big = arch;
    big["layers"] = json::parse(R"([{"type":"dense","units":1048576},{"type":"relu"},{"type":"dense","units":1048576},{"type":"relu"},{"type":"dense","units":3}])");
    g_largest = 0;
    std::string msg = gktest::expect_error([&] { Model::load(edited_model("architecture", big.dump())); });
    EXPECT_NE(msg.find("parameter values; at most"), std::string::npos) << msg;
    EXPECT_LT(g_largest.load(), kSmall);
    // Units beyond any sane layer, and more members than an ensemble may have.
    big["layers"][0]["units"] = 1099511627776;
    msg = gktest::expect_error([&] { Model::load(edited_model("architecture", big.dump())); });
    EXPECT_NE(msg.find("units = 1099511627776 must be <= 1048576"), std::string::npos) << msg;
    json many = arch;
    many["members"] = 1000000;
    g_largest = 0;
    msg = gktest::expect_error([&] { Model::load(edited_model("architecture", many.dump())); });
    EXPECT_NE(msg.find("members = 1000000 is not in [1, 32]"), std::string::npos) << msg;
    EXPECT_LT(g_largest.load(), kSmall);
}

TEST(HardeningFiles, ModelV2WithoutMetadataChecksumStillLoadsAndPredicts) {
    const SafeTensors st = load_safetensors(model_v2());
    ASSERT_EQ(st.metadata.at("format"), "genrekit.model.v2");
    ASSERT_EQ(st.metadata.count("metadata_sha256"), 0u);
    const Model m = Model::load(model_v2());
    // Trained as tests/data/model_v1/mlp_v1 was (same config, data and seed): the same numbers.
    const auto t = parse_feature_csv(gktest::blobs_csv(), "blobs.csv");
    const RowMatrixXd p = m.predict_proba(t.features.topRows(1));
    const std::vector<double> want = {0.9936856627464294, 0.0060050999745726585, 0.00030918416450731456};
    double worst = 0;
    for (int k = 0; k < 3; ++k) worst = std::max(worst, std::abs(p(0, k) - want[static_cast<std::size_t>(k)]));
    std::cout << "[model_v2] worst |difference| " << worst << " (tolerance 1e-6)\n";
    EXPECT_LE(worst, 1e-6);
}

TEST(HardeningFiles, TamperedModelMetadataIsRefused) {
    const std::string saved = tmp_path("checked.safetensors");
    Model::load(model_v2()).save(saved);
    ASSERT_EQ(load_safetensors(saved).metadata.count("metadata_sha256"), 1u);
    EXPECT_NO_THROW(Model::load(saved));
    const SafeTensors st = load_safetensors(saved);
    json norm = json::parse(st.metadata.at("normalization"));
    norm["shift"][0] = norm["shift"][0].get<double>() + 1.0;
    json fe = json::parse(st.metadata.at("front_end"));
    fe["mode"] = "3s";
    for (const auto& [key, value] : std::vector<std::pair<std::string, std::string>>{
             {"labels", R"(["class1","class0","class2"])"}, {"normalization", norm.dump()}, {"front_end", fe.dump()}}) {
        const std::string msg = gktest::expect_error([&] { Model::load(edited_model(key, value, saved)); });
        EXPECT_NE(msg.find("does not match its recorded sha256"), std::string::npos) << key << ": " << msg;
    }
}

TEST(HardeningFiles, FeatureCsvRoundTripsAnyFileNameGenrekitWrites) {
    FeatureRow row;
    row.label = "rock";
    row.values.assign(gtzan_feature_columns().size(), 0.25);
    std::string csv = feature_csv_header();
    const std::vector<std::string> names = {"two\nlines.wav", "cr\r.wav", "a, \"quoted\" name.wav", std::string("nul\0byte.wav", 12), " lead.wav"};
    for (const auto& n : names) {
        row.filename = n;
        csv += feature_csv_row(row);
    }
    const FeatureTable t = parse_feature_csv(csv, "written.csv");
    ASSERT_EQ(t.rows(), names.size());
    EXPECT_EQ(t.files, names);
    EXPECT_EQ(t.lines, (std::vector<int>{2, 4, 5, 6, 7}));  // a row's line is where it starts
    // A BOM and CRLF line ends as another system writes them.
    const FeatureTable u = parse_feature_csv("\xEF\xBB\xBF" "filename,f0,label\r\nx.wav,1.5,rock\r\n", "bom.csv");
    EXPECT_EQ(u.feature_columns, std::vector<std::string>{"f0"});
    EXPECT_EQ(u.labels, std::vector<std::string>{"rock"});
    const std::string msg = gktest::expect_error([] { parse_feature_csv("filename,f0,label\n\"open.wav,1,rock\n", "open.csv"); });
    EXPECT_NE(msg.find("open.csv:2: a quoted field is not closed"), std::string::npos) << msg;
}

TEST(HardeningFiles, AbsurdConfigNumbersGetOneLineNamingTheKey) {
    const std::vector<std::pair<std::string, std::string>> cases = {
        {R"({"epochs": 10000000000})", "key 'epochs' = 10000000000 is out of range; allowed: [1, 1000000]"},
        {R"({"batch_size": 2147483648})", "key 'batch_size' = 2147483648 is out of range; allowed: [1, 65536]"},
        {R"({"optimizer": {"lr": 1e30}})", "key 'optimizer.lr' = 1e+30 is out of range"},
        {R"({"reduce_lr_on_plateau": {"patience": -5}})", "key 'reduce_lr_on_plateau.patience' = -5 is out of range"},
        {R"({"augment": {"mixup_alpha": 1e300}})", "augment.mixup_alpha must be a number in [0, 100]"},
        {R"({"front_end": {"kind": "spectrogram", "n_fft": 4294969344}})", "front_end.n_fft = 4294969344 is out of range"},
        // Found by fuzz_config (a json type_error, exit 70): fuzz/regressions/fuzz_config/front_end_kind_number.json
        {R"({"front_end": {"kind": 20}})", "key 'front_end.kind' must be a string, got integer 20"},
        {R"({"front_end": {"kind": "spectrogram"}, "data": {"cache_dir": 1}})", "data.cache_dir must be a path"},
    };
    for (const auto& [text, want] : cases) {
        const std::string msg = gktest::expect_error([&] { parse_train_config(json::parse(text), "c.json"); });
        EXPECT_NE(msg.find(want), std::string::npos) << text << " -> " << msg;
    }
    // The same through --set, and a layer size far beyond any real layer.
    std::string msg = gktest::expect_error([] { parse_train_config(json::object(), "c.json", {"batch_size=4294967297"}); });
    EXPECT_NE(msg.find("key 'batch_size' = 4294967297 is out of range"), std::string::npos) << msg;
    const TrainConfig c = parse_train_config(json::object(), "c.json", {"model.layers.0.units=5000000000"});
    msg = gktest::expect_error([&] { nn::Network<float> net(c.layers, nn::Shape{4}); });
    EXPECT_NE(msg.find("units = 5000000000 must be <= 1048576"), std::string::npos) << msg;
}

TEST(HardeningFiles, LabelsAndColumnsThatJsonCannotHoldAreOneClearError) {
    // They would be written into the model's JSON metadata, which needs UTF-8.
    const std::string msg = gktest::expect_error([] {
        Model m(json::parse(R"([{"type":"dense","units":2}])"), {"ok", "caf\xE9"}, FrontEnd::features({"f0"}, Normalizer{"none", {0.0}, {1.0}, {}}, json::object()));
    });
    EXPECT_NE(msg.find("is not valid UTF-8"), std::string::npos) << msg;
}
