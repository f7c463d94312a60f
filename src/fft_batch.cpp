#include "fft_batch.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "genrekit/error.hpp"
#include "genrekit/stft.hpp"

// The 8-lane vector helpers below have internal linkage, so the ABI note about passing AVX
// vectors without AVX enabled does not concern any caller.
#pragma GCC diagnostic ignored "-Wpsabi"
// No fused multiply-add contraction: the variants compiled for wider ISAs (AVX-512 has FMA)
// must give the same bits as the baseline.
#pragma GCC optimize("fp-contract=off")

namespace genrekit::fft_batch {

namespace {

constexpr int L = kLanes;
using V = float __attribute__((vector_size(32)));
using VI = int __attribute__((vector_size(32)));
using V4 = float __attribute__((vector_size(16)));

[[gnu::always_inline]] inline V loadv(const float* p) {
    V v;
    std::memcpy(&v, p, sizeof v);
    return v;
}

[[gnu::always_inline]] inline void storev(float* p, V v) { std::memcpy(p, &v, sizeof v); }

// In-place transpose of an 8x8 block held in 8 vectors: afterwards r[j][l] is the old r[l][j].
[[gnu::always_inline]] inline void transpose8(V* r) {
    V t[8], u[8];
    for (int i = 0; i < 8; i += 2) {
        t[i] = __builtin_shuffle(r[i], r[i + 1], VI{0, 8, 1, 9, 4, 12, 5, 13});
        t[i + 1] = __builtin_shuffle(r[i], r[i + 1], VI{2, 10, 3, 11, 6, 14, 7, 15});
    }
    for (int i = 0; i < 8; i += 4)
        for (int h = 0; h < 2; ++h) {
            u[i + 2 * h] = __builtin_shuffle(t[i + h], t[i + h + 2], VI{0, 1, 8, 9, 4, 5, 12, 13});
            u[i + 2 * h + 1] = __builtin_shuffle(t[i + h], t[i + h + 2], VI{2, 3, 10, 11, 6, 7, 14, 15});
        }
    // u[0..3] hold rows 0..3 of the result's lanes 0-3 | 4-7 halves from inputs 0-3; u[4..7] from inputs 4-7.
    for (int j = 0; j < 4; ++j) {
        r[j] = __builtin_shuffle(u[j], u[j + 4], VI{0, 1, 2, 3, 8, 9, 10, 11});
        r[j + 4] = __builtin_shuffle(u[j], u[j + 4], VI{4, 5, 6, 7, 12, 13, 14, 15});
    }
}

// t = b * w (complex, w a scalar pair); b' = a - t; a' = a + t.
[[gnu::always_inline]] inline void butterfly(V& ar, V& ai, V& br, V& bi, float wr, float wi) {
    const V tr = br * wr - bi * wi, ti = br * wi + bi * wr;
    br = ar - tr;
    bi = ai - ti;
    ar = ar + tr;
    ai = ai + ti;
}

// Radix-2 decimation-in-time butterflies over M points held as re/im (M x L each, input in
// bit-reversed order, output natural), with twiddles e^{sign 2 pi i j/(2 sz)}: sign +1 for the
// inverse, -1 (conjugate twiddles) for the forward transform.
//
// Memory traffic bounds this (the buffers are 32 KB each for N = 2048), so stages sz and 2 sz
// run together: in a block of 4 sz, stage sz pairs (j, j+sz) and (j+2sz, j+3sz) with twiddle
// j, then stage 2 sz pairs (j, j+2sz) with twiddle j and (j+sz, j+3sz) with twiddle j+sz. A
// lone last stage runs by itself. Each element sees the same operations as stage by stage.
template <bool Forward>
[[gnu::always_inline]] inline void dit_stages(const Plan& p, float* re, float* im) {
    const int M = p.half;
    const float* twr = p.tw_re.data();  // stage sz's twiddles start at sz - 1
    const float* twi = p.tw_im.data();
    auto wi = [&](int i) { return Forward ? -twi[i] : twi[i]; };
    int sz = 1;
    for (; 4 * sz <= M; sz *= 4) {
        const float* w1r = twr + (sz - 1);
        const float* w2r = twr + (2 * sz - 1);
        for (int g = 0; g < M; g += 4 * sz)
            for (int j = 0; j < sz; ++j) {
                float* pr = re + (g + j) * L;
                float* pi = im + (g + j) * L;
                const std::ptrdiff_t d = static_cast<std::ptrdiff_t>(sz) * L;
                V x0r = loadv(pr), x0i = loadv(pi);
                V x1r = loadv(pr + d), x1i = loadv(pi + d);
                V x2r = loadv(pr + 2 * d), x2i = loadv(pi + 2 * d);
                V x3r = loadv(pr + 3 * d), x3i = loadv(pi + 3 * d);
                butterfly(x0r, x0i, x1r, x1i, w1r[j], wi(sz - 1 + j));
                butterfly(x2r, x2i, x3r, x3i, w1r[j], wi(sz - 1 + j));
                butterfly(x0r, x0i, x2r, x2i, w2r[j], wi(2 * sz - 1 + j));
                butterfly(x1r, x1i, x3r, x3i, w2r[j + sz], wi(2 * sz - 1 + j + sz));
                storev(pr, x0r);
                storev(pi, x0i);
                storev(pr + d, x1r);
                storev(pi + d, x1i);
                storev(pr + 2 * d, x2r);
                storev(pi + 2 * d, x2i);
                storev(pr + 3 * d, x3r);
                storev(pi + 3 * d, x3i);
            }
    }
    if (2 * sz <= M) {
        for (int j = 0; j < sz; ++j) {
            float* pr = re + j * L;
            float* pi = im + j * L;
            const std::ptrdiff_t d = static_cast<std::ptrdiff_t>(sz) * L;
            V ar = loadv(pr), ai = loadv(pi), br = loadv(pr + d), bi = loadv(pi + d);
            butterfly(ar, ai, br, bi, twr[sz - 1 + j], wi(sz - 1 + j));
            storev(pr, ar);
            storev(pi, ai);
            storev(pr + d, br);
            storev(pi + d, bi);
        }
    }
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
[[gnu::always_inline]] inline void forward_body(const Plan& p, const float* const* frames,
                                                std::complex<float>* const* out, int lanes, float* re, float* im) {
    const int M = p.half;
    const float* win = p.window.data();
    // 1. Window, transpose to positions x lanes, store z in bit-reversed order.
    for (int m0 = 0; m0 < M; m0 += 4) {
        V r[L];
        const V w = loadv(win + 2 * m0);
        for (int l = 0; l < L; ++l) r[l] = loadv(frames[l] + 2 * m0) * w;
        transpose8(r);  // r[2q], r[2q+1]: re, im of z[m0+q] across the lanes
        for (int q = 0; q < 4; ++q) {
            const int j = p.bitrev[static_cast<std::size_t>(m0 + q)];
            storev(re + j * L, r[2 * q]);
            storev(im + j * L, r[2 * q + 1]);
        }
    }
    // 2. Z = DFT_M(z), natural order.
    dit_stages<true>(p, re, im);
    // 3. Split into the N/2 + 1 bins of each frame, 4 + 4 bins at a time.
    const V half = V{} + 0.5f;
    float* o[L];
    for (int l = 0; l < L; ++l) o[l] = reinterpret_cast<float*>(out[std::min(l, lanes - 1)]);
    for (int k0 = 0; k0 < M / 2; k0 += 4) {
        V lo[L], hi[L];  // lo: bins k0+q (re, im pairs); hi: bins M-k0-3+q
        for (int q = 0; q < 4; ++q) {
            const int k = k0 + q;
            const V ar = loadv(re + k * L), ai = loadv(im + k * L);
            V xr, xi, yr, yi;  // X[k], X[M-k]
            if (k == 0) {
                xr = ar + ai;
                xi = V{};
                yr = ar - ai;
                yi = V{};
            } else {
                const V br = loadv(re + (M - k) * L), bi = loadv(im + (M - k) * L);
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
            storev(o[l] + 2 * k0, lo[l]);
            storev(o[l] + 2 * (M - k0 - 3), hi[l]);
        }
    }
    // X[M/2] = conj Z[M/2]: the split formula with e^{-i pi/2} = -i.
    for (int l = 0; l < lanes; ++l) {
        o[l][M] = re[(M / 2) * L + l];
        o[l][M + 1] = -im[(M / 2) * L + l];
    }
}

// ---------------------------------------------------------------------------------------------
// Inverse STFT of X * gain for 8 frames. Per frame:
//   Z[k] = (X[k] + conj X[M-k]) + i (X[k] - conj X[M-k]) e^{+2 pi i k/N},  z = IDFT_M(Z),
//   x[2m] = Re z[m] / N, x[2m+1] = Im z[m] / N,
// then windowed and overlap-added as librosa's istft does. The two agree with KissFFT to ~1e-7
// of the signal's peak (see the tests).
// ---------------------------------------------------------------------------------------------
[[gnu::always_inline]] inline void inverse_body(const Plan& p, const float* X, const float* gain, int nb, int nt,
                                                int t0, int hop, float* re, float* im, float* gather, float* y) {
    const int M = p.half;
    // 1. The scaled bins of L frames (X * gain, as hpss's apply_mask computes it), transposed
    //    to bins x lanes: gr/gi hold (M+1)*L floats. Four bins of a frame are 8 interleaved
    //    floats, times the gain with each value repeated; a transpose of 8 frames then gives
    //    re, im of bins k..k+3 across the lanes.
    const float* xc[L];
    const float* mc[L];
    for (int l = 0; l < L; ++l) {
        const std::ptrdiff_t col = std::min(t0 + l, nt - 1);
        xc[l] = X + 2 * col * nb;
        mc[l] = gain + col * nb;
    }
    float* gr = gather;
    float* gi = gr + (M + 1) * L;
    int k0 = 0;
    for (; k0 + 4 <= M; k0 += 4) {
        V r[L];
        for (int l = 0; l < L; ++l) {
            // Four gains widened by a register shuffle (a 16-byte copy into the low half of a
            // zeroed 32-byte vector went through the stack and stalled on store forwarding).
            V4 m;
            std::memcpy(&m, mc[l] + k0, sizeof m);
            r[l] = loadv(xc[l] + 2 * k0) * __builtin_shufflevector(m, m, 0, 0, 1, 1, 2, 2, 3, 3);
        }
        transpose8(r);
        for (int q = 0; q < 4; ++q) {
            storev(gr + (k0 + q) * L, r[2 * q]);
            storev(gi + (k0 + q) * L, r[2 * q + 1]);
        }
    }
    for (; k0 <= M; ++k0)
        for (int l = 0; l < L; ++l) {
            const float m = mc[l][k0];
            gr[k0 * L + l] = xc[l][2 * k0] * m;
            gi[k0 * L + l] = xc[l][2 * k0 + 1] * m;
        }
    // 2. Z in bit-reversed order.
    for (int k = 0; k < M; ++k) {
        const V ar = loadv(gr + k * L), ai = loadv(gi + k * L);
        const V br = loadv(gr + (M - k) * L), bi = loadv(gi + (M - k) * L);
        const float c = p.post_re[static_cast<std::size_t>(k)], sn = p.post_im[static_cast<std::size_t>(k)];
        const V er = ar + br, ei = ai - bi;  // X[k] + conj X[M-k]
        const V dr = ar - br, di = ai + bi;  // X[k] - conj X[M-k]
        const V orr = dr * c - di * sn, oi = dr * sn + di * c;
        const int j = p.bitrev[static_cast<std::size_t>(k)];
        storev(re + j * L, er - oi);
        storev(im + j * L, ei + orr);
    }
    // 3. z = IDFT_M(Z).
    dit_stages<false>(p, re, im);
    // 4. Scale, window and overlap-add each frame: y[(t0+l) hop + 2m (+1)] += win * (z * scale).
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
                r[i] = loadv(re + (m0 + i) * L);
                q[i] = loadv(im + (m0 + i) * L);
            }
            transpose8(r);  // r[l] = re of m0..m0+7 for lane l
            transpose8(q);
            const V w0 = loadv(win + 2 * m0), w1 = loadv(win + 2 * m0 + 8);
            for (int l = 0; l < lanes; ++l) {
                const V zr = r[l] * scale, zi = q[l] * scale;
                const V lo = __builtin_shuffle(zr, zi, VI{0, 8, 1, 9, 2, 10, 3, 11});
                const V hi = __builtin_shuffle(zr, zi, VI{4, 12, 5, 13, 6, 14, 7, 15});
                float* dst = y + static_cast<std::ptrdiff_t>(t0 + l) * hop + 2 * m0;
                storev(dst, loadv(dst) + w0 * lo);
                storev(dst + 8, loadv(dst + 8) + w1 * hi);
            }
        }
        return;
    }
    for (int l = 0; l < lanes; ++l) {
        float* dst = y + static_cast<std::ptrdiff_t>(t0 + l) * hop;
        for (int m = 0; m < M; ++m) {
            dst[2 * m] += win[2 * m] * (re[m * L + l] * scale);
            dst[2 * m + 1] += win[2 * m + 1] * (im[m * L + l] * scale);
        }
    }
}

// Each kernel is compiled for the x86-64 baseline and, where the compiler targets x86-64
// without it, for AVX2, and chosen at run time.
#define GENREKIT_FFT_KERNELS(SUFFIX, ATTR)                                                                      \
    [[maybe_unused]] ATTR void forward_##SUFFIX(const Plan& p, const float* const* frames,                       \
                                                std::complex<float>* const* out, int lanes, float* re, float* im) { \
        forward_body(p, frames, out, lanes, re, im);                                                            \
    }                                                                                                            \
    [[maybe_unused]] ATTR void inverse_##SUFFIX(const Plan& p, const float* X, const float* gain, int nb, int nt, \
                                                int t0, int hop, float* re, float* im, float* gather, float* y) { \
        inverse_body(p, X, gain, nb, nt, t0, hop, re, im, gather, y);                                           \
    }

