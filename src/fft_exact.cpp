#include "fft_exact.hpp"

#include <cmath>
#include <numbers>
#include <string>

#include "genrekit/error.hpp"
#include "vector_access.hpp"

namespace genrekit::fft_exact {

namespace {

using D4 = double __attribute__((vector_size(32)));

// Stages s, 2s, ... < M (s >= 4) of the radix-2 FFT, four butterflies per vector. Compiled for
// AVX2 too (chosen at load time): the bits are the same either way (no FMA contraction).
[[gnu::target_clones("avx2", "default")]] void radix2_stages(double* re, double* im, std::size_t M, std::size_t s,
                                                             const double* twr, const double* twi) {
    for (; s < M; s <<= 1) {
        const double* wr = twr + (s - 1);
        const double* wi = twi + (s - 1);
        for (std::size_t g = 0; g < M; g += 2 * s)
            for (std::size_t j = 0; j < s; j += 4) {
                const D4 w_r = simd::load<D4>(wr + j), w_i = simd::load<D4>(wi + j);
                const D4 a_r = simd::load<D4>(re + g + j), a_i = simd::load<D4>(im + g + j);
                const D4 b_r = simd::load<D4>(re + g + s + j), b_i = simd::load<D4>(im + g + s + j);
                const D4 tr = b_r * w_r - b_i * w_i, ti = b_r * w_i + b_i * w_r;
                simd::store(re + g + s + j, a_r - tr);
                simd::store(im + g + s + j, a_i - ti);
                simd::store(re + g + j, a_r + tr);
                simd::store(im + g + j, a_i + ti);
            }
    }
}

}  // namespace

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

void RealFft::forward(const double* x, std::complex<double>* out) {
    const auto M = static_cast<std::size_t>(m_);
    double* __restrict re = re_.data();
    double* __restrict im = im_.data();
    for (std::size_t m = 0; m < M; ++m) {
        const auto j = static_cast<std::size_t>(bitrev_[m]);
        re[j] = x[2 * m];
        im[j] = x[2 * m + 1];
    }
    // Z = DFT_M(z): radix-2 decimation in time, stage s pairing (j, j + s) in blocks of 2 s.
    // Stages 1 and 2 have the twiddles 1 and -i: one pass over blocks of four, no multiplies.
    std::size_t s = 1;
    if (M >= 4) {
        for (std::size_t g = 0; g < M; g += 4) {
            const double a0r = re[g] + re[g + 1], a0i = im[g] + im[g + 1];
            const double a1r = re[g] - re[g + 1], a1i = im[g] - im[g + 1];
            const double a2r = re[g + 2] + re[g + 3], a2i = im[g + 2] + im[g + 3];
            const double a3r = re[g + 2] - re[g + 3], a3i = im[g + 2] - im[g + 3];
            re[g] = a0r + a2r;
            im[g] = a0i + a2i;
            re[g + 2] = a0r - a2r;
            im[g + 2] = a0i - a2i;
            // -i (a3r + i a3i) = a3i - i a3r
            re[g + 1] = a1r + a3i;
            im[g + 1] = a1i - a3r;
            re[g + 3] = a1r - a3i;
            im[g + 3] = a1i + a3r;
        }
        s = 4;
    } else if (M == 2) {  // n = 4: the single stage 1
        const double r0 = re[0], i0 = im[0];
        re[0] = r0 + re[1];
        im[0] = i0 + im[1];
        re[1] = r0 - re[1];
        im[1] = i0 - im[1];
        s = 2;
    }
    radix2_stages(re, im, M, s, tw_re_.data(), tw_im_.data());
    // The real split: with F = Z[k] + conj Z[M-k], D = Z[k] - conj Z[M-k] and w = e^{-2 pi i k/N},
    // X[k] = (F - i w D) / 2 and X[M-k] = conj(F + i w D) / 2.
    out[0] = {re[0] + im[0], 0.0};
    out[M] = {re[0] - im[0], 0.0};
    for (std::size_t k = 1; k <= M / 2; ++k) {
        const std::size_t q = M - k;
        const double fr = re[k] + re[q], fi = im[k] - im[q];
        const double dr = re[k] - re[q], di = im[k] + im[q];
        const double c = post_re_[k], sn = post_im_[k];
        const double wdr = c * dr - sn * di, wdi = c * di + sn * dr;  // w D
        // -i w D = (wdi, -wdr)
        out[k] = {0.5 * (fr + wdi), 0.5 * (fi - wdr)};
        out[q] = {0.5 * (fr - wdi), -0.5 * (fi + wdr)};
    }
}

}  // namespace genrekit::fft_exact
