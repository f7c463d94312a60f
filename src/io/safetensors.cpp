#include "genrekit/safetensors.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <bit>
#include <cstring>

#include "genrekit/atomic_file.hpp"
#include "genrekit/error.hpp"
#include "genrekit/json_text.hpp"

namespace genrekit {

static_assert(std::endian::native == std::endian::little, "safetensors I/O assumes a little-endian host");

const SafeTensor* SafeTensors::find(const std::string& name) const {
    for (const auto& t : tensors)
        if (t.name == name) return &t;
    return nullptr;
}

std::string serialize_safetensors(const SafeTensors& st) {
    nlohmann::ordered_json header;
    nlohmann::ordered_json meta = nlohmann::ordered_json::object();
    for (const auto& [k, v] : st.metadata) meta[k] = v;
    header["__metadata__"] = meta;
    std::uint64_t offset = 0;
    for (const auto& t : st.tensors) {
        std::int64_t n = 1;
        for (auto d : t.shape) n *= d;
        if (n != static_cast<std::int64_t>(t.data.size()))
            throw Error("safetensors: tensor '" + t.name + "' has " + std::to_string(t.data.size()) + " values but its shape needs " + std::to_string(n));
        if (t.name == "__metadata__" || header.contains(t.name)) throw Error("safetensors: duplicate or reserved tensor name '" + t.name + "'");
        const std::uint64_t bytes = t.data.size() * sizeof(float);
        header[t.name] = {{"dtype", "F32"}, {"shape", t.shape}, {"data_offsets", {offset, offset + bytes}}};
        offset += bytes;
    }
    std::string h = dump_json(header);
    while (h.size() % 8 != 0) h += ' ';  // as the reference writer: data starts 8-aligned
    std::string out(8, '\0');
    const std::uint64_t n = h.size();
    std::memcpy(out.data(), &n, 8);
    out += h;
    out.reserve(out.size() + offset);
    for (const auto& t : st.tensors) out.append(reinterpret_cast<const char*>(t.data.data()), t.data.size() * sizeof(float));
    return out;
}

void save_safetensors(const std::string& path, const SafeTensors& st) {
    write_file_atomic(path, serialize_safetensors(st), true);
}

SafeTensors parse_safetensors(const std::string& bytes, const std::string& src) {
    auto fail = [&](const std::string& what) { return Error(src + ": not a valid safetensors model file: " + what); };
    if (bytes.size() < 8) throw fail("file is " + std::to_string(bytes.size()) + " bytes, shorter than the 8-byte header length (truncated?)");
    std::uint64_t n = 0;
    std::memcpy(&n, bytes.data(), 8);
    if (n > 100u * 1024 * 1024) throw fail("header length " + std::to_string(n) + " is absurd (corrupt file?)");
    if (n > bytes.size() - 8) throw fail("header claims " + std::to_string(n) + " bytes but the file has only " + std::to_string(bytes.size() - 8) + " after the length (truncated?)");
    nlohmann::json header;
    try {
        header = nlohmann::json::parse(bytes.begin() + 8, bytes.begin() + 8 + static_cast<std::ptrdiff_t>(n));
    } catch (const nlohmann::json::exception& e) {
        throw fail(std::string("header is not valid JSON (tampered or truncated?): ") + e.what());
    }
    if (!header.is_object()) throw fail("header is not a JSON object");
    const std::uint64_t data_size = bytes.size() - 8 - n;
    const char* data = bytes.data() + 8 + n;
    SafeTensors st;
    struct Span { std::uint64_t b, e; std::string name; std::size_t index; };
    std::vector<Span> spans;
    for (auto it = header.begin(); it != header.end(); ++it) {
        if (it.key() == "__metadata__") {
            if (!it->is_object()) throw fail("__metadata__ is not an object");
            for (auto m = it->begin(); m != it->end(); ++m) {
                if (!m->is_string()) throw fail("__metadata__ value '" + m.key() + "' is not a string");
                st.metadata[m.key()] = m->get<std::string>();
            }
            continue;
        }
        const std::string& name = it.key();
        const auto& e = *it;
        if (!e.is_object() || !e.contains("dtype") || !e.contains("shape") || !e.contains("data_offsets"))
            throw fail("tensor '" + name + "' needs dtype, shape and data_offsets");
        if (e["dtype"] != "F32") throw fail("tensor '" + name + "' has dtype " + dump_json(e["dtype"]) + "; genrekit reads F32 only");
        SafeTensor t;
        t.name = name;
        std::uint64_t count = 1;
        if (!e["shape"].is_array()) throw fail("tensor '" + name + "' shape is not an array");
        for (const auto& d : e["shape"]) {
            if (!d.is_number_integer() || d.get<std::int64_t>() < 0) throw fail("tensor '" + name + "' shape has a bad dimension " + dump_json(d));
            t.shape.push_back(d.get<std::int64_t>());
            // Before anything is allocated, without overflow: a shape cannot need more values than
            // there are data bytes (the offsets below then say exactly what is missing).
            const auto c = product_within({count, static_cast<std::uint64_t>(t.shape.back())}, data_size);
            if (!c) throw fail("tensor '" + name + "' shape " + dump_json(e["shape"]) + " is larger than the file's " + std::to_string(data_size) + " data bytes");
            count = *c;
        }
        const auto& off = e["data_offsets"];
        if (!off.is_array() || off.size() != 2 || !off[0].is_number_unsigned() || !off[1].is_number_unsigned())
            throw fail("tensor '" + name + "' data_offsets must be two non-negative integers");
        const std::uint64_t b = off[0].get<std::uint64_t>(), en = off[1].get<std::uint64_t>();
        if (b > en || en > data_size)
            throw fail("tensor '" + name + "' data_offsets [" + std::to_string(b) + ", " + std::to_string(en) + "] out of range (data is " + std::to_string(data_size) + " bytes; truncated?)");
        if (en - b != count * sizeof(float))
            throw fail("tensor '" + name + "' has " + std::to_string(en - b) + " bytes but shape needs " + std::to_string(count * sizeof(float)));
        t.data.resize(count);
        if (count) std::memcpy(t.data.data(), data + b, count * sizeof(float));
        spans.push_back({b, en, name, st.tensors.size()});
        st.tensors.push_back(std::move(t));
    }
    // Tensors must tile the data exactly: no overlap, no holes, nothing trailing.
    std::stable_sort(spans.begin(), spans.end(), [](const Span& a, const Span& b) { return a.b < b.b || (a.b == b.b && a.e < b.e); });
    std::uint64_t pos = 0;
    for (const auto& s : spans) {
        if (s.b != pos) throw fail("tensor '" + s.name + "' starts at byte " + std::to_string(s.b) + ", expected " + std::to_string(pos) + " (overlap or gap)");
        pos = s.e;
    }
    if (pos != data_size) throw fail(std::to_string(data_size - pos) + " trailing bytes after the last tensor");
    // Keep the file order (by offset) so a save/load round trip is stable.
    std::vector<SafeTensor> ordered;
    ordered.reserve(spans.size());
    for (const auto& s : spans) ordered.push_back(std::move(st.tensors[s.index]));
    st.tensors = std::move(ordered);
    return st;
}

SafeTensors load_safetensors(const std::string& path) { return parse_safetensors(read_file(path, true), path); }

}  // namespace genrekit
