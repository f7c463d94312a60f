#include "dsp/fft_batch.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>

#include "genrekit/error.hpp"
#include "genrekit/stft.hpp"

namespace genrekit::fft_batch {

namespace {

// The kernels' buffer, aligned to a cache line.
float* reserve(const Plan& p, Scratch& s) {
    const std::size_t n = simd::fft::buffer_floats(p);
    if (s.buf.size() < n + 16) s.buf.resize(n + 16);
    const auto skip = (64 - reinterpret_cast<std::uintptr_t>(s.buf.data()) % 64) % 64 / sizeof(float);
    return s.buf.data() + skip;
}

}  // namespace

bool supported(int n_fft) { return n_fft >= 16 && (n_fft & (n_fft - 1)) == 0; }

Plan make_plan(int n_fft) {
    if (!supported(n_fft)) throw Error("fft_batch: n_fft = " + std::to_string(n_fft) + " is not a power of two >= 16");
    Plan p;
    p.n_fft = n_fft;
    p.half = n_fft / 2;
    const int M = p.half;
    int bits = 0;
    while ((1 << bits) < M) ++bits;
    p.bitrev.resize(static_cast<std::size_t>(M));
    for (int k = 0; k < M; ++k) {
        int r = 0;
        for (int b = 0; b < bits; ++b) r |= ((k >> b) & 1) << (bits - 1 - b);
        p.bitrev[static_cast<std::size_t>(k)] = r;
    }
    // Twiddles in double, rounded once to float32.
    const double two_pi = 2.0 * std::acos(-1.0);
    for (int k = 0; k < M; ++k) {
        p.post_re.push_back(static_cast<float>(std::cos(two_pi * k / n_fft)));
        p.post_im.push_back(static_cast<float>(std::sin(two_pi * k / n_fft)));
    }
    for (int sz = 1; sz < M; sz <<= 1)
        for (int j = 0; j < sz; ++j) {
            p.tw_re.push_back(static_cast<float>(std::cos(two_pi * j / (2.0 * sz))));
            p.tw_im.push_back(static_cast<float>(std::sin(two_pi * j / (2.0 * sz))));
        }
    const std::vector<double> w = hann_window(n_fft);
    p.window.assign(w.begin(), w.end());
    return p;
}

void forward(const Plan& plan, const float* const* frames, std::complex<float>* const* out, int lanes, Scratch& s) {
    simd::fft::forward(plan, frames, out, lanes, reserve(plan, s));
}

void inverse_overlap_add(const Plan& plan, const std::complex<float>* X, const float* gain, int nb, int nt, int t0,
                         int hop, Scratch& s, float* y) {
    simd::fft::inverse_overlap_add(plan, reinterpret_cast<const float*>(X), gain, nb, nt, t0, hop, reserve(plan, s), y);
}

}  // namespace genrekit::fft_batch
