#include "genrekit/hpss.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <type_traits>
#include <utility>

#include "dsp/fft_batch.hpp"
#include "genrekit/error.hpp"
#include "genrekit/stats.hpp"
#include "dsp/pairwise_kernels.hpp"
#include "simd/vec.hpp"

// The 8-lane vector helpers below have internal linkage, so the ABI note about passing AVX
// vectors without AVX enabled does not concern any caller.
#pragma GCC diagnostic ignored "-Wpsabi"

namespace genrekit {

void HpssParams::validate() const {
    require_param(kernel_harmonic >= 1 && kernel_harmonic <= 255 && kernel_harmonic % 2 == 1, "kernel_harmonic",
                  kernel_harmonic, "an odd number in 1..255");
    require_param(kernel_percussive >= 1 && kernel_percussive <= 255 && kernel_percussive % 2 == 1,
                  "kernel_percussive", kernel_percussive, "an odd number in 1..255");
    require_param(std::isfinite(power) && power > 0, "power", power, "a finite number > 0");
    // ref: librosa 0.7.2 decompose.hpss: "Margins must be >= 1.0".
    require_param(std::isfinite(margin_harmonic) && margin_harmonic >= 1, "margin_harmonic", margin_harmonic,
                  "a finite number >= 1");
    require_param(std::isfinite(margin_percussive) && margin_percussive >= 1, "margin_percussive",
                  margin_percussive, "a finite number >= 1");
}

namespace {

// ---------------------------------------------------------------------------------------------
// Sliding median of odd width w over L independent lanes at once (L = 8 or 16).
//
// Each lane keeps its window sorted in a[0..w-1], with a[w] = +inf as a sentinel. One step
// removes the value leaving the window and inserts the one entering it, branch-free:
//   removal:   a'[k] = a[k] < out ? a[k] : a[k+1]          (drops the first copy of `out`)
//   insertion: new[k] = min(a'[k], max(a'[k-1], in))        (a'[-1] = -inf, a'[w-1] = +inf)
// The median is then a[w/2]. Only comparisons and copies are involved, so the result is an
// exact selection (bit-identical to scipy's for identical input) whatever the vector width.
// The window starts as w copies of +inf, each removed in turn while the first w inputs enter.
// ---------------------------------------------------------------------------------------------
using v8f = float __attribute__((vector_size(32)));
using v16f = float __attribute__((vector_size(64)));
using v8i = int __attribute__((vector_size(32)));
using v16i = int __attribute__((vector_size(64)));
constexpr int kMaxLanes = 16;
constexpr int kMaxWidth = 255;

template <class V>
constexpr int lanes_of = static_cast<int>(sizeof(V) / sizeof(float));

template <class V>
[[gnu::always_inline]] inline V splat(float x) {
    V v;
    for (int l = 0; l < lanes_of<V>; ++l) v[l] = x;
    return v;
}

template <class V, int W>
[[gnu::always_inline]] inline void window_step(V* a, int w_runtime, V in, V out, V minus_inf) {
    const int w = W > 0 ? W : w_runtime;
    V prev = minus_inf;
#pragma GCC unroll 32
    for (int k = 0; k < w; ++k) {
        const V ak = a[k];
        const V cur = ak < out ? ak : a[k + 1];
        const V hi = prev > in ? prev : in;
        a[k] = cur < hi ? cur : hi;
        prev = cur;
    }
}

// ref: scipy ndimage NI_ExtendLine, NI_EXTEND_REFLECT (abcddcba|abcd|dcbaabcd): index i of the
// line extended by `half` on both sides maps to this sample of the line of length n.
void reflect_indices(int n, int half, std::vector<int>& idx) {
    idx.resize(static_cast<std::size_t>(n + 2 * half));
    const long period = 2L * n;
    for (int i = 0; i < n + 2 * half; ++i) {
        long m = (static_cast<long>(i - half) % period + period) % period;
        if (m >= n) m = period - 1 - m;
        idx[static_cast<std::size_t>(i)] = static_cast<int>(m);
    }
}

// Runs the sliding median along a line of n positions for L lanes. Position j of lane l is at
// src[j*stride + l]; the median of output position j is written to dst[j*stride + l].
template <class V, int W>
[[gnu::always_inline]] inline void median_lanes(const float* src, float* dst, std::ptrdiff_t stride, int w_runtime,
                                                const int* idx, int n) {
    const int w = W > 0 ? W : w_runtime;
    const int half = w / 2;
    alignas(64) V a[kMaxWidth + 1];
    const V inf = splat<V>(std::numeric_limits<float>::infinity());
    const V minus_inf = splat<V>(-std::numeric_limits<float>::infinity());
    for (int k = 0; k <= w; ++k) a[k] = inf;
    // Fill: the first w inputs replace the w sentinels.
    for (int i = 0; i < w - 1; ++i) window_step<V, W>(a, w, simd::load<V>(src + idx[i] * stride), inf, minus_inf);
    // Along time, each step reads the next column, a page away (stride = n_fft/2+1 floats): the
    // hardware prefetchers do not follow that, so ask for the column kPrefetch steps ahead.
    constexpr int kPrefetch = 12;
    const int last = n + w - 2;  // the last index of idx
    for (int j = 0; j < n; ++j) {
        const int i = j + w - 1;
        __builtin_prefetch(src + idx[std::min(i + kPrefetch, last)] * stride);
        const V out = j == 0 ? inf : simd::load<V>(src + idx[i - w] * stride);
        window_step<V, W>(a, w, simd::load<V>(src + idx[i] * stride), out, minus_inf);
        simd::store<V>(dst + j * stride, a[half]);
    }
}

// ---------------------------------------------------------------------------------------------
// Sliding median of width w = 2B - 1 by sorted blocks (used for B = 16, w = 31, the HPSS
// default): 24 min/max per output vector where the insertion above needs 124.
//
// The B windows starting at j .. j+B-1 share a core of B samples (j+B-1 .. j+2B-2). Split the
// B outputs in halves: each half's windows share the core plus B/2 more samples (on the left
// for the first half, on the right for the second), and so on down to single outputs, each
// level adding a sorted run of half the size. A candidate list of g values is kept per group of
// g outputs: the union of the parent's candidates (2h values) and the new run (h values) has
// its middle third as the child's h candidates, since the h-1 samples each of the child's
// windows still adds can move the median by at most h-1 ranks either way (and every value
// dropped below is below the median, so the rank in the remaining values is the same for all
// outputs). With the runs aligned on multiples of their size, every run needed lies in the
// previous, the current or the next block of B samples, each sorted once into runs of 1, 2, 4
// .. B. Only min and max are involved, so the result is the exact order statistic, as above.
// ---------------------------------------------------------------------------------------------
template <class V>
[[gnu::always_inline]] inline V vmin(V a, V b) {
    return a < b ? a : b;
}
template <class V>
[[gnu::always_inline]] inline V vmax(V a, V b) {
    return a < b ? b : a;
}

constexpr int log2_of(int n) { return n <= 1 ? 0 : 1 + log2_of(n / 2); }

// One block of B samples sorted into runs: run[k] holds B/2^k sorted runs of 2^k samples.
template <class V, int B>
struct SortedRuns {
    V run[log2_of(B) + 1][B];
};

// Sorts a bitonic sequence t[0..N) ascending: the half-cleaners of width N/2, N/4, ..., 1.
template <class V, int N>
[[gnu::always_inline]] inline void sort_bitonic(V* t) {
#pragma GCC unroll 16
    for (int s = N / 2; s >= 1; s /= 2)
#pragma GCC unroll 16
        for (int i = 0; i < N; i += 2 * s)
#pragma GCC unroll 16
            for (int k = i; k < i + s; ++k) {
                const V lo = vmin(t[k], t[k + s]), hi = vmax(t[k], t[k + s]);
                t[k] = lo;
                t[k + s] = hi;
            }
}

// Merges ascending a[0..M) and b[0..M) into out[0..2M): a bitonic merge of a and reversed b.
template <class V, int M>
[[gnu::always_inline]] inline void bitonic_merge(const V* a, const V* b, V* out) {
    V t[2 * M];
#pragma GCC unroll 16
    for (int i = 0; i < M; ++i) {
        t[i] = a[i];
        t[2 * M - 1 - i] = b[i];
    }
    sort_bitonic<V, 2 * M>(t);
#pragma GCC unroll 16
    for (int i = 0; i < 2 * M; ++i) out[i] = t[i];
}

template <class V, int B, int K>
[[gnu::always_inline]] inline void sort_runs_from(SortedRuns<V, B>& r) {
    if constexpr ((1 << K) <= B) {
        constexpr int M = 1 << (K - 1);
#pragma GCC unroll 16
        for (int i = 0; i < B; i += 2 * M) bitonic_merge<V, M>(r.run[K - 1] + i, r.run[K - 1] + i + M, r.run[K] + i);
        sort_runs_from<V, B, K + 1>(r);
    }
}

// The middle third of the union of ascending c[0..2H) and n[0..H): ranks H .. 2H-1, ascending.
// This is the part of a bitonic merge of c with n padded by +inf (c, inf x H, reversed n) that
// reaches those ranks: the first half-cleaner keeps c[k] for k < H and min(c[k], n[2H-1-k])
// above; the second keeps the upper H of those (a bitonic sequence), which the remaining
// half-cleaners sort.
template <class V, int H>
[[gnu::always_inline]] inline void middle_third(const V* c, const V* n, V* out) {
    V t[H];
#pragma GCC unroll 16
    for (int k = 0; k < H; ++k) t[k] = vmax(c[k], vmin(c[k + H], n[H - 1 - k]));
    sort_bitonic<V, H>(t);
#pragma GCC unroll 16
    for (int k = 0; k < H; ++k) out[k] = t[k];
}

// Outputs d0 .. d0+G-1 of the block group from their G candidates; prev and next are the
// blocks before and after the core.
template <class V, int B, int G>
[[gnu::always_inline]] inline void descend(const V* cand, const SortedRuns<V, B>& prev, const SortedRuns<V, B>& next,
                                           int d0, V* out) {
    if constexpr (G == 1) {
        out[d0] = cand[0];
    } else {
        constexpr int H = G / 2, K = log2_of(H);
        V c[H];
        middle_third<V, H>(cand, prev.run[K] + d0 + H, c);  // samples left of the shared ones
        descend<V, B, H>(c, prev, next, d0, out);
        middle_third<V, H>(cand, next.run[K] + d0, c);  // samples right of them
        descend<V, B, H>(c, prev, next, d0 + H, out);
    }
}

// ext: sample i of the extended line (reflected as median_lanes reads it) at ext[(i+1)*ext_stride], for
// (ceil(n/B) + 2) * B - 1 samples (values past n + w - 1 are never selected for an output < n).
// Output j of the line goes to dst[j*stride].
template <class V, int B>
[[gnu::always_inline]] inline void median_blocks(const float* ext, std::ptrdiff_t ext_stride, float* dst,
                                                 std::ptrdiff_t stride, int n) {
    constexpr int K = log2_of(B);
    static_assert((1 << K) == B);
    SortedRuns<V, B> blk[3];
    auto fill = [&](SortedRuns<V, B>& r, int k) __attribute__((always_inline)) {
        for (int i = 0; i < B; ++i) r.run[0][i] = simd::load<V>(ext + static_cast<std::ptrdiff_t>(k * B + i) * ext_stride);
        sort_runs_from<V, B, 1>(r);
    };
    fill(blk[0], 0);
    fill(blk[1], 1);
    for (int g = 0, k = 0; g * B < n; ++g) {
        // blk[k], blk[k+1], blk[k+2] (mod 3): blocks g, g+1 (the core), g+2.
        const int kc = k == 2 ? 0 : k + 1, kn = kc == 2 ? 0 : kc + 1;
        fill(blk[kn], g + 2);
        V out[B];
        descend<V, B, B>(blk[kc].run[K], blk[k], blk[kn], 0, out);
        const int m = std::min(B, n - g * B);
        for (int d = 0; d < m; ++d) simd::store<V>(dst + static_cast<std::ptrdiff_t>(g * B + d) * stride, out[d]);
        k = kc;
    }
}

constexpr int kBlock = 16;  // median_blocks' B: width 31

// The extended-line index of ext sample i (see median_blocks) for a line of n samples: i - 1
// through `idx` (reflect_indices), clamped into it.
int ext_count(int n) { return ((n + kBlock - 1) / kBlock + 2) * kBlock; }
void ext_indices(const std::vector<int>& idx, int n, std::vector<int>& ext) {
    ext.resize(static_cast<std::size_t>(ext_count(n)));
    const int last = static_cast<int>(idx.size()) - 1;
    for (std::size_t i = 0; i < ext.size(); ++i)
        ext[i] = idx[static_cast<std::size_t>(std::clamp(static_cast<int>(i) - 1, 0, last))];
}

// Along time: lanes are L consecutive bins, which are contiguous in a column-major matrix.
// Needs nb >= L (the caller pads smaller spectrograms).
template <class V, int W>
[[gnu::always_inline]] inline void median_time_body(const float* S, float* O, int nb, int nt, int w,
                                                    const int* idx) {
    constexpr int L = lanes_of<V>;
    for (int g = 0; g < nb; g += L) {
        const int b0 = std::min(g, nb - L);  // the last group overlaps the previous one
        median_lanes<V, W>(S + b0, O + b0, nb, w, idx, nt);
    }
}

// Width 31 along time: kStrip groups of L bins are first gathered (reflected) into a contiguous
// buffer: the columns lie a page apart, and a plain copy loop of whole cache lines keeps many of
// those misses in flight where the median's dependent steps would wait on each one.
constexpr int kStrip = 4;

template <class V>
[[gnu::always_inline]] inline void median_time_blocks(const float* S, float* O, int nb, int nt, const int* ext,
                                                      float* buf) {
    constexpr int L = lanes_of<V>, W = kStrip * L;
    const int n_ext = ext_count(nt);
    for (int s0 = 0; s0 < nb; s0 += W) {
        int b0[kStrip];
        for (int g = 0; g < kStrip; ++g) b0[g] = std::min(s0 + g * L, nb - L);  // the last groups overlap
        for (int i = 0; i < n_ext; ++i) {
            const float* col = S + static_cast<std::ptrdiff_t>(ext[i]) * nb;
            for (int g = 0; g < kStrip; ++g) simd::store<V>(buf + static_cast<std::ptrdiff_t>(i) * W + g * L, simd::load<V>(col + b0[g]));
        }
        // The medians go to a strip buffer too, then out a column at a time: stored straight into
        // the columns, each store would wait for its line to be read in first.
        float* obuf = buf + static_cast<std::ptrdiff_t>(n_ext) * W;
        for (int g = 0; g < kStrip; ++g) median_blocks<V, kBlock>(buf + g * L, W, obuf + g * L, W, nt);
        for (int t = 0; t < nt; ++t) {
            float* col = O + static_cast<std::ptrdiff_t>(t) * nb;
            for (int g = 0; g < kStrip; ++g) simd::store<V>(col + b0[g], simd::load<V>(obuf + static_cast<std::ptrdiff_t>(t) * W + g * L));
        }
    }
}

// median_time_blocks without the scatter into columns: the medians stay in the strip layout,
// strip i (bins i*W .., W = kStrip*L, the last strip's groups overlapping as above) at
// out + i*nt*W, frame t's W medians at + t*W. Written in order, where the columns lie a page
// apart; harmonic_fused reads them back a slice of frames at a time (strip_columns).
template <class V>
[[gnu::always_inline]] inline void median_time_strips(const float* S, float* out, int nb, int nt, const int* ext,
                                                      float* buf) {
    constexpr int L = lanes_of<V>, W = kStrip * L, kAhead = 16;
    const int n_ext = ext_count(nt);
    for (int s0 = 0, si = 0; s0 < nb; s0 += W, ++si) {
        int b0[kStrip];
        for (int g = 0; g < kStrip; ++g) b0[g] = std::min(s0 + g * L, nb - L);
        for (int i = 0; i < n_ext; ++i) {
            const float* col = S + static_cast<std::ptrdiff_t>(ext[i]) * nb;
            // The columns lie a page apart: ask for the strip's lines of the column kAhead on.
            const float* next = S + static_cast<std::ptrdiff_t>(ext[std::min(i + kAhead, n_ext - 1)]) * nb;
            for (int q = 0; q < W; q += 16) __builtin_prefetch(next + s0 + q);
            for (int g = 0; g < kStrip; ++g) simd::store<V>(buf + static_cast<std::ptrdiff_t>(i) * W + g * L, simd::load<V>(col + b0[g]));
        }
        float* obuf = out + static_cast<std::ptrdiff_t>(si) * nt * W;
        for (int g = 0; g < kStrip; ++g) median_blocks<V, kBlock>(buf + g * L, W, obuf + g * L, W, nt);
    }
}

// Along frequency: lanes are L frames, gathered into a bins x L buffer and scattered back.
template <class V, int W>
[[gnu::always_inline]] inline void median_freq_body(const float* S, float* O, int nb, int nt, int w,
                                                    const int* idx, float* in_buf, float* out_buf) {
    constexpr int L = lanes_of<V>;
    for (int t0 = 0; t0 < nt; t0 += L) {
        const float* cols[L];
        for (int l = 0; l < L; ++l) cols[l] = S + static_cast<std::ptrdiff_t>(std::min(t0 + l, nt - 1)) * nb;
        for (int b = 0; b < nb; ++b)
            for (int l = 0; l < L; ++l) in_buf[b * L + l] = cols[l][b];
        median_lanes<V, W>(in_buf, out_buf, L, w, idx, nb);
        const int lanes = std::min(L, nt - t0);
        for (int l = 0; l < lanes; ++l) {
            float* col = O + static_cast<std::ptrdiff_t>(t0 + l) * nb;
            for (int b = 0; b < nb; ++b) col[b] = out_buf[b * L + l];
        }
    }
}

// In-register transpose of an L x L block held in L vectors (afterwards r[j][l] is the old
// r[l][j]): for each bit s of the lane index, the off-diagonal s x s sub-blocks of each 2s x 2s
// block are swapped, one two-source shuffle per vector and bit.
template <class VI, int L, int S, std::size_t... P>
constexpr VI transpose_mask_lo(std::index_sequence<P...>) {
    return VI{((P & S) ? static_cast<int>(L + P - S) : static_cast<int>(P))...};
}
template <class VI, int L, int S, std::size_t... P>
constexpr VI transpose_mask_hi(std::index_sequence<P...>) {
    return VI{((P & S) ? static_cast<int>(L + P) : static_cast<int>(P + S))...};
}
template <class V, int S>
[[gnu::always_inline]] inline void transpose_stage(V* r) {
    constexpr int L = lanes_of<V>;
    using VI = std::conditional_t<sizeof(V) == sizeof(v8i), v8i, v16i>;
    constexpr VI lo = transpose_mask_lo<VI, L, S>(std::make_index_sequence<L>{});
    constexpr VI hi = transpose_mask_hi<VI, L, S>(std::make_index_sequence<L>{});
#pragma GCC unroll 16
    for (int i = 0; i < L; ++i)
        if (!(i & S)) {
            const V a = r[i], b = r[i + S];
            r[i] = __builtin_shuffle(a, b, lo);
            r[i + S] = __builtin_shuffle(a, b, hi);
        }
    if constexpr (S > 1) transpose_stage<V, S / 2>(r);
}
template <class V>
[[gnu::always_inline]] inline void transpose_lanes(V* r) {
    transpose_stage<V, lanes_of<V> / 2>(r);
}

// Width 31 along frequency: the L frames' extended lines gathered into ext_count(nb) x L, L x L
// blocks at a time through register transposes where the extended line runs straight through
// the column (all but the reflected ends); the medians go back to the columns the same way.
template <class V>
[[gnu::always_inline]] inline void median_freq_blocks(const float* S, float* O, int nb, int nt, const int* ext,
                                                      float* in_buf, float* out_buf) {
    constexpr int L = lanes_of<V>;
    const int n_ext = ext_count(nb);
    for (int t0 = 0; t0 < nt; t0 += L) {
        const float* cols[L];
        for (int l = 0; l < L; ++l) cols[l] = S + static_cast<std::ptrdiff_t>(std::min(t0 + l, nt - 1)) * nb;
        for (int i = 0; i < n_ext; i += L) {
            // ext steps by -1, 0 or +1, so a rise of L-1 over L samples is a straight run.
            if (i + L <= n_ext && ext[i + L - 1] - ext[i] == L - 1) {
                V r[L];
#pragma GCC unroll 16
                for (int l = 0; l < L; ++l) {
                    // The same bins of the next L frames (16 streams), for the next group.
                    __builtin_prefetch(cols[l] + ext[i] + static_cast<std::ptrdiff_t>(L) * nb);
                    r[l] = simd::load<V>(cols[l] + ext[i]);
                }
                transpose_lanes(r);
#pragma GCC unroll 16
                for (int j = 0; j < L; ++j) simd::store(in_buf + (i + j) * L, r[j]);
            } else {
                for (int j = i; j < std::min(i + L, n_ext); ++j)
                    for (int l = 0; l < L; ++l) in_buf[j * L + l] = cols[l][ext[j]];
            }
        }
        median_blocks<V, kBlock>(in_buf, L, out_buf, L, nb);
        const int lanes = std::min(L, nt - t0);
        float* ocols[L];
        for (int l = 0; l < L; ++l) ocols[l] = O + static_cast<std::ptrdiff_t>(t0 + std::min(l, lanes - 1)) * nb;
        int b = 0;
        for (; b + L <= nb; b += L) {
            V r[L];
#pragma GCC unroll 16
            for (int j = 0; j < L; ++j) r[j] = simd::load<V>(out_buf + (b + j) * L);
            transpose_lanes(r);
            for (int l = 0; l < lanes; ++l) simd::store(ocols[l] + b, r[l]);
        }
        for (; b < nb; ++b)
            for (int l = 0; l < lanes; ++l) ocols[l][b] = out_buf[b * L + l];
    }
}

// ref: librosa 0.7.2 util/utils.py softmask(x, x_ref * margin, power=2), in float32:
// Z = max(X, X_ref); where Z < tiny the mask is 0.5 (split_zeros) or 0; elsewhere
// (X/Z)^2 / ((X/Z)^2 + (X_ref/Z)^2). Written branch-free so that it vectorises; IEEE division
// gives the same bits at any vector width.
[[gnu::always_inline]] inline void softmask_p2_body(const float* x, const float* ref, float margin, float zero_value,
                                                    float* mask, std::ptrdiff_t n) {
    const float tiny = std::numeric_limits<float>::min();
    for (std::ptrdiff_t i = 0; i < n; ++i) {
        const float a0 = x[i], r = ref[i] * margin;
        const float z = a0 > r ? a0 : r;
        const bool bad = z < tiny;
        const float zz = bad ? 1.0f : z;
        float a = a0 / zz, b = r / zz;
        a = a * a;
        b = b * b;
        const float m = a / (a + b);
        mask[i] = bad ? zero_value : m;
    }
}

// softmask_p2_body of frames t0 .. t0+cnt-1 with x the time medians in strips (see
// median_time_strips) and ref, mask column-major (cnt columns of nb).
template <int L>
[[gnu::always_inline]] inline void softmask_p2_strips_body(const float* strips, int nt, int t0, int cnt, int nb,
                                                           const float* ref, float margin, float zero_value,
                                                           float* mask) {
    constexpr int W = kStrip * L, kAhead = 8;
    for (int t = t0; t < t0 + cnt; ++t) {
        const std::ptrdiff_t c = static_cast<std::ptrdiff_t>(t - t0) * nb;
        for (int s0 = 0, si = 0; s0 < nb; s0 += W, ++si) {
            const float* x = strips + (static_cast<std::ptrdiff_t>(si) * nt + t) * W;
            // Each strip is a stream of its own (17 for 1025 bins): ask for the medians of a few
            // frames ahead (addresses past the strip are only prefetched, never read).
            for (int q = 0; q < W; q += 16) __builtin_prefetch(x + kAhead * W + q);
            if (s0 + W <= nb) {
                softmask_p2_body(x, ref + c + s0, margin, zero_value, mask + c + s0, W);
            } else {
                for (int g = 0; g < kStrip; ++g) {
                    const int b0 = std::min(s0 + g * L, nb - L);
                    softmask_p2_body(x + g * L, ref + c + b0, margin, zero_value, mask + c + b0, L);
                }
            }
        }
    }
}

// Each kernel is compiled for the x86-64 baseline and, where the compiler targets x86-64 without
// them, for AVX2 and AVX-512, and chosen at run time. The results are identical (selections,
// and IEEE arithmetic without contraction); the wider units are only faster.
#define GENREKIT_HPSS_KERNELS(SUFFIX, ATTR, V)                                                                   \
    ATTR void median_time_##SUFFIX(const float* S, float* O, int nb, int nt, int w, const int* idx,             \
                                   const int* ext, float* buf) {                                                 \
        if (w == 2 * kBlock - 1) return median_time_blocks<V>(S, O, nb, nt, ext, buf);                          \
        median_time_body<V, 0>(S, O, nb, nt, w, idx);                                                           \
    }                                                                                                            \
    ATTR void median_freq_##SUFFIX(const float* S, float* O, int nb, int nt, int w, const int* idx,             \
                                   const int* ext, float* ib, float* ob) {                                       \
        if (w == 2 * kBlock - 1) return median_freq_blocks<V>(S, O, nb, nt, ext, ib, ob);                       \
        median_freq_body<V, 0>(S, O, nb, nt, w, idx, ib, ob);                                                   \
    }                                                                                                            \
    ATTR void median_time_strips_##SUFFIX(const float* S, float* out, int nb, int nt, const int* ext, float* buf) { \
        median_time_strips<V>(S, out, nb, nt, ext, buf);                                                       \
    }                                                                                                            \
    ATTR void softmask_p2_strips_##SUFFIX(const float* strips, int nt, int t0, int cnt, int nb, const float* ref,  \
                                          float margin, float zero_value, float* mask) {                         \
        softmask_p2_strips_body<lanes_of<V>>(strips, nt, t0, cnt, nb, ref, margin, zero_value, mask);            \
    }                                                                                                            \
    ATTR void softmask_p2_##SUFFIX(const float* x, const float* ref, float margin, float zero_value, float* mask, \
                                   std::ptrdiff_t n) {                                                           \
        softmask_p2_body(x, ref, margin, zero_value, mask, n);                                                  \
    }

