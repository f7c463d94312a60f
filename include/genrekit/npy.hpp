// Reading and writing NumPy .npy files (format 1.0/2.0, little-endian, C order),
// for golden tests against librosa and for the --dump-stages debug flag.
//
//   genrekit::NpyArray a = genrekit::read_npy("stft_mag.npy");
//   // a.shape = {1025, 1293}; a.data holds the values as double, row-major.
//   genrekit::write_npy("out.npy", {20, 1293}, values);
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace genrekit {

struct NpyArray {
    std::vector<std::size_t> shape;
    std::vector<double> data;  // row-major (C order), converted from the stored dtype
    std::string dtype;         // as stored, e.g. "<f4", "<f8", "<i8"

    std::size_t rows() const { return shape.empty() ? 1 : shape[0]; }
    std::size_t cols() const { return shape.size() < 2 ? (shape.empty() ? 1 : shape[0]) : shape[1]; }
    double at(std::size_t r, std::size_t c) const { return data[r * shape[1] + c]; }
};

// Supported dtypes: <f4, <f8, <i4, <i8, |b1. Throws genrekit::Error naming the file.
NpyArray read_npy(const std::string& path);

// Writes float32 values (row-major) atomically (temporary file, then rename).
void write_npy(const std::string& path, const std::vector<std::size_t>& shape, const float* values);

}  // namespace genrekit
