// AVX-512 (F, DQ, VL, BW) versions of the hottest AVX2 kernels: twice the lanes per FMA.
// Same rules as nn_kernels_avx2.cpp: one variant per file (GENREKIT_FEATURES_AVX512 by a target
// pragma), only intrinsics and internal-linkage functions after the pragma. Every output element goes through exactly the operations, in the order, of
// the AVX2 kernel it replaces (an FMA chain from the bias or from zero, then one add), so the
// two ISAs give the same bits: tests compare them (test_nn_speed_paths).
#include "simd/nn_kernels_avx512.hpp"

#include "simd/isa.hpp"

#if GENREKIT_SIMD_VARIANTS
#include <immintrin.h>

#pragma GCC push_options
GENREKIT_TARGET_PRAGMA(GENREKIT_FEATURES_AVX512)

namespace genrekit::nn::kernels::avx512 {
namespace {

inline Index imin(Index a, Index b) { return a < b ? a : b; }

// The first `valid` lanes (valid may exceed 16).
inline __mmask16 first_lanes(Index valid) { return valid >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << valid) - 1u); }
inline __mmask8 first_lanes8(Index valid) { return valid >= 8 ? static_cast<__mmask8>(0xFF) : static_cast<__mmask8>((1u << valid) - 1u); }