GENREKIT_HPSS_KERNELS(base, , v8f)

struct Kernels {
    int lanes = 8;
    void (*median_time)(const float*, float*, int, int, int, const int*, const int*, float*) = median_time_base;
    void (*median_freq)(const float*, float*, int, int, int, const int*, const int*, float*, float*) = median_freq_base;
    void (*softmask_p2)(const float*, const float*, float, float, float*, std::ptrdiff_t) = softmask_p2_base;
    void (*median_time_strips)(const float*, float*, int, int, const int*, float*) = median_time_strips_base;
    void (*softmask_p2_strips)(const float*, int, int, int, int, const float*, float, float, float*) =
        softmask_p2_strips_base;
};

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__AVX512F__)
GENREKIT_HPSS_KERNELS(avx2, [[gnu::target("avx2")]], v8f)
GENREKIT_HPSS_KERNELS(avx512, [[gnu::target("avx512f")]], v16f)

Kernels select_kernels() {
    Kernels k;
    if (__builtin_cpu_supports("avx512f")) {
        k = {16, median_time_avx512, median_freq_avx512, softmask_p2_avx512, median_time_strips_avx512,
             softmask_p2_strips_avx512};
    } else if (__builtin_cpu_supports("avx2")) {
        k = {8, median_time_avx2, median_freq_avx2, softmask_p2_avx2, median_time_strips_avx2, softmask_p2_strips_avx2};
    }
    return k;
}
#elif defined(__AVX512F__)
GENREKIT_HPSS_KERNELS(wide, , v16f)
Kernels select_kernels() {
    return {16, median_time_wide, median_freq_wide, softmask_p2_wide, median_time_strips_wide,
            softmask_p2_strips_wide};
}
#else
Kernels select_kernels() { return {}; }
#endif

