#include "fft_exact.hpp"

#include <cmath>
#include <numbers>
#include <string>

#include "genrekit/error.hpp"

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

void RealFft::forward(const double* x, std::complex<double>* out) {
    const auto M = static_cast<std::size_t>(m_);
    double* re = re_.data();
    double* im = im_.data();
    for (std::size_t m = 0; m < M; ++m) {
        const auto j = static_cast<std::size_t>(bitrev_[m]);
        re[j] = x[2 * m];
        im[j] = x[2 * m + 1];
    }
    // Z = DFT_M(z): radix-2 decimation in time, stage s pairing (j, j + s) in blocks of 2 s.
    const double* twr = tw_re_.data();
    const double* twi = tw_im_.data();
    for (std::size_t s = 1; s < M; s <<= 1) {
        const double* wr = twr + (s - 1);
        const double* wi = twi + (s - 1);
        for (std::size_t g = 0; g < M; g += 2 * s)
            for (std::size_t j = 0; j < s; ++j) {
                const std::size_t a = g + j, b = a + s;
                const double tr = re[b] * wr[j] - im[b] * wi[j], ti = re[b] * wi[j] + im[b] * wr[j];
                re[b] = re[a] - tr;
                im[b] = im[a] - ti;
                re[a] += tr;
                im[a] += ti;
            }
    }
    // The real split: with F = Z[k] + conj Z[M-k], D = Z[k] - conj Z[M-k] and w = e^{-2 pi i k/N},
    // X[k] = (F - i w D) / 2 and X[M-k] = conj(F + i w D) / 2.
    out[0] = {re[0] + im[0], 0.0};
    out[M] = {re[0] - im[0], 0.0};
    for (std::size_t k = 1; k <= M / 2; ++k) {
        const std::size_t q = M - k;
        const double fr = re[k] + re[q], fi = im[k] - im[q];
        const double dr = re[k] - re[q], di = im[k] + im[q];
        const double c = post_re_[k], s = post_im_[k];
        const double wdr = c * dr - s * di, wdi = c * di + s * dr;  // w D
        // -i w D = (wdi, -wdr)
        out[k] = {0.5 * (fr + wdi), 0.5 * (fi - wdr)};
        out[q] = {0.5 * (fr - wdi), -0.5 * (fi + wdr)};
    }
}

}  // namespace genrekit::fft_exact
