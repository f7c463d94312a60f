// Model files: safetensors layout, round trip, predict API, and refusal of damaged files.
#include <gtest/gtest.h>

#include <cstring>
#include <filesystem>
#include <fstream>

#include "genrekit/atomic_file.hpp"
#include "genrekit/error.hpp"
#include "genrekit/safetensors.hpp"
#include "genrekit/sha256.hpp"
#include "genrekit/train.hpp"
#include "support.hpp"
#include "nn_test_data.hpp"

using namespace genrekit;
namespace fs = std::filesystem;

namespace {
std::string tmp(const std::string& name) {
    const auto d = fs::temp_directory_path() / ("genrekit_nn_model_" + std::to_string(::getpid()));
    fs::create_directories(d);
    return (d / name).string();
}

TrainResult trained() {
    TrainConfig c;
    c.layers = nlohmann::json::parse(R"([{"type":"dense","units":8},{"type":"relu"},{"type":"dense"}])");
    c.epochs = 3;
    return train(c, parse_feature_csv(gktest::blobs_csv(), "blobs.csv"));
}

using gktest::expect_error;
}  // namespace

TEST(Sha256, KnownVectors) {
    EXPECT_EQ(sha256_hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    EXPECT_EQ(sha256_hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    EXPECT_EQ(sha256_hex(std::string(1000, 'a')), "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3");
}

TEST(SafeTensors, ByteLayoutFollowsTheSpec) {
    SafeTensors st;
    st.metadata["k"] = "v";
    st.tensors.push_back({"a", {2, 3}, {1, 2, 3, 4, 5, 6}});
    st.tensors.push_back({"b", {1}, {7}});
    const std::string bytes = serialize_safetensors(st);
    std::uint64_t n;
    std::memcpy(&n, bytes.data(), 8);
    EXPECT_EQ(n % 8, 0u);
    const auto header = nlohmann::json::parse(bytes.substr(8, n));
    EXPECT_EQ(header["__metadata__"]["k"], "v");
    EXPECT_EQ(header["a"]["dtype"], "F32");
    EXPECT_EQ(header["a"]["shape"], nlohmann::json({2, 3}));
    EXPECT_EQ(header["a"]["data_offsets"], nlohmann::json({0, 24}));
    EXPECT_EQ(header["b"]["data_offsets"], nlohmann::json({24, 28}));
    EXPECT_EQ(bytes.size(), 8 + n + 28);
    float v;
    std::memcpy(&v, bytes.data() + 8 + n + 24, 4);
    EXPECT_EQ(v, 7.0f);
    const auto back = parse_safetensors(bytes, "mem");
    ASSERT_EQ(back.tensors.size(), 2u);
    EXPECT_EQ(back.tensors[0].data, st.tensors[0].data);
    EXPECT_EQ(back.metadata.at("k"), "v");
}

TEST(SafeTensors, RejectsDamage) {
    SafeTensors st;
    st.tensors.push_back({"a", {2}, {1, 2}});
    const std::string good = serialize_safetensors(st);
    EXPECT_NE(expect_error([&] { parse_safetensors(good.substr(0, 5), "f"); }).find("truncated"), std::string::npos);
    EXPECT_NE(expect_error([&] { parse_safetensors(good.substr(0, good.size() - 1), "f"); }).find("out of range"), std::string::npos);
    std::string bad_json = good;
    bad_json[9] = '#';
    EXPECT_NE(expect_error([&] { parse_safetensors(bad_json, "f"); }).find("not valid JSON"), std::string::npos);
    std::string big_offset = good;
    const auto p = big_offset.find("[0,8]");
    ASSERT_NE(p, std::string::npos);
    big_offset.replace(p, 5, "[0,9]");
    EXPECT_NE(expect_error([&] { parse_safetensors(big_offset, "f"); }).find("a"), std::string::npos);
    EXPECT_NE(expect_error([&] { parse_safetensors(good + "xxxx", "f"); }).find("trailing"), std::string::npos);
}

TEST(Model, SaveLoadRoundTripAndPredict) {
    auto r = trained();
    const std::string path = tmp("m.safetensors");
    r.model.save(path);
    const Model m = Model::load(path);
    EXPECT_EQ(m.labels(), r.model.labels());
    EXPECT_EQ(m.feature_columns(), (std::vector<std::string>{"f0", "f1", "f2", "f3"}));
    EXPECT_EQ(m.front_end()["mode"], "30s");
    EXPECT_EQ(m.front_end()["sample_rate"], 22050);
    EXPECT_TRUE(m.info().contains("config"));
    EXPECT_TRUE(m.info().contains("metrics"));
    EXPECT_EQ(m.info()["training_data"]["csv_sha256"], sha256_hex(gktest::blobs_csv()));
    ASSERT_EQ(m.network().num_params(), r.model.network().num_params());
    EXPECT_EQ(0, std::memcmp(m.network().params(), r.model.network().params(), m.network().num_params() * 4));
    // predict_proba takes RAW features: the model normalises them itself.
    const auto t = parse_feature_csv(gktest::blobs_csv(), "blobs.csv");
    const RowMatrixXd p1 = r.model.predict_proba(t.features), p2 = m.predict_proba(t.features);
    EXPECT_EQ((p1 - p2).cwiseAbs().maxCoeff(), 0.0);
    for (Eigen::Index i = 0; i < p1.rows(); ++i) EXPECT_NEAR(p1.row(i).sum(), 1.0, 1e-6);
    std::vector<double> row(t.features.row(0).data(), t.features.row(0).data() + 4);
    const auto q = m.predict_proba(row);
    // One row goes through Eigen's matrix-vector path, a batch through matrix-matrix: equal to float rounding.
    for (int k = 0; k < 3; ++k) EXPECT_NEAR(q[static_cast<std::size_t>(k)], p1(0, k), 1e-6);
    EXPECT_THROW(m.predict_proba(std::vector<double>{1, 2, 3}), Error);
}

TEST(Model, RefusesTruncatedOrTamperedFiles) {
    auto r = trained();
    const std::string path = tmp("t.safetensors");
    r.model.save(path);
    const std::string good = read_file(path, true);
    auto load_bytes = [&](const std::string& bytes) {
        const std::string p = tmp("bad.safetensors");
        write_file_atomic(p, bytes, true);
        return expect_error([&] { Model::load(p); });
    };
    // Truncated: message names the file.
    std::string msg = load_bytes(good.substr(0, good.size() / 2));
    EXPECT_NE(msg.find("bad.safetensors"), std::string::npos) << msg;
    // One flipped parameter byte: caught by the recorded tensor digest.
    std::string flipped = good;
    flipped[flipped.size() - 3] ^= 0x40;
    msg = load_bytes(flipped);
    EXPECT_NE(msg.find("sha256"), std::string::npos) << msg;
    // Tampered architecture: caught by the recorded metadata digest.
    std::string arch = good;
    const auto p = arch.find("\\\"units\\\":8");
    ASSERT_NE(p, std::string::npos);
    arch.replace(p, 11, "\\\"units\\\":9");
    msg = load_bytes(arch);
    EXPECT_NE(msg.find("metadata (labels, normalization, front end, architecture or training info) does not match its recorded sha256"),
              std::string::npos) << msg;
    // A missing metadata key.
    SafeTensors st = parse_safetensors(good, "x");
    st.metadata.erase("normalization");
    msg = load_bytes(serialize_safetensors(st));
    EXPECT_NE(msg.find("normalization"), std::string::npos) << msg;
    // Not a model at all.
    msg = load_bytes("hello");
    EXPECT_NE(msg.find("safetensors"), std::string::npos) << msg;
}