// Chosen once; immutable afterwards.
const Kernels& kernels() {
    static const Kernels k = select_kernels();
    return k;
}

// Index and gather buffers of the median filters, kept by Hpss between calls.
struct MedianScratch {
    std::vector<int> idx, ext;
    std::vector<float> buf;
};

void median_time_impl(const Spectrogram& S, int width, Spectrogram& out, MedianScratch& ms) {
    const int nb = static_cast<int>(S.rows()), nt = static_cast<int>(S.cols());
    out.resize(S.rows(), S.cols());
    if (nb == 0 || nt == 0) return;
    const Kernels& k = kernels();
    reflect_indices(nt, width / 2, ms.idx);
    ext_indices(ms.idx, nt, ms.ext);
    ms.buf.resize(static_cast<std::size_t>((ext_count(nt) + nt) * kStrip * kMaxLanes));
    if (nb < k.lanes) {
        // Fewer rows than lanes: pad by repeating the last row.
        Spectrogram padded(k.lanes, S.cols()), padded_out(k.lanes, S.cols());
        for (int r = 0; r < k.lanes; ++r) padded.row(r) = S.row(std::min(r, nb - 1));
        k.median_time(padded.data(), padded_out.data(), k.lanes, nt, width, ms.idx.data(), ms.ext.data(),
                      ms.buf.data());
        out = padded_out.topRows(nb);
        return;
    }
    k.median_time(S.data(), out.data(), nb, nt, width, ms.idx.data(), ms.ext.data(), ms.buf.data());
}

