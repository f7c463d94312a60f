#include "input_options.hpp"

#include "genrekit/error.hpp"

namespace genrekit::tools {

void InputOptions::add_to(CLI::App* sub) {
    sub->add_option("--raw", raw.encoding, "Standard input ('-') is headerless PCM: s16le, s24le, s32le or f32le")
        ->check(CLI::IsMember({"s16le", "s24le", "s32le", "f32le"}));
    sub->add_option("--rate", raw.sample_rate, "Sample rate of --raw input (Hz)")->check(CLI::Range(1000, 768000));
    sub->add_option("--channels", raw.channels, "Channels of --raw input")->check(CLI::Range(1, 64))->capture_default_str();
    sub->add_option("--clip", clip,
                    "What a whole-clip (30 s) row describes: auto (files up to 60 s whole, longer ones their middle 30 s), "
                    "whole, first (30 s) or middle (30 s)")
        ->check(CLI::IsMember({"auto", "whole", "first", "middle"}))
        ->capture_default_str();
}

void InputOptions::check() const {
    if (!raw.encoding.empty() && raw.sample_rate <= 0) throw Error("--raw needs --rate (the sample rate in Hz)");
}

void InputOptions::apply(std::vector<InputFile>& inputs) const {
    check();
    set_stdin_format(inputs, raw);
}

}  // namespace genrekit::tools
