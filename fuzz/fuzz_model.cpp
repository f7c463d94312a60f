// libFuzzer harness: the safetensors parser and the model loader on top of it. A model that
// loads must also save and load again (genrekit reads what it writes).
#include <cstdio>

#include "fuzz_support.hpp"
#include "genrekit/model.hpp"
#include "genrekit/safetensors.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string bytes(reinterpret_cast<const char*>(data), size);
    genrekit::fuzz::expect_only_errors([&] { (void)genrekit::parse_safetensors(bytes, "fuzz.safetensors"); });
    const std::string path = genrekit::fuzz::temp_path(".safetensors"), again = genrekit::fuzz::temp_path(".again.safetensors");
    genrekit::fuzz::write_bytes(path, data, size);
    genrekit::fuzz::expect_only_errors([&] {
        const genrekit::Model m = genrekit::Model::load(path);
        m.save(again);
        try {
            (void)genrekit::Model::load(again);
        } catch (const genrekit::Error& e) {
            std::fprintf(stderr, "genrekit cannot read back its own model: %s\n", e.what());
            std::abort();
        }
    });
    std::remove(path.c_str());
    std::remove(again.c_str());
    return 0;
}