// The indices and gather buffers of a frequency median over nb bins; returns the offset in ms.buf
// of the output buffer (the gathered input comes first).
std::size_t prepare_median_freq(int nb, int width, MedianScratch& ms) {
    reflect_indices(nb, width / 2, ms.idx);
    ext_indices(ms.idx, nb, ms.ext);
    const std::size_t in_size = static_cast<std::size_t>(std::max(nb, ext_count(nb)) * kMaxLanes);
    ms.buf.resize(std::max(ms.buf.size(), in_size + static_cast<std::size_t>(nb * kMaxLanes)));
    return in_size;
}

void median_freq_impl(const Spectrogram& S, int width, Spectrogram& out, MedianScratch& ms) {
    const int nb = static_cast<int>(S.rows()), nt = static_cast<int>(S.cols());
    out.resize(S.rows(), S.cols());
    if (nb == 0 || nt == 0) return;
    const std::size_t in_size = prepare_median_freq(nb, width, ms);
    const Kernels& k = kernels();
    k.median_freq(S.data(), out.data(), nb, nt, width, ms.idx.data(), ms.ext.data(), ms.buf.data(),
                  ms.buf.data() + in_size);
}

void require_width(int width) {
    require_param(width >= 1 && width <= kMaxWidth && width % 2 == 1, "width", width, "an odd number in 1..255");
}

