#include "genrekit/synth.hpp"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <numbers>

#include "genrekit/audio.hpp"
#include "genrekit/error.hpp"

namespace genrekit {

namespace {

constexpr double kTwoPi = 2.0 * std::numbers::pi;

// splitmix64: small, fast, and identical on every platform.
class Rng {
public:
    explicit Rng(std::uint64_t seed) : state_(seed) {}
    std::uint64_t next() {
        std::uint64_t z = (state_ += 0x9E3779B97F4A7C15ull);
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
        return z ^ (z >> 31);
    }
    double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }  // [0, 1)
    double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
    int integer(int lo, int hi) { return lo + static_cast<int>(uniform() * (hi - lo + 1)); }

private:
    std::uint64_t state_;
};

double midi_hz(double note) { return 440.0 * std::pow(2.0, (note - 69.0) / 12.0); }

struct Clip {
    std::vector<double> y;
    int sr;
    void add_tone(double start, double dur, double hz, double amp, int kind, double attack, double release) {
        const auto s0 = static_cast<std::size_t>(start * sr);
        const auto n = static_cast<std::size_t>(dur * sr);
        for (std::size_t i = 0; i < n && s0 + i < y.size(); ++i) {
            const double t = static_cast<double>(i) / sr;
            const double env = std::min(1.0, t / attack) * std::exp(-t / release);
            const double ph = std::fmod(hz * t, 1.0);
            double v = 0;
            switch (kind) {
                case 0: v = std::sin(kTwoPi * ph); break;                                    // sine
                case 1: v = std::clamp(1.6 * (2.0 * ph - 1.0), -1.0, 1.0); break;            // clipped saw
                case 2: v = ph < 0.5 ? 0.7 : -0.7; break;                                    // square
                default: v = std::sin(kTwoPi * ph) + 0.3 * std::sin(2 * kTwoPi * ph); break;  // organ-ish
            }
            y[s0 + i] += amp * env * v;
        }
    }
    void add_kick(double start, double amp) {
        const auto s0 = static_cast<std::size_t>(start * sr);
        double phase = 0;
        for (std::size_t i = 0; i < static_cast<std::size_t>(0.25 * sr) && s0 + i < y.size(); ++i) {
            const double t = static_cast<double>(i) / sr;
            phase += kTwoPi * (50.0 + 100.0 * std::exp(-t * 30.0)) / sr;
            y[s0 + i] += amp * std::exp(-t * 12.0) * std::sin(phase);
        }
    }
    void add_noise_hit(double start, double dur, double amp, Rng& rng, bool bright) {
        const auto s0 = static_cast<std::size_t>(start * sr);
        double prev = 0;
        for (std::size_t i = 0; i < static_cast<std::size_t>(dur * sr) && s0 + i < y.size(); ++i) {
            const double t = static_cast<double>(i) / sr;
            const double w = rng.uniform(-1, 1);
            const double v = bright ? w - prev : w;  // first difference: a crude high-pass
            prev = w;
            y[s0 + i] += amp * std::exp(-t / (dur / 4)) * v;
        }
    }
    void add_pluck(double start, double hz, double amp, Rng& rng) {
        // Karplus-Strong: a noise burst circulating through a damped delay line.
        const auto period = std::max<std::size_t>(2, static_cast<std::size_t>(sr / hz));
        std::vector<double> line(period);
        for (auto& v : line) v = rng.uniform(-1, 1);
        const auto s0 = static_cast<std::size_t>(start * sr);
        for (std::size_t i = 0; i < static_cast<std::size_t>(1.5 * sr) && s0 + i < y.size(); ++i) {
            const std::size_t k = i % period;
            const double out = line[k];
            line[k] = 0.996 * 0.5 * (line[k] + line[(k + 1) % period]);
            y[s0 + i] += amp * out;
        }
    }
};

}  // namespace

const std::vector<std::string>& synth_styles() {
    static const std::vector<std::string> styles{"ambient", "electronic", "folk", "rock"};
    return styles;
}

void SynthParams::validate() const {
    require_param(sample_rate >= 8000 && sample_rate <= 96000, "sample_rate", sample_rate, "8000..96000");
    require_param(seconds >= 1 && seconds <= 120, "seconds", seconds, "1..120");
    require_param(clips_per_class >= 1 && clips_per_class <= 10000, "clips_per_class", clips_per_class, "1..10000");
}