struct Kernels {
    bool fast = false;  // a wide-vector variant (the forward transform then beats KissFFT)
    void (*forward)(const Plan&, const float* const*, std::complex<float>* const*, int, float*, float*);
    void (*inverse)(const Plan&, const float*, const float*, int, int, int, int, float*, float*, float*, float*);
};

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__AVX2__)
GENREKIT_FFT_KERNELS(base, )
GENREKIT_FFT_KERNELS(avx2, [[gnu::target("avx2")]])
Kernels select_kernels() {
    // AVX-512 CPUs run the AVX2 variant too: a 16-lane working set (128 KB) spills out of L1
    // and measured slower.
    if (__builtin_cpu_supports("avx2")) return {true, forward_avx2, inverse_avx2};
    return {false, forward_base, inverse_base};
}
#elif defined(__AVX2__)
GENREKIT_FFT_KERNELS(native, )
Kernels select_kernels() { return {true, forward_native, inverse_native}; }
#else
GENREKIT_FFT_KERNELS(base, )
Kernels select_kernels() { return {false, forward_base, inverse_base}; }
#endif

// Chosen once; immutable afterwards.
const Kernels& kernels() {
    static const Kernels k = select_kernels();
    return k;
}

void reserve(const Plan& p, Scratch& s) {
    const auto n = static_cast<std::size_t>((p.half + 1) * L);
    if (s.re.size() < n) s.re.resize(n);
    if (s.im.size() < n) s.im.resize(n);
    if (s.gather.size() < 2 * n) s.gather.resize(2 * n);
}

}  // namespace

bool supported(int n_fft) { return n_fft >= 16 && (n_fft & (n_fft - 1)) == 0; }

bool forward_is_fast() { return kernels().fast; }

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
    reserve(plan, s);
    kernels().forward(plan, frames, out, std::clamp(lanes, 1, L), s.re.data(), s.im.data());
}

void inverse_overlap_add(const Plan& plan, const std::complex<float>* X, const float* gain, int nb, int nt, int t0,
                         int hop, Scratch& s, float* y) {
    reserve(plan, s);
    kernels().inverse(plan, reinterpret_cast<const float*>(X), gain, nb, nt, t0, hop, s.re.data(), s.im.data(),
                      s.gather.data(), y);
}

}  // namespace genrekit::fft_batch