// ref: librosa 0.7.2 util/utils.py softmask, for one element, in float32.
[[gnu::always_inline]] inline float softmask_one(float x, float x_ref, float power, bool split_zeros) {
    const float z = std::max(x, x_ref);
    if (z < std::numeric_limits<float>::min()) return split_zeros ? 0.5f : 0.0f;
    float m = x / z, r = x_ref / z;
    if (power == 2.0f) {  // numpy evaluates **2 as a square
        m = m * m;
        r = r * r;
    } else {
        m = std::pow(m, power);
        r = std::pow(r, power);
    }
    return m / (m + r);
}

// out = X * mask (complex times real: both parts scaled; the same bits as a complex product with
// imaginary part 0).
void apply_mask(const ComplexSpectrogram& X, const Spectrogram& mask, ComplexSpectrogram& out) {
    out.resize(X.rows(), X.cols());
    const float* x = reinterpret_cast<const float*>(X.data());
    const float* m = mask.data();
    float* o = reinterpret_cast<float*>(out.data());
    const Eigen::Index n = X.size();
    for (Eigen::Index i = 0; i < n; ++i) {
        o[2 * i] = x[2 * i] * m[i];
        o[2 * i + 1] = x[2 * i + 1] * m[i];
    }
}

// ref: librosa 0.7.2 window_sumsquare for nt frames: the squared window summed over frames
// (float32, frames in order), N + hop*(nt-1) samples. Away from the ends it depends only on
// i mod hop, so it is computed once per residue.
void compute_window_sumsquare(const fft_batch::Plan& p, std::size_t hop, int nt, std::vector<float>& ws) {
    const auto N = static_cast<std::size_t>(p.n_fft);
    const std::size_t signal_len = N + hop * static_cast<std::size_t>(nt - 1);
    ws.resize(signal_len);
    auto ws_at = [&](std::size_t i) {
        const std::size_t t_hi = std::min(static_cast<std::size_t>(nt - 1), i / hop);
        const std::size_t t_lo = i >= N ? (i - N) / hop + 1 : 0;
        float acc = 0.0f;
        for (std::size_t t = t_lo; t <= t_hi; ++t) {
            const float wv = p.window[i - t * hop];
            acc += wv * wv;
        }
        return acc;
    };
    const std::size_t interior_end = std::min(signal_len, hop * static_cast<std::size_t>(nt));
    for (std::size_t i = 0; i < signal_len; ++i) {
        if (i >= N + hop && i < interior_end) {
            ws[i] = ws[i - hop];
        } else {
            ws[i] = ws_at(i);
        }
    }
}

// out[i] = y[i] / w[i] where w[i] > tiny(float32), else y[i]; with `residual`, also residual[i]
// = signal[i] - out[i] (the percussive residual, see Hpss::waveforms). Eight samples per vector
// with the same IEEE division and subtraction as one at a time; compiled for AVX2 too.
[[gnu::target_clones("avx2", "default")]] void divide_by_window(const float* y, const float* w, std::size_t n,
                                                                float* out, const float* signal, float* residual) {
    const float tiny = std::numeric_limits<float>::min();
    std::size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        const v8f yv = simd::load<v8f>(y + i), wv = simd::load<v8f>(w + i);
        const v8f o = wv > tiny ? yv / wv : yv;
        simd::store(out + i, o);
        if (residual) simd::store(residual + i, simd::load<v8f>(signal + i) - o);
    }
    for (; i < n; ++i) {
        out[i] = w[i] > tiny ? y[i] / w[i] : y[i];
        if (residual) residual[i] = signal[i] - out[i];
    }
}

