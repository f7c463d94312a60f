// SHA-256 (FIPS 180-4), for fingerprints of training data and model tensors.
//
//   std::string h = genrekit::sha256_hex(bytes.data(), bytes.size());  // 64 lowercase hex digits
//   // same digest as `sha256sum FILE`
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

namespace genrekit {

class Sha256 {
public:
    Sha256();
    void update(const void* data, std::size_t n);
    std::string hex();  // finalises; call once

private:
    void block(const std::uint8_t* p);
    std::uint32_t h_[8];
    std::uint8_t buf_[64];
    std::size_t buf_len_ = 0;
    std::uint64_t total_ = 0;
};

std::string sha256_hex(const void* data, std::size_t n);
inline std::string sha256_hex(const std::string& s) { return sha256_hex(s.data(), s.size()); }

}  // namespace genrekit
