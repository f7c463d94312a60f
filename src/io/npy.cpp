#include "genrekit/npy.hpp"

#include <charconv>
#include <cstdint>
#include <cstring>
#include <regex>

#include "genrekit/atomic_file.hpp"
#include "genrekit/error.hpp"

namespace genrekit {

namespace {

template <typename T>
void convert(const char* raw, std::size_t n, std::vector<double>& out) {
    out.resize(n);
    for (std::size_t i = 0; i < n; ++i) {
        T v;
        std::memcpy(&v, raw + i * sizeof(T), sizeof(T));
        out[i] = static_cast<double>(v);
    }
}

}  // namespace

NpyArray read_npy(const std::string& path) {
    const std::string bytes = read_file(path, true);
    auto fail = [&](const std::string& why) { return Error(path + ": not a readable .npy file (" + why + ")"); };
    if (bytes.size() < 10 || bytes.compare(0, 6, "\x93NUMPY") != 0) throw fail("bad magic");
    const int major = static_cast<unsigned char>(bytes[6]);
    std::size_t header_len = 0, header_start = 0;
    if (major == 1) {
        header_len = static_cast<unsigned char>(bytes[8]) | (static_cast<unsigned char>(bytes[9]) << 8);
        header_start = 10;
    } else if (major == 2 || major == 3) {
        if (bytes.size() < 12) throw fail("short header");
        std::uint32_t len;
        std::memcpy(&len, bytes.data() + 8, 4);
        header_len = len;
        header_start = 12;
    } else {
        throw fail("unsupported version");
    }
    if (header_start + header_len > bytes.size()) throw fail("header past end of file");
    const std::string header = bytes.substr(header_start, header_len);

    NpyArray arr;
    std::smatch m;
    if (!std::regex_search(header, m, std::regex("'descr':\\s*'([^']+)'"))) throw fail("no descr");
    arr.dtype = m[1];
    if (std::regex_search(header, m, std::regex("'fortran_order':\\s*True"))) throw fail("Fortran order");
    if (!std::regex_search(header, m, std::regex("'shape':\\s*\\(([^)]*)\\)"))) throw fail("no shape");
    const std::string dims = m[1];
    const char* raw = bytes.data() + header_start + header_len;
    const std::size_t avail = bytes.size() - header_start - header_len;
    std::size_t item = 0;
    if (arr.dtype == "<f4" || arr.dtype == "<i4") item = 4;
    else if (arr.dtype == "<f8" || arr.dtype == "<i8") item = 8;
    else if (arr.dtype == "|b1" || arr.dtype == "|u1") item = 1;
    else throw fail("unsupported dtype " + arr.dtype);
    // The shape must fit in the bytes present before anything is allocated.
    std::uint64_t count = 1;
    const std::regex digits("\\d+");
    for (std::sregex_iterator it(dims.begin(), dims.end(), digits), end; it != end; ++it) {
        std::uint64_t d = 0;
        const std::string s = it->str();
        const auto r = std::from_chars(s.data(), s.data() + s.size(), d);
        const auto c = r.ec == std::errc() ? product_within({count, d}, avail / item) : std::nullopt;
        if (!c) throw fail("shape (" + dims + ") needs more data than the file's " + std::to_string(avail) + " bytes");
        arr.shape.push_back(d);
        count = *c;
    }
    if (arr.dtype == "<f4") convert<float>(raw, count, arr.data);
    else if (arr.dtype == "<f8") convert<double>(raw, count, arr.data);
    else if (arr.dtype == "<i4") convert<std::int32_t>(raw, count, arr.data);
    else if (arr.dtype == "<i8") convert<std::int64_t>(raw, count, arr.data);
    else convert<std::uint8_t>(raw, count, arr.data);
    return arr;
}

void write_npy(const std::string& path, const std::vector<std::size_t>& shape, const float* values) {
    std::string dims;
    std::size_t count = 1;
    for (std::size_t d : shape) {
        dims += std::to_string(d) + ", ";
        count *= d;
    }
    if (shape.size() > 1) dims.erase(dims.size() - 2);
    else if (shape.size() == 1) dims.erase(dims.size() - 1);
    std::string header = "{'descr': '<f4', 'fortran_order': False, 'shape': (" + dims + "), }";
    // Pad so that magic + version + length + header is a multiple of 64, ending in '\n'.
    const std::size_t total = 10 + header.size() + 1;
    header.append((64 - total % 64) % 64, ' ');
    header.push_back('\n');
    std::string out = "\x93NUMPY";
    out.push_back('\x01');
    out.push_back('\x00');
    out.push_back(static_cast<char>(header.size() & 0xff));
    out.push_back(static_cast<char>((header.size() >> 8) & 0xff));
    out += header;
    out.append(reinterpret_cast<const char*>(values), count * sizeof(float));
    write_file_atomic(path, out, true);
}

}  // namespace genrekit
