#include "dsp/fft_exact.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numbers>
#include <string>

#include "genrekit/error.hpp"
#include "simd/vec.hpp"


namespace genrekit::fft_exact {

namespace {

using D4 = double __attribute__((vector_size(32)));

// Stages 1 and 2 of the radix-2 FFT over M points (twiddles 1 and -i: one pass over blocks of
// four, no multiplies), or the single stage 1 when M = 2; returns the next stage's span. T is
// double (one frame) or a vector of frames (forward_lanes_body): the same operations per value.
template <class T>
[[gnu::always_inline]] inline std::size_t first_stages(T* re, T* im, std::size_t M) {
    if (M >= 4) {
        for (std::size_t g = 0; g < M; g += 4) {
            const T a0r = re[g] + re[g + 1], a0i = im[g] + im[g + 1];
            const T a1r = re[g] - re[g + 1], a1i = im[g] - im[g + 1];
            const T a2r = re[g + 2] + re[g + 3], a2i = im[g + 2] + im[g + 3];
            const T a3r = re[g + 2] - re[g + 3], a3i = im[g + 2] - im[g + 3];
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
        return 4;
    }
    if (M == 2) {  // n = 4: the single stage 1
        const T r0 = re[0], i0 = im[0];
        re[0] = r0 + re[1];
        im[0] = i0 + im[1];
        re[1] = r0 - re[1];
        im[1] = i0 - im[1];
        return 2;
    }
    return 1;
}

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
    const std::size_t s = first_stages(re, im, M);
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


// ---------------------------------------------------------------------------------------------
// Several frames at once: "vertical" vectors whose lane l holds frame l, so every operation of
// forward() is one vector operation on W frames, in forward()'s order: the same bits per frame.
// ---------------------------------------------------------------------------------------------

namespace {

using D8 = double __attribute__((vector_size(64)));

// The float vector with as many lanes as V (GCC vector extensions need a concrete size).
template <class V>
struct FloatLanes;
template <>
struct FloatLanes<D4> {
    using type = float __attribute__((vector_size(16)));
};
template <>
struct FloatLanes<D8> {
    using type = float __attribute__((vector_size(32)));
};

struct Tables {
    std::size_t M;
    const int* bitrev;
    const double *tw_re, *tw_im, *post_re, *post_im;
};

// Stages below this span run block by block while the block (re and im, W lanes) is in L1;
// each butterfly still sees the same operands, so the order does not change any value.
constexpr std::size_t kBlock = 128;

// One radix-2 butterfly with twiddle (w_r, w_i), as radix2_stages computes it.
template <class V>
[[gnu::always_inline]] inline void butterfly(V& a_r, V& a_i, V& b_r, V& b_i, double w_r, double w_i) {
    const V tr = b_r * w_r - b_i * w_i, ti = b_r * w_i + b_i * w_r;
    b_r = a_r - tr;
    b_i = a_i - ti;
    a_r = a_r + tr;
    a_i = a_i + ti;
}

// Stages s, 2 s, ... below s_end over n points. Three stages at a time where they fit (the
// eight points j + t s of a block of 8 s go through stages s, 2 s and 4 s in registers), so
// the stages that run over the whole buffer (beyond L1) pass over it a third as often; every
// point meets the same butterflies, in the same stage order, as one stage at a time.
template <class V>
[[gnu::always_inline]] inline void butterflies(V* re, V* im, std::size_t n, std::size_t s, std::size_t s_end,
                                               const double* twr, const double* twi) {
    for (; 8 * s <= s_end; s *= 8)
        for (std::size_t g = 0; g < n; g += 8 * s)
            for (std::size_t j = 0; j < s; ++j) {
                V xr[8], xi[8];
                for (std::size_t u = 0; u < 8; ++u) {
                    xr[u] = re[g + j + u * s];
                    xi[u] = im[g + j + u * s];
                }
                const std::size_t i1 = s - 1 + j, i2 = 2 * s - 1 + j, i4 = 4 * s - 1 + j;
                for (std::size_t u = 0; u < 8; u += 2) butterfly(xr[u], xi[u], xr[u + 1], xi[u + 1], twr[i1], twi[i1]);
                for (std::size_t u = 0; u < 8; u += 4)
                    for (std::size_t v = 0; v < 2; ++v)
                        butterfly(xr[u + v], xi[u + v], xr[u + v + 2], xi[u + v + 2], twr[i2 + v * s], twi[i2 + v * s]);
                for (std::size_t u = 0; u < 4; ++u)
                    butterfly(xr[u], xi[u], xr[u + 4], xi[u + 4], twr[i4 + u * s], twi[i4 + u * s]);
                for (std::size_t u = 0; u < 8; ++u) {
                    re[g + j + u * s] = xr[u];
                    im[g + j + u * s] = xi[u];
                }
            }
    for (; s < s_end; s <<= 1)
        for (std::size_t g = 0; g < n; g += 2 * s)
            for (std::size_t j = 0; j < s; ++j) butterfly(re[g + j], im[g + j], re[g + s + j], im[g + s + j], twr[s - 1 + j], twi[s - 1 + j]);
}

// forward() of frames x[0 .. W-1] rounded to complex64: bin k of frame l into bins[2 k W + l]
// (re) and bins[(2 k + 1) W + l] (im); re and im hold M vectors each.
template <class V>
[[gnu::always_inline]] inline void forward_lanes_body(const Tables& t, const double* const* x, float* bins, V* re,
                                                      V* im) {
    constexpr std::size_t W = sizeof(V) / sizeof(double);
    const std::size_t M = t.M;
    for (std::size_t m = 0; m < M; ++m) {  // built in registers, then stored whole
        V r, i;
        for (std::size_t l = 0; l < W; ++l) {
            r[l] = x[l][2 * m];
            i[l] = x[l][2 * m + 1];
        }
        const auto j = static_cast<std::size_t>(t.bitrev[m]);
        re[j] = r;
        im[j] = i;
    }
    const std::size_t s = first_stages(re, im, M);
    const std::size_t B = std::min(M, kBlock);
    for (std::size_t b = 0; b < M; b += B) butterflies(re + b, im + b, B, s, std::max(s, B), t.tw_re, t.tw_im);
    butterflies(re, im, M, std::max(s, B), M, t.tw_re, t.tw_im);
    // The bins of frame l rounded to complex64. ref: librosa 0.7.2 stft stores complex64.
    using F = typename FloatLanes<V>::type;
    auto store = [bins](std::size_t k, V xr, V xi) {
        simd::store(bins + 2 * k * W, __builtin_convertvector(xr, F));
        simd::store(bins + (2 * k + 1) * W, __builtin_convertvector(xi, F));
    };
    store(0, re[0] + im[0], V{});
    store(M, re[0] - im[0], V{});
    for (std::size_t k = 1; k <= M / 2; ++k) {
        const std::size_t q = M - k;
        const V fr = re[k] + re[q], fi = im[k] - im[q];
        const V dr = re[k] - re[q], di = im[k] + im[q];
        const double c = t.post_re[k], sn = t.post_im[k];
        const V wdr = c * dr - sn * di, wdi = c * di + sn * dr;
        store(k, 0.5 * (fr + wdi), 0.5 * (fi - wdr));
        store(q, 0.5 * (fr - wdi), -0.5 * (fi + wdr));
    }
}

using LanesKernel = void (*)(const Tables&, const double* const*, float*, double*);

#define GENREKIT_EXACT_LANES(SUFFIX, ATTR, V)                                                                     \
    [[maybe_unused]] ATTR void forward_lanes_##SUFFIX(const Tables& t, const double* const* x, float* bins, double* buf) { \
        V* re = reinterpret_cast<V*>(buf);                                                                         \
        forward_lanes_body<V>(t, x, bins, re, re + t.M);                                                           \
    }

struct LanesKernels {
    LanesKernel kernel;
    std::size_t lanes;
};

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__AVX2__)
GENREKIT_EXACT_LANES(base, , D4)
GENREKIT_EXACT_LANES(avx2, [[gnu::target("avx2")]], D4)
GENREKIT_EXACT_LANES(avx512, [[gnu::target("avx2,avx512f")]], D8)
LanesKernels select_lanes_kernel() {
    if (__builtin_cpu_supports("avx512f")) return {forward_lanes_avx512, 8};
    if (__builtin_cpu_supports("avx2")) return {forward_lanes_avx2, 4};
    return {forward_lanes_base, 4};
}
#else
GENREKIT_EXACT_LANES(native, , D4)
LanesKernels select_lanes_kernel() { return {forward_lanes_native, 4}; }
#endif

// Chosen once; every variant gives forward()'s bits.
const LanesKernels& lanes_kernel() {
    static const LanesKernels k = select_lanes_kernel();
    return k;
}

}  // namespace

void RealFft::forward_complex64(const double* const* x, std::complex<float>* const* out, std::size_t count) {
    const LanesKernels& k = lanes_kernel();
    const auto M = static_cast<std::size_t>(m_);
    // Two arrays of M vectors, 64-byte aligned (over-allocated by 8 doubles), then the bins
    // lanes side by side.
    lanes_buf_.resize(2 * M * k.lanes + 8);
    lanes_bins_.resize(2 * (M + 1) * k.lanes);
    const auto skip = (64 - reinterpret_cast<std::uintptr_t>(lanes_buf_.data()) % 64) % 64 / sizeof(double);
    const Tables t{M, bitrev_.data(), tw_re_.data(), tw_im_.data(), post_re_.data(), post_im_.data()};
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
        k.kernel(t, xs, lanes_bins_.data(), lanes_buf_.data() + skip);
        for (std::size_t l = 0; l < lanes; ++l)
            for (std::size_t b = 0; b <= M; ++b) out[f + l][b] = {bins[2 * b * k.lanes + l], bins[(2 * b + 1) * k.lanes + l]};
    }
}

}  // namespace genrekit::fft_exact