std::vector<float> synth_clip(const std::string& style, std::uint64_t seed, double seconds, int sr) {
    const auto& styles = synth_styles();
    const auto which = std::find(styles.begin(), styles.end(), style);
    if (which == styles.end()) throw Error("unknown synth style '" + style + "' (ambient, electronic, folk, rock)");
    Rng rng(seed * 1000003ull + static_cast<std::uint64_t>(which - styles.begin()) * 7919ull + 17);
    Clip c{std::vector<double>(static_cast<std::size_t>(seconds * sr), 0.0), sr};
    const double root = 45 + rng.integer(0, 11);  // a random key, A2..G#3
    if (style == "ambient") {
        const double beat = 60.0 / rng.uniform(64, 76);
        const int minor[3] = {0, 3, 7};
        for (double t = 0; t < seconds; t += 4 * beat) {
            const double chord_root = root + 12 + (rng.integer(0, 3) == 0 ? 5 : 0);
            for (int k : minor) c.add_tone(t, 4.5 * beat, midi_hz(chord_root + k), 0.12, 0, 1.0, 3.0);
        }
        for (auto& v : c.y) v += 0.002 * rng.uniform(-1, 1);
    } else if (style == "rock") {
        const double beat = 60.0 / rng.uniform(114, 126);
        for (double t = 0; t < seconds; t += beat) {
            const int bar_pos = static_cast<int>(std::lround(t / beat)) % 4;
            if (bar_pos % 2 == 0) c.add_kick(t, 0.5);
            else c.add_noise_hit(t, 0.18, 0.35, rng, false);
            const double note = root + (bar_pos < 2 ? 0 : 5);
            c.add_tone(t, beat * 0.9, midi_hz(note), 0.18, 1, 0.005, 0.6);
            c.add_tone(t, beat * 0.9, midi_hz(note + 7), 0.14, 1, 0.005, 0.6);
        }
    } else if (style == "electronic") {
        const double beat = 60.0 / rng.uniform(128, 142);
        const int arp[4] = {0, 7, 12, 7};
        int step = 0;
        for (double t = 0; t < seconds; t += beat / 2, ++step) {
            if (step % 2 == 0) c.add_kick(t, 0.6);
            c.add_noise_hit(t + beat / 4, 0.05, 0.12, rng, true);
            c.add_tone(t, beat / 2 * 0.8, midi_hz(root - 12 + arp[step % 4]), 0.16, 2, 0.002, 0.15);
        }
    } else {  // folk
        const double beat = 60.0 / rng.uniform(94, 106);
        const int major[3] = {0, 4, 7};
        int step = 0;
        for (double t = 0; t < seconds; t += beat / 2, ++step) {
            const double chord = root + 12 + ((step / 8) % 2 == 0 ? 0 : 5);
            c.add_pluck(t, midi_hz(chord + major[step % 3] + (step % 6 == 5 ? 12 : 0)), 0.3, rng);
        }
    }
    // Normalise to a peak of 0.8, as a mastered clip would be.
    double peak = 1e-9;
    for (double v : c.y) peak = std::max(peak, std::abs(v));
    std::vector<float> out(c.y.size());
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = static_cast<float>(0.8 * c.y[i] / peak);
    return out;
}

std::vector<std::string> write_synth_dataset(const std::string& out_dir, const SynthParams& params) {
    params.validate();
    std::vector<std::string> paths;
    for (const auto& style : synth_styles()) {
        const std::filesystem::path dir = std::filesystem::path(out_dir) / style;
        std::error_code ec;
        std::filesystem::create_directories(dir, ec);
        if (ec) throw Error(dir.string() + ": cannot create folder (" + ec.message() + ")");
        for (int i = 0; i < params.clips_per_class; ++i) {
            char name[64];
            std::snprintf(name, sizeof name, "%s.%05d.wav", style.c_str(), i);
            const std::string path = (dir / name).string();
            save_audio(path, synth_clip(style, params.seed * 100000ull + static_cast<std::uint64_t>(i), params.seconds, params.sample_rate),
                       params.sample_rate);
            paths.push_back(path);
        }
    }
    return paths;
}

}  // namespace genrekit