// ref: librosa 0.7.2 istft(length=None, center=True): the overlap-added frames y (N + hop*(nt-1)
// samples) divided by the window sum-square where it exceeds tiny, hop*(nt-1) samples written
// to out[0..], the rest of `out` zero (fix_length). `ws` is scratch. With `residual` (out.size()
// floats), also residual[i] = signal[i] - out[i] on those samples and 0 after them.
void istft_normalize(const fft_batch::Plan& p, int hop_length, int nt, const std::vector<float>& y,
                     std::vector<float>& ws, int& ws_frames, std::vector<float>& out, const float* signal = nullptr,
                     float* residual = nullptr) {
    const auto N = static_cast<std::size_t>(p.n_fft), hop = static_cast<std::size_t>(hop_length);
    const std::size_t signal_len = N + hop * static_cast<std::size_t>(nt - 1);
    // The window sum-square depends only on the frame count: kept while that stays (ws_frames).
    if (ws_frames != nt || ws.size() != signal_len) compute_window_sumsquare(p, hop, nt, ws);
    ws_frames = nt;
    const std::size_t start = N / 2, covered = hop * static_cast<std::size_t>(nt - 1);
    const std::size_t n = std::min(covered, out.size());
    divide_by_window(y.data() + start, ws.data() + start, n, out.data(), signal, residual);
    std::fill(out.begin() + static_cast<std::ptrdiff_t>(n), out.end(), 0.0f);
    if (residual) std::fill(residual + n, residual + out.size(), 0.0f);
}

// ref: librosa 0.7.2 istft(length=None, center=True) of X * mask, as istft_normalize writes it.
// `y` and `ws` are scratch.
void istft_masked(const ComplexSpectrogram& X, const Spectrogram& mask, const fft_batch::Plan& p, int hop_length,
                  fft_batch::Scratch& scratch, std::vector<float>& y, std::vector<float>& ws, int& ws_frames,
                  std::vector<float>& out) {
    const int nb = static_cast<int>(X.rows()), nt = static_cast<int>(X.cols());
    const std::size_t signal_len =
        static_cast<std::size_t>(p.n_fft) + static_cast<std::size_t>(hop_length) * static_cast<std::size_t>(nt - 1);
    y.assign(signal_len, 0.0f);
    for (int t0 = 0; t0 < nt; t0 += fft_batch::kLanes)
        fft_batch::inverse_overlap_add(p, X.data(), mask.data(), nb, nt, t0, hop_length, scratch, y.data());
    istft_normalize(p, hop_length, nt, y, ws, ws_frames, out);
}

// The leaves [start, ends[0]), [ends[0], ends[1]) .. of a and of b summed as pairwise_sum sums a
// leaf (pairwise_kernels.hpp): the same additions. Both arrays at once (two independent chains).
[[gnu::target_clones("avx2", "default")]] void leaf_sums2(const float* a, const float* b, std::size_t start,
                                                           const std::size_t* ends, std::size_t count, float* sum_a,
                                                           float* sum_b) {
    for (std::size_t k = 0; k < count; ++k) {
        float sums[2];
        pairwise::leaf_sums<float>(0, ends[k] - start, sums, pairwise::ArrayTerms<float>{a + start},
                                   pairwise::ArrayTerms<float>{b + start});
        sum_a[k] = sums[0];
        sum_b[k] = sums[1];
        start = ends[k];
    }
}

}  // namespace

void median_filter_time(const Spectrogram& S, int width, Spectrogram& out) {
    require_width(width);
    MedianScratch ms;
    median_time_impl(S, width, out, ms);
}

void median_filter_frequency(const Spectrogram& S, int width, Spectrogram& out) {
    require_width(width);
    MedianScratch ms;
    median_freq_impl(S, width, out, ms);
}

void softmask(const Spectrogram& X, const Spectrogram& X_ref, float power, bool split_zeros, Spectrogram& mask) {
    if (X.rows() != X_ref.rows() || X.cols() != X_ref.cols())
        throw Error("softmask: shape mismatch: " + std::to_string(X.rows()) + "x" + std::to_string(X.cols()) +
                    " != " + std::to_string(X_ref.rows()) + "x" + std::to_string(X_ref.cols()));
    require_param(std::isfinite(power) && power > 0, "power", power, "a finite number > 0");
    mask.resize(X.rows(), X.cols());
    const float* x = X.data();
    const float* r = X_ref.data();
    float* m = mask.data();
    const Eigen::Index n = X.size();
    for (Eigen::Index i = 0; i < n; ++i) m[i] = softmask_one(x[i], r[i], power, split_zeros);
}

struct Hpss::Scratch {
    Spectrogram harm, perc, mask_h, mask_p;  // median filters and masks
    ComplexSpectrogram masked;               // X * mask, the input of the inverse STFT
    MedianScratch median;
    Spectrogram perc_slice, mask_slice;  // harmonic_fused: kSlice frames of the percussive median and mask
    HpssWaveforms waves;
    Stft stft;
    fft_batch::Plan fft;                       // the vectorised inverse STFT (power-of-two n_fft)
    fft_batch::Scratch fft_scratch;
    std::vector<float> ola, wss;
    int wss_frames = -1;                       // the frame count wss holds the window sum-square of
    std::vector<float> wss_period;             // harmonic_fused: wss over one hop of its periodic part, twice
    std::vector<std::size_t> leaf_ends;        // the pairwise-sum leaves of leaf_n samples (their ends)
    std::size_t leaf_n = static_cast<std::size_t>(-1);
    std::vector<float> leaf_harm, leaf_perc;   // the leaves' sums
    std::vector<float> harm_strips;            // harmonic_fused: the time median in strips
    explicit Scratch(const StftParams& p) : stft(p) {
        if (fft_batch::supported(p.n_fft)) fft = fft_batch::make_plan(p.n_fft);
    }
};

Hpss::Hpss(const HpssParams& params, const StftParams& stft)
    : params_(params), stft_params_(stft), scratch_(std::make_unique<Scratch>(stft)) {
    params_.validate();
}

Hpss::~Hpss() = default;
Hpss::Hpss(Hpss&&) noexcept = default;
Hpss& Hpss::operator=(Hpss&&) noexcept = default;

void Hpss::masks(const Spectrogram& mag, Spectrogram& mask_harmonic, Spectrogram& mask_percussive) {
    masks(mag, mask_harmonic, &mask_percussive);
}

