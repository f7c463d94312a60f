// The STFT magnitude, mel, DCT and chroma kernels of src/simd (stft_kernels, mel_kernels,
// chroma_kernels), every variant against a plain scalar reference bit for bit (each kernel
// promises the scalar loop's bits) and against the other variants. Sizes leave every vector
// loop a tail.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <vector>

#include "kernel_variants.hpp"
#include "simd/chroma_kernels.hpp"
#include "simd/mel_kernels.hpp"
#include "simd/stft_kernels.hpp"

namespace {

namespace sk = genrekit::simd;
using genrekit::simd::Isa;

// Bit equality of float vectors (NaN equal to NaN of the same bits).
bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
    // (empty vectors may hold no buffer at all, and memcmp must not be given a null pointer)
    return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

TEST(SpectrumKernels, AbsComplexGivesTheScalarBits) {
    std::mt19937 rng(3);
    std::normal_distribution<float> g(0.0f, 10.0f);
    for (int n : {0, 1, 3, 4, 7, 8, 15, 16, 17, 1025}) {
        std::vector<float> x(2 * static_cast<std::size_t>(n));
        for (float& v : x) v = g(rng);
        if (n >= 4) {  // zero, a subnormal, a huge value (its square overflows float, not double)
            x[0] = x[1] = 0.0f;
            x[2] = std::numeric_limits<float>::denorm_min();
            x[5] = 3e38f;
        }
        std::vector<float> mag_ref(static_cast<std::size_t>(n)), pow_ref(mag_ref.size());
        for (std::size_t i = 0; i < mag_ref.size(); ++i) {
            const double re = x[2 * i], im = x[2 * i + 1];
            mag_ref[i] = static_cast<float>(std::sqrt(re * re + im * im));
            pow_ref[i] = mag_ref[i] * mag_ref[i];
        }
        gktest::for_each_isa([&](Isa isa) {
            std::vector<float> mag(mag_ref.size(), -1.0f), pow(mag_ref.size(), -1.0f), mag_only(mag_ref.size(), -1.0f);
            sk::abs_complex(x.data(), mag.data(), pow.data(), n);
            sk::abs_complex(x.data(), mag_only.data(), nullptr, n);
            EXPECT_TRUE(same_bits(mag, mag_ref)) << sk::name(isa) << " n = " << n;
            EXPECT_TRUE(same_bits(pow, pow_ref)) << sk::name(isa) << " n = " << n;
            EXPECT_TRUE(same_bits(mag_only, mag_ref)) << sk::name(isa) << " n = " << n;
        });
    }
}

TEST(SpectrumKernels, MelGroupGivesTheScalarBits) {
    constexpr int G = sk::mel::kGroupFrames;
    std::mt19937 rng(5);
    std::uniform_real_distribution<float> u(0.0f, 4.0f);
    for (std::size_t n_bins : {std::size_t{13}, std::size_t{1025}})
        for (std::size_t n_bands : {std::size_t{5}, std::size_t{20}, std::size_t{128}}) {
            std::vector<std::vector<float>> frames(G, std::vector<float>(n_bins));
            for (auto& f : frames)
                for (float& v : f) v = u(rng);
            std::vector<std::vector<double>> weights(n_bands);
            std::vector<sk::mel::BandView> bands;
            for (std::size_t m = 0; m < n_bands; ++m) {
                const int first = static_cast<int>(rng() % n_bins);
                const std::size_t size = 1 + rng() % (n_bins - static_cast<std::size_t>(first));
                for (std::size_t k = 0; k < size; ++k) weights[m].push_back(static_cast<float>(u(rng) / 7.0f));
                bands.push_back({first, size, weights[m].data()});
            }
            // ref: each band a float64 running sum, multiply then add in bin order, rounded.
            std::vector<float> ref(G * n_bands);
            for (int l = 0; l < G; ++l)
                for (std::size_t m = 0; m < n_bands; ++m) {
                    double acc = 0;
                    for (std::size_t k = 0; k < bands[m].size; ++k)
                        acc += bands[m].weights[k] * static_cast<double>(frames[l][static_cast<std::size_t>(bands[m].first_bin) + k]);
                    ref[static_cast<std::size_t>(l) * n_bands + m] = static_cast<float>(acc);
                }
            gktest::for_each_isa([&](Isa isa) {
                std::vector<double> buf(n_bins * G);
                std::vector<float> stage(n_bands * G), out(G * n_bands, -1.0f);
                const float* cols[G];
                float* outs[G];
                for (int l = 0; l < G; ++l) {
                    cols[l] = frames[static_cast<std::size_t>(l)].data();
                    outs[l] = out.data() + static_cast<std::size_t>(l) * n_bands;
                }
                sk::mel::mel_group(cols, n_bins, bands.data(), n_bands, buf.data(), stage.data(), outs);
                EXPECT_TRUE(same_bits(out, ref)) << sk::name(isa) << " bins " << n_bins << " bands " << n_bands;
            });
        }
}

TEST(SpectrumKernels, DctGivesTheScalarBits) {
    std::mt19937 rng(9);
    std::uniform_real_distribution<double> u(-1.0, 1.0);
    const std::size_t n_in = 40;
    for (std::size_t n_out : {std::size_t{5}, std::size_t{13}, std::size_t{20}, std::size_t{32}})  // 1 .. 4 vectors
        for (std::size_t T : {std::size_t{1}, std::size_t{7}, std::size_t{17}}) {
            const std::size_t stride = (n_out + sk::mel::kDctLanes - 1) / sk::mel::kDctLanes * sk::mel::kDctLanes;
            std::vector<double> Bt(n_in * stride, 0.0);
            for (std::size_t n = 0; n < n_in; ++n)
                for (std::size_t k = 0; k < n_out; ++k) Bt[n * stride + k] = u(rng);
            std::vector<float> X(T * n_in);
            for (float& v : X) v = static_cast<float>(20.0 * u(rng));
            // ref: each coefficient the float64 sum from 0 of basis * x, in n order, rounded.
            std::vector<float> ref(T * n_out);
            for (std::size_t t = 0; t < T; ++t)
                for (std::size_t k = 0; k < n_out; ++k) {
                    double acc = 0;
                    for (std::size_t n = 0; n < n_in; ++n) acc += Bt[n * stride + k] * static_cast<double>(X[t * n_in + n]);
                    ref[t * n_out + k] = static_cast<float>(acc);
                }
            gktest::for_each_isa([&](Isa isa) {
                std::vector<float> out(T * n_out, -1.0f);
                sk::mel::dct(Bt.data(), n_in, X.data(), T, n_out, out.data());
                EXPECT_TRUE(same_bits(out, ref)) << sk::name(isa) << " n_out " << n_out << " T " << T;
            });
        }
}

TEST(SpectrumKernels, ChromaProjectGivesTheScalarBits) {
    std::mt19937 rng(13);
    std::uniform_real_distribution<float> u(0.0f, 1.0f);
    for (std::size_t rows : {std::size_t{1}, std::size_t{7}, std::size_t{12}})
        for (std::size_t nb : {std::size_t{13}, std::size_t{1025}}) {
            const std::size_t T = 9;  // two 4-frame blocks and one frame
            const std::size_t stride = (nb + 7) / 8 * 8;
            std::vector<float> W(rows * stride, 0.0f), S(T * nb);
            for (std::size_t r = 0; r < rows; ++r)
                for (std::size_t b = 0; b < nb; ++b) W[r * stride + b] = u(rng);
            for (float& v : S) v = 100.0f * u(rng);
            // ref: lane l sums W s over the bins b = l (mod 8) below nb - nb % 8 in order, the
            // lanes summed as ((0+1)+(2+3))+((4+5)+(6+7)), then the tail bins in order.
            std::vector<float> ref(T * rows);
            const std::size_t nv = nb - nb % 8;
            for (std::size_t t = 0; t < T; ++t)
                for (std::size_t r = 0; r < rows; ++r) {
                    float a[8] = {};
                    for (std::size_t b = 0; b < nv; ++b) a[b % 8] += W[r * stride + b] * S[t * nb + b];
                    float sum = ((a[0] + a[1]) + (a[2] + a[3])) + ((a[4] + a[5]) + (a[6] + a[7]));
                    for (std::size_t b = nv; b < nb; ++b) sum += W[r * stride + b] * S[t * nb + b];
                    ref[t * rows + r] = sum;
                }
            gktest::for_each_isa([&](Isa isa) {
                std::vector<float> C(T * rows, -1.0f);
                sk::chroma::project(W.data(), rows, stride, S.data(), nb, T, C.data());
                EXPECT_TRUE(same_bits(C, ref)) << sk::name(isa) << " rows " << rows << " nb " << nb;
            });
        }
}

TEST(SpectrumKernels, ChromaScansGiveTheScalarTests) {
    std::mt19937 rng(17);
    std::uniform_real_distribution<float> u(0.0f, 1.0f);
    const float nan = std::numeric_limits<float>::quiet_NaN();
    for (int n : {1, 5, 16, 17, 64, 65, 130, 1025})
        for (bool with_nan : {false, true}) {
            std::vector<float> s(static_cast<std::size_t>(n));
            for (float& v : s) v = u(rng);
            if (with_nan) s[static_cast<std::size_t>(rng() % s.size())] = nan;
            bool ref_nan = false;
            float ref_max = -std::numeric_limits<float>::infinity();
            for (float v : s) {
                ref_nan |= std::isnan(v);
                if (v > ref_max) ref_max = v;
            }
            // Masks over [lo, hi) = [1, n - 1) (or the whole column when that is empty).
            const int lo = n > 2 ? 1 : 0, hi = n > 2 ? n - 1 : n;
            const float above_thr = 0.6f, floor = 0.3f;
            const std::size_t words = static_cast<std::size_t>((hi - lo + 63) / 64);
            std::vector<std::uint64_t> ref_above(words, 0), ref_possible(words, 0);
            for (int b = lo; b < hi; ++b) {
                const auto i = static_cast<std::size_t>(b - lo);
                ref_above[i / 64] |= static_cast<std::uint64_t>(s[static_cast<std::size_t>(b)] > above_thr) << (i % 64);
                ref_possible[i / 64] |= static_cast<std::uint64_t>(!(s[static_cast<std::size_t>(b)] <= floor)) << (i % 64);
            }
            gktest::for_each_isa([&](Isa isa) {
                float got = -7.0f;
                const bool ok = sk::chroma::column_max(s.data(), s.size(), got);
                EXPECT_EQ(ok, !ref_nan) << sk::name(isa) << " n " << n;
                if (ok) {
                    EXPECT_EQ(got, ref_max) << sk::name(isa) << " n " << n;
                }
                std::vector<std::uint64_t> above(words, ~0ull), possible(words, ~0ull);
                sk::chroma::bin_masks(s.data(), lo, hi, above_thr, floor, above.data(), possible.data());
                EXPECT_EQ(above, ref_above) << sk::name(isa) << " n " << n;
                EXPECT_EQ(possible, ref_possible) << sk::name(isa) << " n " << n;
            });
        }
}

}  // namespace
