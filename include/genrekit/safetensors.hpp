// Reading and writing safetensors files (https://github.com/huggingface/safetensors),
// float32 tensors only, so Python can load genrekit models:
//   from safetensors.numpy import load_file;  load_file("model.safetensors")
//
//   genrekit::SafeTensors st;
//   st.metadata["labels"] = R"(["blues","rock"])";     // values are STRINGS (spec)
//   st.tensors.push_back({"layers.0.weight", {64, 57}, std::move(values)});   // row-major
//   genrekit::save_safetensors("m.safetensors", st);  // atomic: temp file + rename
//   auto back = genrekit::load_safetensors("m.safetensors");
//
// Layout: 8-byte little-endian u64 N, then N bytes of JSON header
//   {"__metadata__": {"k": "v", ...}, "<name>": {"dtype": "F32", "shape": [...], "data_offsets": [begin, end]}, ...}
// (padded with spaces to a multiple of 8), then the raw little-endian data; offsets are
// relative to the start of the data and tensors tile it exactly.
// Loading validates all of this and throws genrekit::Error naming the file and the problem
// (truncated file, bad header, offsets out of range or overlapping, size/shape mismatch).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace genrekit {

struct SafeTensor {
    std::string name;
    std::vector<std::int64_t> shape;
    std::vector<float> data;  // row-major
};

struct SafeTensors {
    std::map<std::string, std::string> metadata;
    std::vector<SafeTensor> tensors;  // written in this order
    const SafeTensor* find(const std::string& name) const;
};

std::string serialize_safetensors(const SafeTensors& st);
void save_safetensors(const std::string& path, const SafeTensors& st);
// `source` names the bytes in error messages (usually the file path).
SafeTensors parse_safetensors(const std::string& bytes, const std::string& source);
SafeTensors load_safetensors(const std::string& path);

}  // namespace genrekit