// In-register transpose of an 8x8 block of 256-bit rows (as nn_kernels_avx2.cpp).
inline void transpose8(__m256 r[8]) {
    __m256 t[8], u[8];
    for (int i = 0; i < 8; i += 2) {
        t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
        t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
    }
    for (int i = 0; i < 8; i += 4) {
        u[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
        u[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xEE);
        u[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
        u[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
    }
    for (int j = 0; j < 4; ++j) {
        r[j] = _mm256_permute2f128_ps(u[j], u[j + 4], 0x20);
        r[j + 4] = _mm256_permute2f128_ps(u[j], u[j + 4], 0x31);
    }
}

// 1 + exp(x), the AVX2 kernel's Cephes expf step for step, with its fused last step. ref: Cephes expf.
inline __m512 one_plus_exp_ps(__m512 x) {
    x = _mm512_min_ps(_mm512_max_ps(x, _mm512_set1_ps(-88.3762626647949f)), _mm512_set1_ps(88.3762626647949f));
    __m512 fx = _mm512_fmadd_ps(x, _mm512_set1_ps(1.44269504088896341f), _mm512_set1_ps(0.5f));
    fx = _mm512_roundscale_ps(fx, _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
    x = _mm512_fnmadd_ps(fx, _mm512_set1_ps(0.693359375f), x);
    x = _mm512_fnmadd_ps(fx, _mm512_set1_ps(-2.12194440e-4f), x);
    static constexpr float kPoly[] = {1.9875691500E-4f, 1.3981999507E-3f, 8.3334519073E-3f, 4.1665795894E-2f, 1.6666665459E-1f, 5.0000001201E-1f};
    __m512 y = _mm512_set1_ps(kPoly[0]);
    for (int i = 1; i < 6; ++i) y = _mm512_fmadd_ps(y, x, _mm512_set1_ps(kPoly[i]));
    y = _mm512_fmadd_ps(y, _mm512_mul_ps(x, x), _mm512_add_ps(x, _mm512_set1_ps(1.0f)));
    const __m512i n = _mm512_cvtps_epi32(fx), h = _mm512_srai_epi32(n, 1), bias = _mm512_set1_epi32(127);
    const __m512 p1 = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(h, bias), 23));
    const __m512 p2 = _mm512_castsi512_ps(_mm512_slli_epi32(_mm512_add_epi32(_mm512_sub_epi32(n, h), bias), 23));
    return _mm512_fmadd_ps(_mm512_mul_ps(y, p1), p2, _mm512_set1_ps(1.0f));
}

inline __m512 sigmoid_ps(__m512 x) { return _mm512_div_ps(_mm512_set1_ps(1.0f), one_plus_exp_ps(_mm512_sub_ps(_mm512_setzero_ps(), x))); }

// ---- forward: 8 outputs x 16 samples per tile; two 8x8 transposes turn it into rows of y.
inline void otile_block(const float* w, const float* b, const float* xt, Index np, float* y, Index O, Index F, Index N, Index o) {
    const Index valid_o = imin(8, O - o);
    const float* wr[8];
    __m512 bias[8];
    for (int j = 0; j < 8; ++j) {
        const Index row = o + imin(j, valid_o - 1);  // rows past O repeat the last one; not stored
        wr[j] = w + row * F;
        bias[j] = _mm512_set1_ps(b[row]);
    }
    const __mmask8 mask = first_lanes8(valid_o);
    for (Index n = 0; n < N; n += 16) {
        __m512 a[8];
        for (int j = 0; j < 8; ++j) a[j] = bias[j];
        const float* xp = xt + n;
        for (Index f = 0; f < F; ++f, xp += np) {
            const __m512 xv = _mm512_loadu_ps(xp);
#pragma GCC unroll 8
            for (int j = 0; j < 8; ++j) a[j] = _mm512_fmadd_ps(_mm512_set1_ps(wr[j][f]), xv, a[j]);
        }
        for (int half = 0; half < 2; ++half) {
            __m256 r[8];
            for (int j = 0; j < 8; ++j) r[j] = half ? _mm512_extractf32x8_ps(a[j], 1) : _mm512_castps512_ps256(a[j]);
            transpose8(r);  // r[k] = y[o .. o+8, n + 8*half + k]
            const Index n0 = n + 8 * half, valid_n = imin(8, N - n0);
            for (Index k = 0; k < valid_n; ++k) _mm256_mask_storeu_ps(y + (n0 + k) * O + o, mask, r[k]);
        }
    }
}

// ---- both gradients are sums of rank-1 updates: R output rows x NV vectors of 16 columns (the
// last vector masked to `last` lanes), acc[r][k] = sum over i < count of s[i*s_step + r*s_row] *
// v[i*v_step + 16k], an FMA chain from zero; then added to (accumulate) or stored in the rows
// out + r*out_row. Weight gradient: rows o of dw, i over samples (s = dy, v = x). Input gradient:
// rows n of dx, i over outputs (s = dy, v = w).
template <int R, int NV>
inline void rank1_tile(const float* s, Index s_step, Index s_row, const float* v, Index v_step, Index count, float* out, Index out_row,
                       bool accumulate, __mmask16 last) {
    __m512 acc[R][NV];
    #pragma GCC unroll 8
    for (int r = 0; r < R; ++r)
        #pragma GCC unroll 8
        for (int k = 0; k < NV; ++k) acc[r][k] = _mm512_setzero_ps();
    for (Index i = 0; i < count; ++i) {
        __m512 vv[NV];
        #pragma GCC unroll 8
        for (int k = 0; k < NV; ++k) vv[k] = _mm512_maskz_loadu_ps(k == NV - 1 ? last : 0xFFFF, v + i * v_step + 16 * k);
        #pragma GCC unroll 8
        for (int r = 0; r < R; ++r) {
            const __m512 d = _mm512_set1_ps(s[i * s_step + r * s_row]);
            #pragma GCC unroll 8
            for (int k = 0; k < NV; ++k) acc[r][k] = _mm512_fmadd_ps(d, vv[k], acc[r][k]);
        }
    }
    #pragma GCC unroll 8
    for (int r = 0; r < R; ++r)
        #pragma GCC unroll 8
        for (int k = 0; k < NV; ++k) {
            const __mmask16 m = k == NV - 1 ? last : 0xFFFF;
            float* p = out + r * out_row + 16 * k;
            _mm512_mask_storeu_ps(p, m, accumulate ? _mm512_add_ps(_mm512_maskz_loadu_ps(m, p), acc[r][k]) : acc[r][k]);
        }
}

template <int V>
struct Count {};  // a compile-time count for the chunk walker below (no std templates in this file)

// Walks [0, F) in chunks of up to 4 vectors of 16: tile(Count<NV>(), f, last) with the last vector of
// each chunk masked to `last` lanes.
template <typename Tile>
inline void over_feature_chunks(Index F, Tile&& tile) {
    Index f = 0;
    for (; f + 64 <= F; f += 64) tile(Count<4>(), f, static_cast<__mmask16>(0xFFFF));
    const Index rest = F - f;
    const __mmask16 last = first_lanes(rest - (rest - 1) / 16 * 16);
    switch ((rest + 15) / 16) {
        case 4: tile(Count<4>(), f, last); break;
        case 3: tile(Count<3>(), f, last); break;
        case 2: tile(Count<2>(), f, last); break;
        case 1: tile(Count<1>(), f, last); break;
        default: break;
    }
}

template <int NO>
inline void wgrad_rows(const float* x, const float* dy, float* dw, Index O, Index F, Index N, Index o) {
    over_feature_chunks(F, [&]<int NV>(Count<NV>, Index f, __mmask16 last) {
        rank1_tile<NO, NV>(dy + o, O, 1, x + f, F, N, dw + o * F + f, F, true, last);
    });
}

template <int NN>
inline void igrad_cols(const float* w, const float* dy, float* dx, Index O, Index F, Index n) {
    over_feature_chunks(F, [&]<int NV>(Count<NV>, Index f, __mmask16 last) {
        rank1_tile<NN, NV>(dy + n * O, 1, O, w + f, F, O, dx + n * F + f, F, false, last);
    });
}

// One Adam/AdamW step on 16 parameters (the AVX2 kernel's operations; see optim.hpp).
inline __m512 adam_vec(__m512 p, __m512 g, __m512& m, __m512& v, const float* k, int mode) {
    if (mode == 1) g = _mm512_fmadd_ps(_mm512_set1_ps(k[6]), p, g);
    else if (mode == 2) p = _mm512_mul_ps(p, _mm512_set1_ps(k[7]));
    m = _mm512_fmadd_ps(_mm512_set1_ps(k[0]), m, _mm512_mul_ps(_mm512_set1_ps(1.0f - k[0]), g));
    v = _mm512_fmadd_ps(_mm512_set1_ps(k[1]), v, _mm512_mul_ps(_mm512_set1_ps(1.0f - k[1]), _mm512_mul_ps(g, g)));
    const __m512 den = _mm512_fmadd_ps(_mm512_sqrt_ps(v), _mm512_set1_ps(k[3]), _mm512_set1_ps(k[4]));
    return _mm512_fnmadd_ps(_mm512_set1_ps(k[2]), _mm512_div_ps(m, den), p);
}

}  // namespace

void forward_otile(const float* w, const float* b, const float* xt, Index np, float* y, Index O, Index F, Index N, Index o0, Index o1) {
    for (Index o = o0; o < o1; o += 8) otile_block(w, b, xt, np, y, O, F, N, o);
}

void backward_weights(const float* x, const float* dy, float* dw, float* db, Index O, Index F, Index N, Index o0, Index o1) {
    Index o = o0;
    for (; o + 6 <= o1; o += 6) wgrad_rows<6>(x, dy, dw, O, F, N, o);
    switch (o1 - o) {
        case 5: wgrad_rows<5>(x, dy, dw, O, F, N, o); break;
        case 4: wgrad_rows<4>(x, dy, dw, O, F, N, o); break;
        case 3: wgrad_rows<3>(x, dy, dw, O, F, N, o); break;
        case 2: wgrad_rows<2>(x, dy, dw, O, F, N, o); break;
        case 1: wgrad_rows<1>(x, dy, dw, O, F, N, o); break;
        default: break;
    }
    // Bias: a plain sum over n from zero, 16 rows per vector (dy is contiguous along rows).
    for (Index r = o0; r < o1; r += 16) {
        const __mmask16 m = first_lanes(o1 - r);
        __m512 s = _mm512_setzero_ps();
        for (Index n = 0; n < N; ++n) s = _mm512_add_ps(s, _mm512_maskz_loadu_ps(m, dy + n * O + r));
        _mm512_mask_storeu_ps(db + r, m, _mm512_add_ps(_mm512_maskz_loadu_ps(m, db + r), s));
    }
}

void backward_input(const float* w, const float* dy, float* dx, Index O, Index F, Index n0, Index n1) {
    Index n = n0;
    for (; n + 3 <= n1; n += 3) igrad_cols<3>(w, dy, dx, O, F, n);
    if (n1 - n == 2) igrad_cols<2>(w, dy, dx, O, F, n);
    else if (n1 - n == 1) igrad_cols<1>(w, dy, dx, O, F, n);
}

void sigmoid(const float* x, float* y, Index i0, Index i1) {
    for (Index i = i0; i < i1; i += 16) {
        const __mmask16 m = first_lanes(i1 - i);
        _mm512_mask_storeu_ps(y + i, m, sigmoid_ps(_mm512_maskz_loadu_ps(m, x + i)));
    }
}

void adam(float* p, const float* g, float* m, float* v, Index i0, Index i1, float b1, float b2, float step_size, float inv_sqrt_bc2,
          float eps, float wd, float decay, int mode) {
    const float k[8] = {b1, b2, step_size, inv_sqrt_bc2, eps, 0.0f, wd, decay};
    for (Index i = i0; i < i1; i += 16) {
        const __mmask16 mk = first_lanes(i1 - i);
        __m512 mv = _mm512_maskz_loadu_ps(mk, m + i), vv = _mm512_maskz_loadu_ps(mk, v + i);
        const __m512 pn = adam_vec(_mm512_maskz_loadu_ps(mk, p + i), _mm512_maskz_loadu_ps(mk, g + i), mv, vv, k, mode);
        _mm512_mask_storeu_ps(p + i, mk, pn);
        _mm512_mask_storeu_ps(m + i, mk, mv);
        _mm512_mask_storeu_ps(v + i, mk, vv);
    }
}

void maxpool2x2_row(const float* a, const float* b, int row_offset, int W, int Wo, float* y, int* arg) {
    // 16 outputs per step: the even and odd columns of two input rows, separated by permutes, then
    // the scalar kernel's selects as masks (first maximum in the scan order a0, a1, b0, b1).
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
    const __m512i one = _mm512_set1_epi32(1), below = _mm512_set1_epi32(W);
    for (int wo = 0; wo < Wo; wo += 16) {
        const Index valid = imin(16, Wo - wo), inputs = 2 * valid;
        const __mmask16 lo = first_lanes(inputs), hi = first_lanes(inputs - 16 > 0 ? inputs - 16 : 0), out = first_lanes(valid);
        const float* pa = a + 2 * wo;
        const float* pb = b + 2 * wo;
        const __m512 a_lo = _mm512_maskz_loadu_ps(lo, pa), a_hi = _mm512_maskz_loadu_ps(hi, pa + 16);
        const __m512 b_lo = _mm512_maskz_loadu_ps(lo, pb), b_hi = _mm512_maskz_loadu_ps(hi, pb + 16);
        const __m512 a0 = _mm512_permutex2var_ps(a_lo, even, a_hi), a1 = _mm512_permutex2var_ps(a_lo, odd, a_hi);
        const __m512 b0 = _mm512_permutex2var_ps(b_lo, even, b_hi), b1 = _mm512_permutex2var_ps(b_lo, odd, b_hi);
        const __mmask16 ga = _mm512_cmp_ps_mask(a1, a0, _CMP_GT_OQ), gb = _mm512_cmp_ps_mask(b1, b0, _CMP_GT_OQ);
        const __m512 ma = _mm512_mask_blend_ps(ga, a0, a1), mb = _mm512_mask_blend_ps(gb, b0, b1);
        const __mmask16 gm = _mm512_cmp_ps_mask(mb, ma, _CMP_GT_OQ);
        const __m512i ka = _mm512_maskz_mov_epi32(ga, one), kb = _mm512_mask_add_epi32(below, gb, below, one);
        const __m512i base = _mm512_add_epi32(_mm512_set1_epi32(row_offset + 2 * wo), even);
        _mm512_mask_storeu_ps(y + wo, out, _mm512_mask_blend_ps(gm, ma, mb));
        _mm512_mask_storeu_epi32(arg + wo, out, _mm512_add_epi32(base, _mm512_mask_blend_epi32(gm, ka, kb)));
    }
}

}  // namespace genrekit::nn::kernels::avx512

#pragma GCC pop_options
#endif
