// libFuzzer harness: the training config parser. The input is a JSON document, optionally
// followed by a NUL byte and newline-separated --set overrides (key=value).
#include <nlohmann/json.hpp>

#include "fuzz_support.hpp"
#include "genrekit/train_config.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    const auto nul = text.find('\0');
    std::vector<std::string> overrides;
    if (nul != std::string::npos) {
        std::size_t pos = nul + 1;
        while (pos <= text.size()) {
            const auto end = std::min(text.find('\n', pos), text.size());
            if (end > pos) overrides.push_back(text.substr(pos, end - pos));
            pos = end + 1;
        }
    }
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(text.substr(0, nul));
    } catch (const nlohmann::json::exception&) {
        return 0;  // load_train_config turns this into an Error naming the file
    }
    genrekit::fuzz::expect_only_errors([&] { (void)genrekit::parse_train_config(j, "fuzz.json", overrides, ""); });
    return 0;
}
