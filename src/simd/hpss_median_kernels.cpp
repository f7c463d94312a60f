#include "simd/hpss_median_kernels.hpp"

#include <algorithm>
#include <limits>
#include <type_traits>
#include <utility>

#include "simd/variants.hpp"
#include "simd/vec.hpp"

namespace genrekit::simd::hpss {

void reflect_indices(int n, int half, std::vector<int>& idx) {
    idx.resize(static_cast<std::size_t>(n + 2 * half));
    const long period = 2L * n;
    for (int i = 0; i < n + 2 * half; ++i) {
        long m = (static_cast<long>(i - half) % period + period) % period;
        if (m >= n) m = period - 1 - m;
        idx[static_cast<std::size_t>(i)] = static_cast<int>(m);
    }
}

int ext_count(int n) { return ((n + kBlock - 1) / kBlock + 2) * kBlock; }

void ext_indices(const std::vector<int>& idx, int n, std::vector<int>& ext) {
    ext.resize(static_cast<std::size_t>(ext_count(n)));
    const int last = static_cast<int>(idx.size()) - 1;
    for (std::size_t i = 0; i < ext.size(); ++i)
        ext[i] = idx[static_cast<std::size_t>(std::clamp(static_cast<int>(i) - 1, 0, last))];
}

std::size_t strips_size(int nb, int nt) {
    // Whole strips of the widest variant cover those of the narrower one.
    constexpr int W = kStrip * kMaxLanes;
    return static_cast<std::size_t>((nb + W - 1) / W * W) * static_cast<std::size_t>(nt);
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
template <class V>
constexpr int lanes_of = static_cast<int>(sizeof(V) / sizeof(float));

template <class V>
[[gnu::always_inline]] inline V splat(float x) {
    V v;
    for (int l = 0; l < lanes_of<V>; ++l) v[l] = x;
    return v;
}

template <class V, int W>
[[gnu::always_inline]] inline void window_step(V* a, int w_runtime, const V& in, const V& out, const V& minus_inf) {
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
[[gnu::always_inline]] inline V vmin(const V& a, const V& b) {
    return a < b ? a : b;
}
template <class V>
[[gnu::always_inline]] inline V vmax(const V& a, const V& b) {
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
[[gnu::always_inline]] inline void median_time_strips_body(const float* S, float* out, int nb, int nt,
                                                           const int* ext, float* buf) {
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
    using VI = std::conditional_t<sizeof(V) == sizeof(V8i), V8i, V16i>;
    constexpr VI lo = transpose_mask_lo<VI, L, S>(std::make_index_sequence<L>{});
    constexpr VI hi = transpose_mask_hi<VI, L, S>(std::make_index_sequence<L>{});
#pragma GCC unroll 16
    for (int i = 0; i < L; ++i)
        if (!(i & S)) {
            const V a = r[i], b = r[i + S];
            r[i] = simd::shuffle(a, b, lo);
            r[i + S] = simd::shuffle(a, b, hi);
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

#define GENREKIT_HPSS_MEDIAN_VARIANT(NS, ATTR, ISA)                                                          \
    namespace NS {                                                                                             \
    using V = ByIsa<ISA, V8f, V8f, V16f>;                                                                      \
    ATTR void median_time(const float* S, float* O, int nb, int nt, int w, const int* idx, const int* ext,     \
                          float* buf) {                                                                        \
        if (w == 2 * kBlock - 1) return median_time_blocks<V>(S, O, nb, nt, ext, buf);                         \
        median_time_body<V, 0>(S, O, nb, nt, w, idx);                                                          \
    }                                                                                                          \
    ATTR void median_freq(const float* S, float* O, int nb, int nt, int w, const int* idx, const int* ext,     \
                          float* ib, float* ob) {                                                              \
        if (w == 2 * kBlock - 1) return median_freq_blocks<V>(S, O, nb, nt, ext, ib, ob);                      \
        median_freq_body<V, 0>(S, O, nb, nt, w, idx, ib, ob);                                                  \
    }                                                                                                          \
    ATTR int median_time_strips(const float* S, float* out, int nb, int nt, const int* ext, float* buf) {      \
        median_time_strips_body<V>(S, out, nb, nt, ext, buf);                                                       \
        return lanes_of<V>;                                                                                    \
    }                                                                                                          \
    }

GENREKIT_SIMD_STAMP(GENREKIT_HPSS_MEDIAN_VARIANT)

}  // namespace

void median_time(const float* S, float* O, int nb, int nt, int w, const int* idx, const int* ext, float* buf) {
    GENREKIT_SIMD_PICK(median_time)(S, O, nb, nt, w, idx, ext, buf);
}

void median_freq(const float* S, float* O, int nb, int nt, int w, const int* idx, const int* ext, float* in_buf,
                 float* out_buf) {
    GENREKIT_SIMD_PICK(median_freq)(S, O, nb, nt, w, idx, ext, in_buf, out_buf);
}

int median_time_strips(const float* S, float* out, int nb, int nt, const int* ext, float* buf) {
    return GENREKIT_SIMD_PICK(median_time_strips)(S, out, nb, nt, ext, buf);
}

}  // namespace genrekit::simd::hpss
