#include "simd/fft_exact_kernels.hpp"

#include <algorithm>

#include "simd/variants.hpp"
#include "simd/vec.hpp"

namespace genrekit::simd::fft_exact {

namespace {

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

// Stages s, 2s, ... < M (s >= 4) of the radix-2 FFT, four butterflies per vector: the bits are
// the same for every variant (no FMA contraction).
[[gnu::always_inline]] inline void radix2_stages_body(double* re, double* im, std::size_t M, std::size_t s,
                                                      const double* twr, const double* twi) {
    for (; s < M; s <<= 1) {
        const double* wr = twr + (s - 1);
        const double* wi = twi + (s - 1);
        for (std::size_t g = 0; g < M; g += 2 * s)
            for (std::size_t j = 0; j < s; j += 4) {
                const V4d w_r = load<V4d>(wr + j), w_i = load<V4d>(wi + j);
                const V4d a_r = load<V4d>(re + g + j), a_i = load<V4d>(im + g + j);
                const V4d b_r = load<V4d>(re + g + s + j), b_i = load<V4d>(im + g + s + j);
                const V4d tr = b_r * w_r - b_i * w_i, ti = b_r * w_i + b_i * w_r;
                store(re + g + s + j, a_r - tr);
                store(im + g + s + j, a_i - ti);
                store(re + g + j, a_r + tr);
                store(im + g + j, a_i + ti);
            }
    }
}

#define GENREKIT_FFT_EXACT_STAGES_VARIANT(NS, ATTR, ISA)                                                      \
    namespace NS {                                                                                            \
    ATTR void radix2_stages(double* re, double* im, std::size_t M, std::size_t s, const double* twr,          \
                            const double* twi) {                                                              \
        radix2_stages_body(re, im, M, s, twr, twi);                                                           \
    }                                                                                                         \
    }

GENREKIT_SIMD_STAMP(GENREKIT_FFT_EXACT_STAGES_VARIANT)

}  // namespace

void forward(const Tables& t, const double* x, std::complex<double>* out, double* __restrict re,
             double* __restrict im) {
    const std::size_t M = t.M;
    for (std::size_t m = 0; m < M; ++m) {
        const auto j = static_cast<std::size_t>(t.bitrev[m]);
        re[j] = x[2 * m];
        im[j] = x[2 * m + 1];
    }
    // Z = DFT_M(z): radix-2 decimation in time, stage s pairing (j, j + s) in blocks of 2 s.
    const std::size_t s = first_stages(re, im, M);
    GENREKIT_SIMD_PICK(radix2_stages)(re, im, M, s, t.tw_re, t.tw_im);
    // The real split: with F = Z[k] + conj Z[M-k], D = Z[k] - conj Z[M-k] and w = e^{-2 pi i k/N},
    // X[k] = (F - i w D) / 2 and X[M-k] = conj(F + i w D) / 2.
    out[0] = {re[0] + im[0], 0.0};
    out[M] = {re[0] - im[0], 0.0};
    for (std::size_t k = 1; k <= M / 2; ++k) {
        const std::size_t q = M - k;
        const double fr = re[k] + re[q], fi = im[k] - im[q];
        const double dr = re[k] - re[q], di = im[k] + im[q];
        const double c = t.post_re[k], sn = t.post_im[k];
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

// The float vector with as many lanes as V.
template <class V>
struct FloatLanes;
template <>
struct FloatLanes<V4d> {
    using type = V4f;
};
template <>
struct FloatLanes<V8d> {
    using type = V8f;
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
    auto store = [bins](std::size_t k, const V& xr, const V& xi) {
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

// Four frames at a time on the baseline and AVX2 variants, eight with AVX-512.
#define GENREKIT_FFT_EXACT_LANES_VARIANT(NS, ATTR, ISA)                                          \
    namespace NS {                                                                               \
    using V = ByIsa<ISA, V4d, V4d, V8d>;                                                         \
    ATTR void forward_lanes(const Tables& t, const double* const* x, float* bins, double* buf) { \
        V* re = reinterpret_cast<V*>(buf);                                                       \
        forward_lanes_body<V>(t, x, bins, re, re + t.M);                                         \
    }                                                                                            \
    constexpr LanesKernel lanes{forward_lanes, sizeof(V) / sizeof(double)};                      \
    }

GENREKIT_SIMD_STAMP(GENREKIT_FFT_EXACT_LANES_VARIANT)

}  // namespace

LanesKernel lanes_kernel() { return GENREKIT_SIMD_PICK(lanes); }

}  // namespace genrekit::simd::fft_exact
