#include "dsp/fft_exact.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numbers>
#include <string>

#include "genrekit/error.hpp"
#include "simd/fft_exact_kernels.hpp"

namespace genrekit::fft_exact {

bool RealFft::supported(int n) { return n >= 4 && (n & (n - 1)) == 0; }

RealFft::RealFft(int n) : n_(n), m_(n / 2) {
    if (!supported(n)) throw Error("fft_exact: n = " + std::to_string(n) + " is not a power of two >= 4");
    int bits = 0;
    while ((1 << bits) < m_) ++bits;
    bitrev_.resize(static_cast<std::size_t>(m_));
    for (int k = 0; k < m_; ++k) {
        int r = 0;
        for (int b = 0; b < bits; ++b) r |= ((k >> b) & 1) << (bits - 1 - b);
        bitrev_[static_cast<std::size_t>(k)] = r;
    }
    const double two_pi = 2.0 * std::numbers::pi;
    for (int s = 1; s < m_; s <<= 1)
        for (int j = 0; j < s; ++j) {
            tw_re_.push_back(std::cos(two_pi * j / (2.0 * s)));
            tw_im_.push_back(-std::sin(two_pi * j / (2.0 * s)));
        }
    for (int k = 0; k <= m_ / 2; ++k) {
        post_re_.push_back(std::cos(two_pi * k / n_));
        post_im_.push_back(-std::sin(two_pi * k / n_));
    }
    re_.resize(static_cast<std::size_t>(m_));
    im_.resize(static_cast<std::size_t>(m_));
}

simd::fft_exact::Tables RealFft::tables() const {
    return {static_cast<std::size_t>(m_), bitrev_.data(), tw_re_.data(), tw_im_.data(), post_re_.data(), post_im_.data()};
}

void RealFft::forward(const double* x, std::complex<double>* out) {
    simd::fft_exact::forward(tables(), x, out, re_.data(), im_.data());
}

void RealFft::forward_complex64(const double* const* x, std::complex<float>* const* out, std::size_t count) {
    const simd::fft_exact::LanesKernel k = simd::fft_exact::lanes_kernel();
    const auto M = static_cast<std::size_t>(m_);
    // Two arrays of M vectors, 64-byte aligned (over-allocated by 8 doubles), then the bins
    // lanes side by side.
    lanes_buf_.resize(2 * M * k.lanes + 8);
    lanes_bins_.resize(2 * (M + 1) * k.lanes);
    const auto skip = (64 - reinterpret_cast<std::uintptr_t>(lanes_buf_.data()) % 64) % 64 / sizeof(double);
    const simd::fft_exact::Tables t = tables();
    const float* bins = lanes_bins_.data();
    std::vector<std::complex<double>> one(M + 1);
    for (std::size_t f = 0; f < count; f += k.lanes) {
        const std::size_t lanes = std::min(k.lanes, count - f);
        if (4 * lanes <= k.lanes) {  // a few frames left: one at a time costs less than a full vector
            for (std::size_t l = 0; l < lanes; ++l) {
                forward(x[f + l], one.data());
                for (std::size_t b = 0; b <= M; ++b) out[f + l][b] = std::complex<float>(one[b]);
            }
            continue;
        }
        const double* xs[8];
        for (std::size_t l = 0; l < k.lanes; ++l) xs[l] = x[f + std::min(l, lanes - 1)];  // spare lanes repeat the last frame
        k.run(t, xs, lanes_bins_.data(), lanes_buf_.data() + skip);
        for (std::size_t l = 0; l < lanes; ++l)
            for (std::size_t b = 0; b <= M; ++b) out[f + l][b] = {bins[2 * b * k.lanes + l], bins[(2 * b + 1) * k.lanes + l]};
    }
}

}  // namespace genrekit::fft_exact
