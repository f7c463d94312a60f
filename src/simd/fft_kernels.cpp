#include "simd/fft_kernels.hpp"

#include <algorithm>
#include <cstring>

#include "simd/variants.hpp"
#include "simd/vec.hpp"

namespace genrekit::simd::fft {

namespace {

constexpr int L = kLanes;
// The FFT buffer interleaves re and im by position: position j holds re at j P and im at
// j P + L, one 64-byte cache line, so a bit-reversed store or a butterfly touches whole lines.
constexpr int P = 2 * L;
using V = V8f;
using VI = V8i;
using V4 = V4f;
using VZ = V16f;
using VZI = V16i;

// t = b * w (complex, w a scalar pair; conj w when Conj); b' = a - t; a' = a + t. With
// Conj, t is the same bits as b * (wr, -wi) would give (b (-wi) = -(b wi) exactly, and
// x - (-y) = x + y), without negating each twiddle before broadcasting it.
template <bool Conj>
[[gnu::always_inline]] inline void butterfly(V& ar, V& ai, V& br, V& bi, float wr, float wi) {
    const V tr = Conj ? br * wr + bi * wi : br * wr - bi * wi;
    const V ti = Conj ? bi * wr - br * wi : br * wi + bi * wr;
    br = ar - tr;
    bi = ai - ti;
    ar = ar + tr;
    ai = ai + ti;
}

// Radix-2 decimation-in-time butterflies over M points held as re/im (M x L each, input in
// bit-reversed order, output natural), with twiddles e^{sign 2 pi i j/(2 sz)}: sign +1 for the
// inverse, -1 (conjugate twiddles) for the forward transform.
//
// Memory traffic bounds this (the buffer is 64 KB for N = 2048, more than L1 holds), so
// stages sz and 2 sz run together: in a block of 4 sz, stage sz pairs
// (j, j+sz) and (j+2sz, j+3sz) with twiddle j, then stage 2 sz pairs (j, j+2sz) with twiddle
// j and (j+sz, j+3sz) with twiddle j+sz. A lone last stage runs by itself. Stages sz, 2 sz ..
// below sz_end run here over n points.
//
// With R8 (32 vector registers: the AVX-512 variant), stages sz, 2 sz, 4 sz run together
// first: in a block of 8 sz, the points j + t sz (t < 8) go through stage sz (t, t+1), stage
// 2 sz (t, t+2) with twiddles j, j+sz, and stage 4 sz (t, t+4) with twiddles j + t sz.
template <bool Forward, bool R8>
[[gnu::always_inline]] inline void dit_range(const Plan& p, float* re, float* im, int n, int sz, int sz_end) {
    const float* twr = p.tw_re.data();  // stage sz's twiddles start at sz - 1
    const float* twi = p.tw_im.data();
    // (The forward transform's conjugate twiddles are taken in the butterfly.)
    if constexpr (R8)
        for (; 8 * sz <= sz_end; sz *= 8)
            for (int g = 0; g < n; g += 8 * sz)
                for (int j = 0; j < sz; ++j) {
                    float* pr = re + (g + j) * P;
                    float* pi = im + (g + j) * P;
                    const std::ptrdiff_t d = static_cast<std::ptrdiff_t>(sz) * P;
                    V xr[8], xi[8];
                    for (int t = 0; t < 8; ++t) {
                        xr[t] = simd::load<V>(pr + t * d);
                        xi[t] = simd::load<V>(pi + t * d);
                    }
                    const int i1 = sz - 1 + j, i2 = 2 * sz - 1 + j, i4 = 4 * sz - 1 + j;
                    for (int t = 0; t < 8; t += 2)
                        butterfly<Forward>(xr[t], xi[t], xr[t + 1], xi[t + 1], twr[i1], twi[i1]);
                    for (int t = 0; t < 8; t += 4)
                        for (int u = 0; u < 2; ++u)
                            butterfly<Forward>(xr[t + u], xi[t + u], xr[t + u + 2], xi[t + u + 2], twr[i2 + u * sz],
                                               twi[i2 + u * sz]);
                    for (int u = 0; u < 4; ++u)
                        butterfly<Forward>(xr[u], xi[u], xr[u + 4], xi[u + 4], twr[i4 + u * sz], twi[i4 + u * sz]);
                    for (int t = 0; t < 8; ++t) {
                        simd::store(pr + t * d, xr[t]);
                        simd::store(pi + t * d, xi[t]);
                    }
                }
    for (; 4 * sz <= sz_end; sz *= 4) {
        const float* w1r = twr + (sz - 1);
        const float* w2r = twr + (2 * sz - 1);
        for (int g = 0; g < n; g += 4 * sz)
            for (int j = 0; j < sz; ++j) {
                float* pr = re + (g + j) * P;
                float* pi = im + (g + j) * P;
                const std::ptrdiff_t d = static_cast<std::ptrdiff_t>(sz) * P;
                V x0r = simd::load<V>(pr), x0i = simd::load<V>(pi);
                V x1r = simd::load<V>(pr + d), x1i = simd::load<V>(pi + d);
                V x2r = simd::load<V>(pr + 2 * d), x2i = simd::load<V>(pi + 2 * d);
                V x3r = simd::load<V>(pr + 3 * d), x3i = simd::load<V>(pi + 3 * d);
                butterfly<Forward>(x0r, x0i, x1r, x1i, w1r[j], twi[sz - 1 + j]);
                butterfly<Forward>(x2r, x2i, x3r, x3i, w1r[j], twi[sz - 1 + j]);
                butterfly<Forward>(x0r, x0i, x2r, x2i, w2r[j], twi[2 * sz - 1 + j]);
                butterfly<Forward>(x1r, x1i, x3r, x3i, w2r[j + sz], twi[2 * sz - 1 + j + sz]);
                simd::store(pr, x0r);
                simd::store(pi, x0i);
                simd::store(pr + d, x1r);
                simd::store(pi + d, x1i);
                simd::store(pr + 2 * d, x2r);
                simd::store(pi + 2 * d, x2i);
                simd::store(pr + 3 * d, x3r);
                simd::store(pi + 3 * d, x3i);
            }
    }
    if (2 * sz <= sz_end) {
        for (int g = 0; g < n; g += 2 * sz)
            for (int j = 0; j < sz; ++j) {
                float* pr = re + (g + j) * P;
                float* pi = im + (g + j) * P;
                const std::ptrdiff_t d = static_cast<std::ptrdiff_t>(sz) * P;
                V ar = simd::load<V>(pr), ai = simd::load<V>(pi), br = simd::load<V>(pr + d), bi = simd::load<V>(pi + d);
                butterfly<Forward>(ar, ai, br, bi, twr[sz - 1 + j], twi[sz - 1 + j]);
                simd::store(pr, ar);
                simd::store(pi, ai);
                simd::store(pr + d, br);
                simd::store(pi + d, bi);
            }
    }
}

// All stages of the M-point DFT. A stage of span sz acts within blocks of 2 sz points, so the
// stages below kBlock run block by block while the block (16 KB of re/im) stays in L1, and
// only the later stages pass over the whole buffer. Each element still sees the same
// butterflies in the same order, so the bits do not change.
constexpr int kBlock = 256;

template <bool Forward, bool R8>
[[gnu::always_inline]] inline void dit_stages(const Plan& p, float* re, float* im) {
    const int M = p.half;
    const int B = std::min(M, kBlock);
    for (int b = 0; b < M; b += B) dit_range<Forward, R8>(p, re + b * P, im + b * P, B, 1, B);
    dit_range<Forward, R8>(p, re, im, M, B, M);
}

// ---------------------------------------------------------------------------------------------
// The inverse transform's butterflies with 512-bit vectors (the AVX-512 variant): a point's re
// and im (one 64-byte line, see P) in one register, [re x L | im x L]. With t1 = b wr and
// t2 = swap(b) wi = [bi wi | br wi], t = [t1 - t2 | t1 + t2] is [br wr - bi wi | bi wr + br wi]:
// the same products, difference and sum as butterfly<false> (IEEE addition commutes), so the
// same bits, in about half the vector operations.
// ---------------------------------------------------------------------------------------------
[[gnu::always_inline]] inline void zbutterfly(VZ& a, VZ& b, float wr, float wi) {
    const VZ bs = simd::shuffle(b, VZI{8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7});
    const VZ t1 = b * wr, t2 = bs * wi;
    const VZ t = simd::shuffle(t1 - t2, t1 + t2,
                                   VZI{0, 1, 2, 3, 4, 5, 6, 7, 24, 25, 26, 27, 28, 29, 30, 31});
    b = a - t;
    a = a + t;
}

// dit_range<false, true> on 512-bit points: the same butterflies in the same order.
[[gnu::always_inline]] inline void dit_range_z(const Plan& p, float* buf, int n, int sz, int sz_end) {
    const float* twr = p.tw_re.data();
    const float* twi = p.tw_im.data();
    for (; 8 * sz <= sz_end; sz *= 8)
        for (int g = 0; g < n; g += 8 * sz)
            for (int j = 0; j < sz; ++j) {
                float* pp = buf + (g + j) * P;
                const std::ptrdiff_t d = static_cast<std::ptrdiff_t>(sz) * P;
                VZ x[8];
                for (int t = 0; t < 8; ++t) x[t] = simd::load<VZ>(pp + t * d);
                const int i1 = sz - 1 + j, i2 = 2 * sz - 1 + j, i4 = 4 * sz - 1 + j;
                for (int t = 0; t < 8; t += 2) zbutterfly(x[t], x[t + 1], twr[i1], twi[i1]);
                for (int t = 0; t < 8; t += 4)
                    for (int u = 0; u < 2; ++u) zbutterfly(x[t + u], x[t + u + 2], twr[i2 + u * sz], twi[i2 + u * sz]);
                for (int u = 0; u < 4; ++u) zbutterfly(x[u], x[u + 4], twr[i4 + u * sz], twi[i4 + u * sz]);
                for (int t = 0; t < 8; ++t) simd::store(pp + t * d, x[t]);
            }
    for (; 4 * sz <= sz_end; sz *= 4)
        for (int g = 0; g < n; g += 4 * sz)
            for (int j = 0; j < sz; ++j) {
                float* pp = buf + (g + j) * P;
                const std::ptrdiff_t d = static_cast<std::ptrdiff_t>(sz) * P;
                VZ x0 = simd::load<VZ>(pp), x1 = simd::load<VZ>(pp + d);
                VZ x2 = simd::load<VZ>(pp + 2 * d), x3 = simd::load<VZ>(pp + 3 * d);
                zbutterfly(x0, x1, twr[sz - 1 + j], twi[sz - 1 + j]);
                zbutterfly(x2, x3, twr[sz - 1 + j], twi[sz - 1 + j]);
                zbutterfly(x0, x2, twr[2 * sz - 1 + j], twi[2 * sz - 1 + j]);
                zbutterfly(x1, x3, twr[2 * sz - 1 + j + sz], twi[2 * sz - 1 + j + sz]);
                simd::store(pp, x0);
                simd::store(pp + d, x1);
                simd::store(pp + 2 * d, x2);
                simd::store(pp + 3 * d, x3);
            }
    if (2 * sz <= sz_end)
        for (int g = 0; g < n; g += 2 * sz)
            for (int j = 0; j < sz; ++j) {
                float* pp = buf + (g + j) * P;
                const std::ptrdiff_t d = static_cast<std::ptrdiff_t>(sz) * P;
                VZ a = simd::load<VZ>(pp), b = simd::load<VZ>(pp + d);
                zbutterfly(a, b, twr[sz - 1 + j], twi[sz - 1 + j]);
                simd::store(pp, a);
                simd::store(pp + d, b);
            }
}

[[gnu::always_inline]] inline void dit_stages_z(const Plan& p, float* buf) {
    const int M = p.half;
    const int B = std::min(M, kBlock);
    for (int b = 0; b < M; b += B) dit_range_z(p, buf + b * P, B, 1, B);
    dit_range_z(p, buf, M, B, M);
}

// ---------------------------------------------------------------------------------------------
// Forward. Per frame, with z[m] = w[2m] x[2m] + i w[2m+1] x[2m+1] and Z = DFT_M(z):
//   X[k]   = (F + T) / 2,  X[M-k] = conj(F - T) / 2,   k = 1 .. M/2 - 1,
//   F = Z[k] + conj Z[M-k],  T = -i (Z[k] - conj Z[M-k]) e^{-2 pi i k/N},
//   X[0] = Re Z[0] + Im Z[0],  X[M] = Re Z[0] - Im Z[0],  X[M/2] = conj Z[M/2].
// (the split KissFFT's kiss_fftr uses too). Frames enter through 8x8 register transposes into
// bit-reversed order; bins leave through transposes too, a block of 4 bins k.. and the 4
// mirrored bins ..M-k together, straight from the FFT buffer into the output columns.
// ---------------------------------------------------------------------------------------------
template <bool R8>
[[gnu::always_inline]] inline void forward_body(const Plan& p, const float* const* frames,
                                                std::complex<float>* const* out, int lanes, float* re, float* im) {
    const int M = p.half;
    const float* win = p.window.data();
    // 1. Window, transpose to positions x lanes, store z in bit-reversed order.
    for (int m0 = 0; m0 < M; m0 += 4) {
        V r[L];
        const V w = simd::load<V>(win + 2 * m0);
        for (int l = 0; l < L; ++l) r[l] = simd::load<V>(frames[l] + 2 * m0) * w;
        transpose8(r);  // r[2q], r[2q+1]: re, im of z[m0+q] across the lanes
        for (int q = 0; q < 4; ++q) {
            const int j = p.bitrev[static_cast<std::size_t>(m0 + q)];
            simd::store(re + j * P, r[2 * q]);
            simd::store(im + j * P, r[2 * q + 1]);
        }
    }
    // 2. Z = DFT_M(z), natural order.
    dit_stages<true, R8>(p, re, im);
    // 3. Split into the N/2 + 1 bins of each frame, 4 + 4 bins at a time.
    const V half = V{} + 0.5f;
    float* o[L];
    for (int l = 0; l < L; ++l) o[l] = reinterpret_cast<float*>(out[std::min(l, lanes - 1)]);
    for (int k0 = 0; k0 < M / 2; k0 += 4) {
        V lo[L], hi[L];  // lo: bins k0+q (re, im pairs); hi: bins M-k0-3+q
        for (int q = 0; q < 4; ++q) {
            const int k = k0 + q;
            const V ar = simd::load<V>(re + k * P), ai = simd::load<V>(im + k * P);
            V xr, xi, yr, yi;  // X[k], X[M-k]
            if (k == 0) {
                xr = ar + ai;
                xi = V{};
                yr = ar - ai;
                yi = V{};
            } else {
                const V br = simd::load<V>(re + (M - k) * P), bi = simd::load<V>(im + (M - k) * P);
                const float c = p.post_re[static_cast<std::size_t>(k)], sn = p.post_im[static_cast<std::size_t>(k)];
                const V fr = ar + br, fi = ai - bi;  // F = Z[k] + conj Z[M-k]
                const V gr = ai + bi, gi = br - ar;  // -i (Z[k] - conj Z[M-k])
                const V tr = gr * c + gi * sn, ti = gi * c - gr * sn;  // times e^{-2 pi i k/N}
                xr = (fr + tr) * half;
                xi = (fi + ti) * half;
                yr = (fr - tr) * half;
                yi = (ti - fi) * half;
            }
            lo[2 * q] = xr;
            lo[2 * q + 1] = xi;
            hi[2 * (3 - q)] = yr;
            hi[2 * (3 - q) + 1] = yi;
        }
        transpose8(lo);  // lo[l]: bins k0..k0+3 of frame l, interleaved
        transpose8(hi);
        for (int l = 0; l < lanes; ++l) {
            simd::store(o[l] + 2 * k0, lo[l]);
            simd::store(o[l] + 2 * (M - k0 - 3), hi[l]);
        }
    }
    // X[M/2] = conj Z[M/2]: the split formula with e^{-i pi/2} = -i.
    for (int l = 0; l < lanes; ++l) {
        o[l][M] = re[(M / 2) * P + l];
        o[l][M + 1] = -im[(M / 2) * P + l];
    }
}

// ---------------------------------------------------------------------------------------------
// Inverse STFT of X * gain for 8 frames. Per frame:
//   Z[k] = (X[k] + conj X[M-k]) + i (X[k] - conj X[M-k]) e^{+2 pi i k/N},  z = IDFT_M(Z),
//   x[2m] = Re z[m] / N, x[2m+1] = Im z[m] / N,
// then windowed and overlap-added as librosa's istft does. The two agree with KissFFT to ~1e-7
// of the signal's peak (see the tests).
// ---------------------------------------------------------------------------------------------
template <bool R8>
[[gnu::always_inline]] inline void inverse_body(const Plan& p, const float* X, const float* gain, int nb, int nt,
                                                int t0, int hop, float* re, float* im, float* y) {
    const int M = p.half;
    // 1. Z in bit-reversed order from the scaled bins of L frames (X * gain, as hpss's
    //    apply_mask computes it). Bins k0..k0+3 and their mirrors M-k0-3..M-k0 are gathered
    //    together, so each Z[k] and Z[M-k] comes straight from registers. Four bins of a frame
    //    are 8 interleaved floats, times the gain with each value repeated; a transpose of 8
    //    frames then gives re, im of the 4 bins across the lanes.
    const float* xc[L];
    const float* mc[L];
    for (int l = 0; l < L; ++l) {
        const std::ptrdiff_t col = std::min(t0 + l, nt - 1);
        xc[l] = X + 2 * col * nb;
        mc[l] = gain + col * nb;
    }
    auto gather4 = [&](int k, V* r) {  // r[2q], r[2q+1]: re, im of bin k+q across the lanes
        for (int l = 0; l < L; ++l) {
            // Four gains widened by a register shuffle (a 16-byte copy into the low half of a
            // zeroed 32-byte vector went through the stack and stalled on store forwarding).
            V4 m;
            std::memcpy(&m, mc[l] + k, sizeof m);
            r[l] = simd::load<V>(xc[l] + 2 * k) * __builtin_shufflevector(m, m, 0, 0, 1, 1, 2, 2, 3, 3);
        }
        transpose8(r);
    };
    auto store_z = [&](int k, const V& ar, const V& ai, const V& br, const V& bi) {  // a: bin k, b: bin M-k
        const float c = p.post_re[static_cast<std::size_t>(k)], sn = p.post_im[static_cast<std::size_t>(k)];
        const V er = ar + br, ei = ai - bi;  // X[k] + conj X[M-k]
        const V dr = ar - br, di = ai + bi;  // X[k] - conj X[M-k]
        const V orr = dr * c - di * sn, oi = dr * sn + di * c;
        const int j = p.bitrev[static_cast<std::size_t>(k)];
        simd::store(re + j * P, er - oi);
        simd::store(im + j * P, ei + orr);
    };
    // X is read once, from memory: ask for the same bins of the next L frames (the next call's,
    // or past the end, which a prefetch may address harmlessly) a cache line at a time.
    const std::ptrdiff_t ahead = 2 * static_cast<std::ptrdiff_t>(L) * nb;
    for (int k0 = 0; k0 < M / 2; k0 += 4) {
        V lo[L], hi[L];  // bins k0+q; bins M-k0-3+q
        if (k0 % 8 == 0)
            for (int l = 0; l < L; ++l) {
                __builtin_prefetch(xc[l] + ahead + 2 * k0, 0, 2);
                __builtin_prefetch(xc[l] + ahead + 2 * (M - k0 - 3), 0, 2);
            }
        gather4(k0, lo);
        gather4(M - k0 - 3, hi);
        for (int q = 0; q < 4; ++q) {
            store_z(k0 + q, lo[2 * q], lo[2 * q + 1], hi[2 * (3 - q)], hi[2 * (3 - q) + 1]);
            if (k0 > 0 || q < 3)  // not bin M itself
                store_z(M - k0 - 3 + q, hi[2 * q], hi[2 * q + 1], lo[2 * (3 - q)], lo[2 * (3 - q) + 1]);
        }
    }
    {  // Z[M/2], its own mirror
        V ar, ai;
        for (int l = 0; l < L; ++l) {
            const float m = mc[l][M / 2];
            ar[l] = xc[l][M] * m;
            ai[l] = xc[l][M + 1] * m;
        }
        store_z(M / 2, ar, ai, ar, ai);
    }
    // 2. z = IDFT_M(Z).
    if constexpr (R8)
        dit_stages_z(p, re);  // re: the buffer, re and im interleaved by line
    else
        dit_stages<false, R8>(p, re, im);
    // 3. Scale, window and overlap-add each frame: y[(t0+l) hop + 2m (+1)] += win * (z * scale).
    //    Frames must be added in order. Two lanes l1 < l2 meet at a sample from m1 > m2 (the
    //    later frame starts later), so taking blocks of 8 m from the top down, lanes in order
    //    within a block, keeps that order as long as one block never holds both (hop >= 32).
    const float scale = 1.0f / static_cast<float>(p.n_fft);
    const float* win = p.window.data();
    const int lanes = std::min(L, nt - t0);
    if (hop >= 32 && M % 8 == 0) {
        for (int m0 = M - 8; m0 >= 0; m0 -= 8) {
            V r[L], q[L];
            for (int i = 0; i < 8; ++i) {
                r[i] = simd::load<V>(re + (m0 + i) * P);
                q[i] = simd::load<V>(im + (m0 + i) * P);
            }
            transpose8(r);  // r[l] = re of m0..m0+7 for lane l
            transpose8(q);
            const V w0 = simd::load<V>(win + 2 * m0), w1 = simd::load<V>(win + 2 * m0 + 8);
            for (int l = 0; l < lanes; ++l) {
                const V zr = r[l] * scale, zi = q[l] * scale;
                const V lo = simd::shuffle(zr, zi, VI{0, 8, 1, 9, 2, 10, 3, 11});
                const V hi = simd::shuffle(zr, zi, VI{4, 12, 5, 13, 6, 14, 7, 15});
                float* dst = y + static_cast<std::ptrdiff_t>(t0 + l) * hop + 2 * m0;
                simd::store(dst, simd::load<V>(dst) + w0 * lo);
                simd::store(dst + 8, simd::load<V>(dst + 8) + w1 * hi);
            }
        }
        return;
    }
    for (int l = 0; l < lanes; ++l) {
        float* dst = y + static_cast<std::ptrdiff_t>(t0 + l) * hop;
        for (int m = 0; m < M; ++m) {
            dst[2 * m] += win[2 * m] * (re[m * P + l] * scale);
            dst[2 * m + 1] += win[2 * m + 1] * (im[m * P + l] * scale);
        }
    }
}

// Compiled for the x86-64 baseline, AVX2 and AVX-512. The AVX-512 variant keeps 8 lanes of
// 256 bits (a 16-lane working set of 128 KB spills out of L1 and measured slower), but uses
// the 32 registers for the three-stage passes (R8).
#define GENREKIT_FFT_VARIANT(NS, ATTR, ISA)                                                                      \
    namespace NS {                                                                                              \
    ATTR void forward(const Plan& p, const float* const* frames, std::complex<float>* const* out, int lanes,    \
                      float* re, float* im) {                                                                   \
        forward_body<ISA == Isa::avx512>(p, frames, out, lanes, re, im);                                        \
    }                                                                                                           \
    ATTR void inverse(const Plan& p, const float* X, const float* gain, int nb, int nt, int t0, int hop,        \
                      float* re, float* im, float* y) {                                                         \
        inverse_body<ISA == Isa::avx512>(p, X, gain, nb, nt, t0, hop, re, im, y);                               \
    }                                                                                                           \
    }

GENREKIT_SIMD_STAMP(GENREKIT_FFT_VARIANT)

}  // namespace

void forward(const Plan& p, const float* const* frames, std::complex<float>* const* out, int lanes, float* buf) {
    GENREKIT_SIMD_PICK(forward)(p, frames, out, std::clamp(lanes, 1, L), buf, buf + L);
}

void inverse_overlap_add(const Plan& p, const float* X, const float* gain, int nb, int nt, int t0, int hop, float* buf,
                         float* y) {
    GENREKIT_SIMD_PICK(inverse)(p, X, gain, nb, nt, t0, hop, buf, buf + L, y);
}

}  // namespace genrekit::simd::fft