void Hpss::masks(const Spectrogram& mag, Spectrogram& mask_harmonic, Spectrogram* mask_percussive) {
    Scratch& s = *scratch_;
    // ref: librosa 0.7.2 decompose.hpss: harm = median_filter(S, size=(1, win_harm), mode='reflect'),
    // perc = median_filter(S, size=(win_perc, 1), mode='reflect').
    median_time_impl(mag, params_.kernel_harmonic, s.harm, s.median);
    median_freq_impl(mag, params_.kernel_percussive, s.perc, s.median);
    // ref: librosa 0.7.2 decompose.hpss: split_zeros = (margin_harm == 1 and margin_perc == 1);
    // mask_harm = softmask(harm, perc * margin_harm), mask_perc = softmask(perc, harm * margin_perc).
    const bool split_zeros = params_.margin_harmonic == 1.0f && params_.margin_percussive == 1.0f;
    const float power = params_.power, margin_h = params_.margin_harmonic, margin_p = params_.margin_percussive;
    const Eigen::Index n = mag.size();
    auto one = [&](const Spectrogram& x, const Spectrogram& ref, float margin, Spectrogram& mask) {
        if (mask.rows() != mag.rows() || mask.cols() != mag.cols()) mask.resize(mag.rows(), mag.cols());
        if (power == 2.0f) {  // numpy evaluates **2 as a square
            kernels().softmask_p2(x.data(), ref.data(), margin, split_zeros ? 0.5f : 0.0f, mask.data(), n);
            return;
        }
        for (Eigen::Index i = 0; i < n; ++i)
            mask.data()[i] = softmask_one(x.data()[i], ref.data()[i] * margin, power, split_zeros);
    };
    one(s.harm, s.perc, margin_h, mask_harmonic);
    if (mask_percussive) one(s.perc, s.harm, margin_p, *mask_percussive);
}

HpssSpectrograms Hpss::decompose(const ComplexSpectrogram& X, const Spectrogram& mag) {
    if (X.rows() != mag.rows() || X.cols() != mag.cols())
        throw Error("hpss: the magnitude spectrogram's shape differs from the STFT's");
    Scratch& s = *scratch_;
    masks(mag, s.mask_h, s.mask_p);
    HpssSpectrograms out;
    // ref: librosa 0.7.2 decompose.hpss: (S * mask) * phase; here X * mask (see the header).
    apply_mask(X, s.mask_h, out.harmonic);
    apply_mask(X, s.mask_p, out.percussive);
    return out;
}

// The harmonic half of masks(), istft_masked() and istft_normalize() run kSlice frames at a
// time: the percussive median, the harmonic mask and the masked inverse transforms of a slice
// stay in cache, where whole-track passes would write and read back two 5 MB matrices. The
// overlap-add goes to a window of N + kSlice*hop samples that slides along the signal: once a
// slice is added, the samples no later frame reaches are final, so they are divided by the
// window sum-square (and the percussive residual formed) right away, and the tail the next
// frames still add to moves to the front. The same operations on the same values in the same
// order (frames still overlap-added in order): the same bits. Writes s.waves (the harmonic
// waveform and the percussive residual, y.size() samples each). Needs power 2, both margins 1
// and a power-of-two n_fft.
void Hpss::harmonic_fused(const ComplexSpectrogram& X, const Spectrogram& mag, std::span<const float> y) {
    constexpr int kSlice = 32;
    Scratch& s = *scratch_;
    const int nb = static_cast<int>(mag.rows()), nt = static_cast<int>(mag.cols()), hop = stft_params_.hop;
    // ref: librosa 0.7.2 decompose.hpss, as masks() (split_zeros: both margins are 1).
    // Width 31 (the sorted-block kernel) leaves the time median in strips (median_time_strips),
    // which the soft mask reads as they are; otherwise it is a whole matrix.
    const Kernels& k = kernels();
    MedianScratch& ms = s.median;
    const bool strips = params_.kernel_harmonic == 2 * kBlock - 1 && nb >= k.lanes;
    const int strip_w = kStrip * k.lanes, n_strips = (nb + strip_w - 1) / strip_w;
    if (strips) {
        reflect_indices(nt, params_.kernel_harmonic / 2, ms.idx);
        ext_indices(ms.idx, nt, ms.ext);
        ms.buf.resize(std::max(ms.buf.size(), static_cast<std::size_t>(ext_count(nt) * kStrip * kMaxLanes)));
        s.harm_strips.resize(static_cast<std::size_t>(n_strips) * static_cast<std::size_t>(nt) *
                             static_cast<std::size_t>(strip_w));
        k.median_time_strips(mag.data(), s.harm_strips.data(), nb, nt, ms.ext.data(), ms.buf.data());
    } else {
        median_time_impl(mag, params_.kernel_harmonic, s.harm, s.median);
    }
    const int width = params_.kernel_percussive;
    const std::size_t in_size = prepare_median_freq(nb, width, ms);
    s.perc_slice.resize(nb, kSlice);
    s.mask_slice.resize(nb, kSlice);
    const auto N = static_cast<std::size_t>(s.fft.n_fft), H = static_cast<std::size_t>(hop);
    const std::size_t signal_len = N + H * static_cast<std::size_t>(nt - 1);
    // The window sum-square depends only on the frame count: kept while that stays (wss_frames).
    if (s.wss_frames != nt || s.wss.size() != signal_len) compute_window_sumsquare(s.fft, H, nt, s.wss);
    s.wss_frames = nt;
    // ref: librosa 0.7.2 istft(center=True) trims N/2 samples at the start; fix_length(len(y)).
    const std::size_t start = N / 2, covered = H * static_cast<std::size_t>(nt - 1);
    const std::size_t n_out = std::min(covered, y.size());
    s.waves.harmonic.resize(y.size());
    s.waves.percussive.resize(y.size());
    float* const harm_out = s.waves.harmonic.data();
    float* const perc_out = s.waves.percussive.data();
    // On [N, interior_end) the sum-square repeats every hop (compute_window_sumsquare copies it so):
    // read from one period held twice, in cache, instead of the whole-signal array.
    const std::size_t interior_end = std::min(signal_len, H * static_cast<std::size_t>(nt));
    const bool periodic = interior_end >= N + H;
    if (periodic) {
        s.wss_period.resize(2 * H);
        for (std::size_t j = 0; j < 2 * H; ++j) s.wss_period[j] = s.wss[N + j % H];
    }
    auto normalize = [&](const float* src, std::size_t first, std::size_t count, std::size_t o) {
        // signal samples first .. first+count-1 (src) to output samples o .. (and the residual).
        const std::size_t end = first + count;
        while (first < end) {
            std::size_t stop = end;
            const float* w = s.wss.data() + first;
            if (periodic && first >= N && first < interior_end) {
                stop = std::min({end, interior_end, first + H});
                w = s.wss_period.data() + (first - N) % H;
            } else if (periodic && first < N) {
                stop = std::min(end, N);
            }
            divide_by_window(src, w, stop - first, harm_out + o, y.data() + o, perc_out + o);
            src += stop - first;
            o += stop - first;
            first = stop;
        }
    };
    const std::size_t win_len = N + H * kSlice, keep = N > H ? N - H : 0;
    s.ola.assign(win_len, 0.0f);
    float* const ola = s.ola.data();
    std::size_t done = 0;  // output samples written
    // numpy's pairwise sums of the two waveforms (np.mean's), leaf by leaf as the samples are final.
    if (s.leaf_n != y.size()) {
        s.leaf_ends.clear();
        pairwise::leaf_ends(y.size(), 0, s.leaf_ends);
        s.leaf_n = y.size();
    }
    s.leaf_harm.resize(s.leaf_ends.size());
    s.leaf_perc.resize(s.leaf_ends.size());
    std::size_t leaf = 0, leaf_start = 0;
    auto sum_leaves = [&](std::size_t upto) {
        std::size_t last = leaf;
        while (last < s.leaf_ends.size() && s.leaf_ends[last] <= upto) ++last;
        if (last == leaf) return;
        leaf_sums2(harm_out, perc_out, leaf_start, s.leaf_ends.data() + leaf, last - leaf, s.leaf_harm.data() + leaf,
                   s.leaf_perc.data() + leaf);
        leaf_start = s.leaf_ends[last - 1];
        leaf = last;
    };
    for (int t0 = 0; t0 < nt; t0 += kSlice) {
        const int cnt = std::min(kSlice, nt - t0);
        const std::ptrdiff_t off = static_cast<std::ptrdiff_t>(t0) * nb;
        k.median_freq(mag.data() + off, s.perc_slice.data(), nb, cnt, width, ms.idx.data(), ms.ext.data(),
                      ms.buf.data(), ms.buf.data() + in_size);
        if (strips)
            k.softmask_p2_strips(s.harm_strips.data(), nt, t0, cnt, nb, s.perc_slice.data(), params_.margin_harmonic,
                                 0.5f, s.mask_slice.data());
        else
            k.softmask_p2(s.harm.data() + off, s.perc_slice.data(), params_.margin_harmonic, 0.5f, s.mask_slice.data(),
                          static_cast<std::ptrdiff_t>(cnt) * nb);
        for (int l0 = 0; l0 < cnt; l0 += fft_batch::kLanes)
            fft_batch::inverse_overlap_add(s.fft, X.data() + off, s.mask_slice.data(), nb, cnt, l0, hop, s.fft_scratch,
                                           ola);
        // ola[0] is signal sample base; samples before `complete` have all their frames.
        const bool last = t0 + cnt == nt;
        const std::size_t base = H * static_cast<std::size_t>(t0);
        const std::size_t complete = last ? signal_len : H * static_cast<std::size_t>(t0 + cnt);
        const std::size_t o_end = complete > start ? std::min(n_out, complete - start) : 0;
        if (o_end > done) {
            const std::size_t first = done + start;  // >= base
            normalize(ola + (first - base), first, o_end - done, done);
            done = o_end;
            sum_leaves(done);
        }
        if (!last) {
            const std::size_t shift = H * static_cast<std::size_t>(cnt);
            std::memmove(ola, ola + shift, keep * sizeof(float));
            std::fill(ola + keep, ola + win_len, 0.0f);
        }
    }
    // fix_length: zeros after the samples istft covers.
    std::fill(harm_out + n_out, harm_out + y.size(), 0.0f);
    std::fill(perc_out + n_out, perc_out + y.size(), 0.0f);
    sum_leaves(y.size());
    const float* lh = s.leaf_harm.data();
    const float* lp = s.leaf_perc.data();
    s.waves.harmonic_sum = pairwise::sum_of_leaves(y.size(), lh);
    s.waves.percussive_sum = pairwise::sum_of_leaves(y.size(), lp);
    s.waves.has_sums = true;
}

