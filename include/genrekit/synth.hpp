// A deterministic generator of short labelled music-like clips, so the demo and
// the tests have a dataset the project makes itself. Four styles that differ in
// tempo, timbre and harmony:
//   ambient     ~70 BPM, soft sine pads, minor chords, no drums
//   rock        ~120 BPM, clipped sawtooth power chords, kick and snare
//   electronic  ~135 BPM, square-wave bass arpeggio, four-on-the-floor kick, hi-hats
//   folk        ~100 BPM, plucked strings (Karplus-Strong), major chords
//
//   genrekit::SynthParams p;  p.clips_per_class = 20;  p.seconds = 10;
//   auto files = genrekit::write_synth_dataset("out/audio", p);  // out/audio/<style>/<style>.<i>.wav
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace genrekit {

const std::vector<std::string>& synth_styles();

struct SynthParams {
    int sample_rate = 22050;
    double seconds = 10.0;
    int clips_per_class = 20;
    std::uint64_t seed = 1;
    void validate() const;
};

// One clip of a style; the same (style, seed) always gives the same samples.
std::vector<float> synth_clip(const std::string& style, std::uint64_t seed, double seconds, int sample_rate);

// Writes clips_per_class WAV files per style; returns their paths.
std::vector<std::string> write_synth_dataset(const std::string& out_dir, const SynthParams& params);

}  // namespace genrekit
