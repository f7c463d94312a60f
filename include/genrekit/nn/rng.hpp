// A small seeded random generator owned by genrekit, so the same seed gives the
// same model bit-for-bit on every platform and standard library (std::uniform_*
// and std::normal_distribution are implementation-defined; this is not).
//
//   genrekit::nn::Rng rng(42);
//   float u = rng.uniform();          // [0, 1)
//   double z = rng.normal();          // N(0, 1), Box-Muller
//   rng.shuffle(indices);             // Fisher-Yates, unbiased
//
// Engine: xoshiro256** (Blackman & Vigna 2018), state seeded by splitmix64.
#pragma once

#include <cstdint>
#include <vector>

namespace genrekit::nn {

class Rng {
public:
    explicit Rng(std::uint64_t seed = 0) { reseed(seed); }
    void reseed(std::uint64_t seed);

    std::uint64_t next_u64();
    // Uniform in [0, 1) with 24 random bits (exactly representable floats).
    float uniform() { return static_cast<float>(next_u64() >> 40) * (1.0f / 16777216.0f); }
    // Uniform in [0, 1) with 53 random bits.
    double uniform_double() { return static_cast<double>(next_u64() >> 11) * (1.0 / 9007199254740992.0); }
    // Uniform integer in [0, n), without modulo bias (rejection). n > 0.
    std::uint64_t below(std::uint64_t n);
    // Standard normal, Box-Muller (uses two uniforms per call; no cached spare, so a
    // call always consumes the same amount of the stream).
    double normal();

    template <typename T>
    void shuffle(std::vector<T>& v) {
        for (std::size_t i = v.size(); i > 1; --i) {
            const std::size_t j = static_cast<std::size_t>(below(i));
            std::swap(v[i - 1], v[j]);
        }
    }

private:
    std::uint64_t s_[4];
};

// splitmix64 step: used to seed and to derive independent sub-seeds.
std::uint64_t splitmix64(std::uint64_t& state);

}  // namespace genrekit::nn