const HpssWaveforms& Hpss::waveforms(const ComplexSpectrogram& X, const Spectrogram& mag, std::span<const float> y) {
    Scratch& s = *scratch_;
    const auto n_fft = static_cast<std::size_t>(stft_params_.n_fft);
    const auto hop = static_cast<std::size_t>(stft_params_.hop);
    if (!stft_params_.center) throw Error("hpss waveforms: the STFT must be centred (center = true), as effects.hpss uses");
    if (X.rows() != static_cast<Eigen::Index>(n_fft / 2 + 1) || X.rows() != mag.rows() || X.cols() != mag.cols())
        throw Error("hpss waveforms: the STFT is " + std::to_string(X.rows()) + "x" + std::to_string(X.cols()) +
                    " and the magnitude " + std::to_string(mag.rows()) + "x" + std::to_string(mag.cols()) +
                    "; expected " + std::to_string(n_fft / 2 + 1) + " bins in both");
    if (static_cast<std::size_t>(X.cols()) != s.stft.n_frames(y.size()))
        throw Error("hpss waveforms: the STFT has " + std::to_string(X.cols()) + " frames but a signal of " +
                    std::to_string(y.size()) + " samples gives " + std::to_string(s.stft.n_frames(y.size())));
    const bool complementary = params_.margin_harmonic == 1.0f && params_.margin_percussive == 1.0f;
    const bool residual = params_.percussive_from_residual && complementary;
    const std::size_t covered = hop * static_cast<std::size_t>(X.cols() - 1);  // istft(length=None) output

    // ref: librosa 0.7.2 effects.hpss: fix_length(istft(stft_harm), len(y)): trimmed, then zero-padded.
    auto invert = [&](const Spectrogram& mask, std::vector<float>& out) {
        out.resize(y.size());
        if (s.fft.valid()) return istft_masked(X, mask, s.fft, stft_params_.hop, s.fft_scratch, s.ola, s.wss, s.wss_frames, out);
        // Not a power of two: KissFFT through Stft.
        apply_mask(X, mask, s.masked);
        const std::vector<float> z = s.stft.inverse_no_length(s.masked);
        out.assign(y.size(), 0.0f);
        std::copy_n(z.begin(), std::min(z.size(), y.size()), out.begin());
    };
    if (residual && s.fft.valid() && params_.power == 2.0f) {
        // The percussive residual (as below) formed as the harmonic samples are.
        harmonic_fused(X, mag, y);
        return s.waves;
    }
    s.waves.has_sums = false;
    masks(mag, s.mask_h, residual ? nullptr : &s.mask_p);  // the residual needs no percussive mask
    invert(s.mask_h, s.waves.harmonic);
    if (residual) {
        // istft(X * mask_p) = istft(X) - istft(X * mask_h), and istft(X) = y where it is defined.
        s.waves.percussive.assign(y.size(), 0.0f);
        const std::size_t n = std::min(covered, y.size());
        for (std::size_t i = 0; i < n; ++i) s.waves.percussive[i] = y[i] - s.waves.harmonic[i];
    } else {
        invert(s.mask_p, s.waves.percussive);
    }
    return s.waves;
}

}  // namespace genrekit
