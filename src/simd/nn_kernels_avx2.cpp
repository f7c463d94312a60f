// AVX2+FMA kernels: the whole file is one variant, compiled for GENREKIT_FEATURES_AVX2 (simd/isa.hpp)
// by a target pragma rather than an attribute on each helper. Everything after the pragma is either
// an intrinsic or a function of this file with internal linkage: no Eigen, no std templates, so no
// AVX2 instantiation can be merged by the linker into code that runs on baseline x86-64 CPUs (the
// ODR hazard of mixing ISA flags).
#include "simd/nn_kernels_avx2.hpp"

#include "simd/isa.hpp"

#if GENREKIT_SIMD_VARIANTS
#include <immintrin.h>

#pragma GCC push_options
GENREKIT_TARGET_PRAGMA(GENREKIT_FEATURES_AVX2)

namespace genrekit::nn::kernels::avx2 {
namespace {

inline Index imin(Index a, Index b) { return a < b ? a : b; }

inline float hsum(__m256 v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_shuffle_ps(s, s, 0x55));
    return _mm_cvtss_f32(s);
}

inline __m256i lane_mask(Index valid) {
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(static_cast<int>(valid)), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

inline void transpose8(__m256 r[8]) {
    const __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
    const __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
    const __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
    const __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
    const __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
    const __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
    const __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
    const __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    r[0] = _mm256_permute2f128_ps(u0, u4, 0x20);
    r[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
    r[2] = _mm256_permute2f128_ps(u2, u6, 0x20);
    r[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
    r[4] = _mm256_permute2f128_ps(u0, u4, 0x31);
    r[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
    r[6] = _mm256_permute2f128_ps(u2, u6, 0x31);
    r[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
}

// 1 + exp(x) for x in [-88.37, 88.37]. ref: Cephes expf (range reduction by ln 2 in two parts, degree-5
// polynomial). The last scaling by 2^fx and the + 1 are one FMA: the rounding the trained models have
// always had (this file was compiled with FMA contraction, which fused them; -ffp-contract=off now).
inline __m256 one_plus_exp_ps(__m256 x) {
    x = _mm256_min_ps(_mm256_max_ps(x, _mm256_set1_ps(-88.3762626647949f)), _mm256_set1_ps(88.3762626647949f));
    __m256 fx = _mm256_fmadd_ps(x, _mm256_set1_ps(1.44269504088896341f), _mm256_set1_ps(0.5f));
    fx = _mm256_floor_ps(fx);
    x = _mm256_fnmadd_ps(fx, _mm256_set1_ps(0.693359375f), x);
    x = _mm256_fnmadd_ps(fx, _mm256_set1_ps(-2.12194440e-4f), x);
    __m256 y = _mm256_set1_ps(1.9875691500E-4f);
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.3981999507E-3f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(8.3334519073E-3f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(4.1665795894E-2f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(1.6666665459E-1f));
    y = _mm256_fmadd_ps(y, x, _mm256_set1_ps(5.0000001201E-1f));
    y = _mm256_fmadd_ps(y, _mm256_mul_ps(x, x), _mm256_add_ps(x, _mm256_set1_ps(1.0f)));
    // 2^fx: fx in [-127, 128]; split in two factors so that fx = 128 (x near 88.37) does not overflow the exponent.
    const __m256i n = _mm256_cvtps_epi32(fx);
    const __m256i h = _mm256_srai_epi32(n, 1);
    const __m256 p1 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(h, _mm256_set1_epi32(127)), 23));
    const __m256 p2 = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(_mm256_sub_epi32(n, h), _mm256_set1_epi32(127)), 23));
    return _mm256_fmadd_ps(_mm256_mul_ps(y, p1), p2, _mm256_set1_ps(1.0f));
}

inline __m256 sigmoid_ps(__m256 x) { return _mm256_div_ps(_mm256_set1_ps(1.0f), one_plus_exp_ps(_mm256_sub_ps(_mm256_setzero_ps(), x))); }

// ---- forward, o-tiles: 8 outputs x 8 samples per register tile, transposed in registers before the store.
inline void otile_block(const float* w, const float* b, const float* xt, Index np, float* y, Index O, Index F, Index N, Index o) {
    const Index valid_o = imin(8, O - o);
    const float* wr[8];
    __m256 bias[8];
    for (int j = 0; j < 8; ++j) {
        const Index row = o + imin(j, valid_o - 1);  // rows past O repeat the last one; their results are not stored
        wr[j] = w + row * F;
        bias[j] = _mm256_broadcast_ss(b + row);
    }
    const __m256i mask = lane_mask(valid_o);
    for (Index n = 0; n < N; n += 8) {
        __m256 a[8];
#pragma GCC unroll 8
        for (int j = 0; j < 8; ++j) a[j] = bias[j];
        const float* xp = xt + n;
        for (Index f = 0; f < F; ++f, xp += np) {
            const __m256 xv = _mm256_loadu_ps(xp);
#pragma GCC unroll 8
            for (int j = 0; j < 8; ++j) a[j] = _mm256_fmadd_ps(_mm256_broadcast_ss(wr[j] + f), xv, a[j]);
        }
        transpose8(a);  // a[k] = y[o .. o+8, n+k]
        const Index valid_n = imin(8, N - n);
        for (Index k = 0; k < valid_n; ++k) {
            float* dst = y + (n + k) * O + o;
            if (valid_o == 8) _mm256_storeu_ps(dst, a[k]);
            else _mm256_maskstore_ps(dst, mask, a[k]);
        }
    }
}

// ---- forward, dot products: NO outputs x NN samples.
template <int NO, int NN>
inline void dot_tile(const float* w, const float* b, const float* x, float* y, Index O, Index F, Index o, Index n) {
    __m256 acc[NO][NN];
    for (int i = 0; i < NO; ++i)
        for (int j = 0; j < NN; ++j) acc[i][j] = _mm256_setzero_ps();
    Index f = 0;
    for (; f + 8 <= F; f += 8) {
        __m256 xv[NN];
        for (int j = 0; j < NN; ++j) xv[j] = _mm256_loadu_ps(x + (n + j) * F + f);
        for (int i = 0; i < NO; ++i) {
            const __m256 wv = _mm256_loadu_ps(w + (o + i) * F + f);
            for (int j = 0; j < NN; ++j) acc[i][j] = _mm256_fmadd_ps(wv, xv[j], acc[i][j]);
        }
    }
    for (int i = 0; i < NO; ++i)
        for (int j = 0; j < NN; ++j) {
            float s = hsum(acc[i][j]);
            for (Index g = f; g < F; ++g) s = __builtin_fmaf(w[(o + i) * F + g], x[(n + j) * F + g], s);
            y[(n + j) * O + o + i] = b[o + i] + s;
        }
}

template <int NO>
inline void dot_rows(const float* w, const float* b, const float* x, float* y, Index O, Index F, Index o, Index n0, Index n1) {
    Index n = n0;
    for (; n + 3 <= n1; n += 3) dot_tile<NO, 3>(w, b, x, y, O, F, o, n);
    if (n1 - n == 2) dot_tile<NO, 2>(w, b, x, y, O, F, o, n);
    else if (n1 - n == 1) dot_tile<NO, 1>(w, b, x, y, O, F, o, n);
}

// ---- weight gradient: NO rows x NV vectors of 8 features, summed over all N samples.
template <int NO, int NV>
inline void wgrad_tile(const float* x, const float* dy, float* dw, Index O, Index F, Index N, Index o, Index f) {
    __m256 acc[NO][NV];
    for (int i = 0; i < NO; ++i)
        for (int k = 0; k < NV; ++k) acc[i][k] = _mm256_setzero_ps();
    for (Index n = 0; n < N; ++n) {
        __m256 xv[NV];
        for (int k = 0; k < NV; ++k) xv[k] = _mm256_loadu_ps(x + n * F + f + 8 * k);
        for (int i = 0; i < NO; ++i) {
            const __m256 d = _mm256_broadcast_ss(dy + n * O + o + i);
            for (int k = 0; k < NV; ++k) acc[i][k] = _mm256_fmadd_ps(d, xv[k], acc[i][k]);
        }
    }
    for (int i = 0; i < NO; ++i)
        for (int k = 0; k < NV; ++k) {
            float* p = dw + (o + i) * F + f + 8 * k;
            _mm256_storeu_ps(p, _mm256_add_ps(_mm256_loadu_ps(p), acc[i][k]));
        }
}

template <int NO>
inline void wgrad_rows(const float* x, const float* dy, float* dw, Index O, Index F, Index N, Index o) {
    const Index f8 = F / 8 * 8;
    Index f = 0;
    for (; f + 32 <= f8; f += 32) wgrad_tile<NO, 4>(x, dy, dw, O, F, N, o, f);
    switch ((f8 - f) / 8) {
        case 3: wgrad_tile<NO, 3>(x, dy, dw, O, F, N, o, f); break;
        case 2: wgrad_tile<NO, 2>(x, dy, dw, O, F, N, o, f); break;
        case 1: wgrad_tile<NO, 1>(x, dy, dw, O, F, N, o, f); break;
        default: break;
    }
}

// ---- input gradient: NN samples x NV vectors of 8 features, summed over all O outputs.
template <int NN, int NV>
inline void igrad_tile(const float* w, const float* dy, float* dx, Index O, Index F, Index n, Index f) {
    __m256 acc[NN][NV];
    for (int j = 0; j < NN; ++j)
        for (int k = 0; k < NV; ++k) acc[j][k] = _mm256_setzero_ps();
    for (Index o = 0; o < O; ++o) {
        __m256 wv[NV];
        for (int k = 0; k < NV; ++k) wv[k] = _mm256_loadu_ps(w + o * F + f + 8 * k);
        for (int j = 0; j < NN; ++j) {
            const __m256 d = _mm256_broadcast_ss(dy + (n + j) * O + o);
            for (int k = 0; k < NV; ++k) acc[j][k] = _mm256_fmadd_ps(d, wv[k], acc[j][k]);
        }
    }
    for (int j = 0; j < NN; ++j)
        for (int k = 0; k < NV; ++k) _mm256_storeu_ps(dx + (n + j) * F + f + 8 * k, acc[j][k]);
}

template <int NN>
inline void igrad_cols(const float* w, const float* dy, float* dx, Index O, Index F, Index n) {
    const Index f8 = F / 8 * 8;
    Index f = 0;
    for (; f + 32 <= f8; f += 32) igrad_tile<NN, 4>(w, dy, dx, O, F, n, f);
    switch ((f8 - f) / 8) {
        case 3: igrad_tile<NN, 3>(w, dy, dx, O, F, n, f); break;
        case 2: igrad_tile<NN, 2>(w, dy, dx, O, F, n, f); break;
        case 1: igrad_tile<NN, 1>(w, dy, dx, O, F, n, f); break;
        default: break;
    }
    for (int j = 0; j < NN; ++j)
        for (Index g = f8; g < F; ++g) {
            float s = 0.0f;
            for (Index o = 0; o < O; ++o) s = __builtin_fmaf(dy[(n + j) * O + o], w[o * F + g], s);
            dx[(n + j) * F + g] = s;
        }
}

inline __m256 adam_vec(__m256 p, __m256 g, __m256& m, __m256& v, __m256 b1, __m256 b2, __m256 c1, __m256 c2, __m256 step,
                       __m256 isb, __m256 eps, __m256 wd, __m256 decay, int mode) {
    if (mode == 1) g = _mm256_fmadd_ps(wd, p, g);
    else if (mode == 2) p = _mm256_mul_ps(p, decay);
    m = _mm256_fmadd_ps(b1, m, _mm256_mul_ps(c1, g));
    v = _mm256_fmadd_ps(b2, v, _mm256_mul_ps(c2, _mm256_mul_ps(g, g)));
    const __m256 den = _mm256_fmadd_ps(_mm256_sqrt_ps(v), isb, eps);
    return _mm256_fnmadd_ps(step, _mm256_div_ps(m, den), p);
}

}  // namespace

void pack_xt(const float* x, Index F, Index N, Index np, float* xt) {
    for (Index f = 0; f < F; ++f) {
        float* row = xt + f * np;
        for (Index n = 0; n < N; ++n) row[n] = x[n * F + f];
        for (Index n = N; n < np; ++n) row[n] = 0.0f;
    }
}

void forward_otile(const float* w, const float* b, const float* xt, Index np, float* y, Index O, Index F, Index N, Index o0, Index o1) {
    for (Index o = o0; o < o1; o += 8) otile_block(w, b, xt, np, y, O, F, N, o);
}

void forward_dot(const float* w, const float* b, const float* x, float* y, Index O, Index F, Index n0, Index n1) {
    Index o = 0;
    for (; o + 4 <= O; o += 4) dot_rows<4>(w, b, x, y, O, F, o, n0, n1);
    for (; o < O; ++o) dot_rows<1>(w, b, x, y, O, F, o, n0, n1);
}

void backward_weights(const float* x, const float* dy, float* dw, float* db, Index O, Index F, Index N, Index o0, Index o1) {
    Index o = o0;
    for (; o + 3 <= o1; o += 3) wgrad_rows<3>(x, dy, dw, O, F, N, o);
    if (o1 - o == 2) wgrad_rows<2>(x, dy, dw, O, F, N, o);
    else if (o1 - o == 1) wgrad_rows<1>(x, dy, dw, O, F, N, o);
    // The feature tail (F % 8 columns) and the bias, vectorised over 8 rows at a time (dy is contiguous
    // along rows); the last rows of the range scalar with the same operations (an FMA chain over n).
    const Index f8 = F / 8 * 8;
    Index r = o0;
    for (; r + 8 <= o1; r += 8) {
        for (Index g = f8; g < F; ++g) {
            __m256 s = _mm256_setzero_ps();
            for (Index n = 0; n < N; ++n) s = _mm256_fmadd_ps(_mm256_loadu_ps(dy + n * O + r), _mm256_broadcast_ss(x + n * F + g), s);
            float t[8];
            _mm256_storeu_ps(t, s);
            for (int j = 0; j < 8; ++j) dw[(r + j) * F + g] += t[j];
        }
        __m256 s = _mm256_setzero_ps();
        for (Index n = 0; n < N; ++n) s = _mm256_add_ps(s, _mm256_loadu_ps(dy + n * O + r));
        _mm256_storeu_ps(db + r, _mm256_add_ps(_mm256_loadu_ps(db + r), s));
    }
    for (; r < o1; ++r) {
        for (Index g = f8; g < F; ++g) {
            float s = 0.0f;
            for (Index n = 0; n < N; ++n) s = __builtin_fmaf(dy[n * O + r], x[n * F + g], s);
            dw[r * F + g] += s;
        }
        float s = 0.0f;
        for (Index n = 0; n < N; ++n) s += dy[n * O + r];
        db[r] += s;
    }
}

void backward_input(const float* w, const float* dy, float* dx, Index O, Index F, Index n0, Index n1) {
    Index n = n0;
    for (; n + 3 <= n1; n += 3) igrad_cols<3>(w, dy, dx, O, F, n);
    if (n1 - n == 2) igrad_cols<2>(w, dy, dx, O, F, n);
    else if (n1 - n == 1) igrad_cols<1>(w, dy, dx, O, F, n);
}

void sigmoid(const float* x, float* y, Index i0, Index i1) {
    Index i = i0;
    for (; i + 8 <= i1; i += 8) _mm256_storeu_ps(y + i, sigmoid_ps(_mm256_loadu_ps(x + i)));
    if (i < i1) {  // the tail through the same vector code, so every element gets the same arithmetic
        const __m256i mask = lane_mask(i1 - i);
        _mm256_maskstore_ps(y + i, mask, sigmoid_ps(_mm256_maskload_ps(x + i, mask)));
    }
}

void adam(float* p, const float* g, float* m, float* v, Index i0, Index i1, float b1, float b2, float step_size, float inv_sqrt_bc2,
          float eps, float wd, float decay, int mode) {
    const __m256 B1 = _mm256_set1_ps(b1), B2 = _mm256_set1_ps(b2), C1 = _mm256_set1_ps(1.0f - b1), C2 = _mm256_set1_ps(1.0f - b2);
    const __m256 S = _mm256_set1_ps(step_size), I = _mm256_set1_ps(inv_sqrt_bc2), E = _mm256_set1_ps(eps);
    const __m256 WD = _mm256_set1_ps(wd), D = _mm256_set1_ps(decay);
    Index i = i0;
    for (; i + 8 <= i1; i += 8) {
        __m256 mv = _mm256_loadu_ps(m + i), vv = _mm256_loadu_ps(v + i);
        const __m256 pn = adam_vec(_mm256_loadu_ps(p + i), _mm256_loadu_ps(g + i), mv, vv, B1, B2, C1, C2, S, I, E, WD, D, mode);
        _mm256_storeu_ps(p + i, pn);
        _mm256_storeu_ps(m + i, mv);
        _mm256_storeu_ps(v + i, vv);
    }
    if (i < i1) {
        const __m256i mask = lane_mask(i1 - i);
        __m256 mv = _mm256_maskload_ps(m + i, mask), vv = _mm256_maskload_ps(v + i, mask);
        const __m256 pn = adam_vec(_mm256_maskload_ps(p + i, mask), _mm256_maskload_ps(g + i, mask), mv, vv, B1, B2, C1, C2, S, I, E, WD, D, mode);
        _mm256_maskstore_ps(p + i, mask, pn);
        _mm256_maskstore_ps(m + i, mask, mv);
        _mm256_maskstore_ps(v + i, mask, vv);
    }
}

}  // namespace genrekit::nn::kernels::avx2

#pragma GCC pop_options
#endif
