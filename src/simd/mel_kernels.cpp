#include "simd/mel_kernels.hpp"

#include "simd/variants.hpp"
#include "simd/vec.hpp"

namespace genrekit::simd::mel {

namespace {

// The float64 vector of L lanes each kernel is compiled with (2: SSE2, 4: AVX2, 8: AVX-512:
// a wider generic vector than the target's registers compiles badly), and its float32 twin.
template <int L> struct Lanes;
template <> struct Lanes<2> { using d = V2d; using f = V2f; };
template <> struct Lanes<4> { using d = V4d; using f = V4f; };
template <> struct Lanes<8> { using d = V8d; using f = V8f; };
// The lane count variant I compiles mel_group with.
template <Isa I>
constexpr int kLanes = I == Isa::avx512 ? 8 : I == Isa::avx2 ? 4 : 2;

// The mel bands of kGroupFrames frames: cols are their n_bins power values, out[l] receives frame
// l's n_bands band values. Each band is a float64 running sum over its bins, multiply then add
// in bin order, rounded to float32: the same operations at every vector width, frames side by
// side in the lanes. The frames are first transposed to bins x frames and widened to float64
// (buf), and the float32 results (stage, bands x frames) transposed back, 8 x 8 blocks with
// vectors.
template <bool kVec, int L>
[[gnu::always_inline]] inline void mel_group_body(const float* const* cols, std::size_t n_bins, const BandView* bands,
                                                  std::size_t n_bands, double* buf, float* stage, float* const* out) {
    using VD = typename Lanes<L>::d;
    using VF = typename Lanes<L>::f;
    constexpr int G = kGroupFrames;
    constexpr int P = G / L;  // vectors per 8 frames
    static_assert(G == 8);
    std::size_t b0 = 0;
    if constexpr (kVec) {
        for (; b0 + 8 <= n_bins; b0 += 8) {
            V8f o[8];
            for (int l = 0; l < 8; ++l) o[l] = load<V8f>(cols[l] + b0);
            transpose8(o);
            for (std::size_t i = 0; i < 8; ++i) {
                float row[8];
                store(row, o[i]);
                for (int h = 0; h < P; ++h)
                    store(buf + (b0 + i) * G + h * L, __builtin_convertvector(load<VF>(row + h * L), VD));
            }
        }
    }
    for (std::size_t b = b0; b < n_bins; ++b)
        for (int l = 0; l < G; ++l) buf[b * G + static_cast<std::size_t>(l)] = cols[l][b];
    for (std::size_t m = 0; m < n_bands; ++m) {
        const BandView& band = bands[m];
        VD acc[P] = {};
        const double* x = buf + static_cast<std::size_t>(band.first_bin) * G;
        for (std::size_t k = 0; k < band.size; ++k) {
            const double w = band.weights[k];
            for (int h = 0; h < P; ++h) acc[h] += w * load<VD>(x + k * G + h * L);
        }
        for (int h = 0; h < P; ++h) store(stage + m * G + h * L, __builtin_convertvector(acc[h], VF));
    }
    std::size_t m0 = 0;
    if constexpr (kVec) {
        for (; m0 + 8 <= n_bands; m0 += 8) {
            V8f o[8];
            for (std::size_t k = 0; k < 8; ++k) o[k] = load<V8f>(stage + (m0 + k) * G);
            transpose8(o);
            for (int l = 0; l < G; ++l) store(out[l] + m0, o[l]);
        }
    }
    for (std::size_t m = m0; m < n_bands; ++m)
        for (int l = 0; l < G; ++l) out[l][m] = stage[m * G + static_cast<std::size_t>(l)];
}

// out = basis * X for an n_out x n_in basis (given transposed, rows padded to NV * 8), X float
// columns of n_in values, out float columns of n_out values: each coefficient is the float64
// sum, from 0, of basis(k, n) * X(n) added in n order and rounded to float32 -- the operations
// and order of Eigen's GEMM kernel (gebp: one accumulator per coefficient over the whole depth,
// multiply then add) that this replaces. C columns run side by side, 8 coefficients per vector.
template <int NV, int C, int L>
[[gnu::always_inline]] inline void dct_columns(const double* Bt, std::size_t n_in, const float* X, std::size_t n_out,
                                               float* out) {
    using VD = typename Lanes<L>::d;
    constexpr std::size_t S = NV * kDctLanes;
    constexpr int NW = static_cast<int>(S) / L;  // vectors per column
    VD acc[C][NW];
    for (int c = 0; c < C; ++c)
        for (int v = 0; v < NW; ++v) acc[c][v] = VD{};
    for (std::size_t n = 0; n < n_in; ++n) {
        VD b[NW];
        for (int v = 0; v < NW; ++v) b[v] = load<VD>(Bt + n * S + static_cast<std::size_t>(v) * L);
        for (int c = 0; c < C; ++c) {
            const VD x = VD{} + static_cast<double>(X[static_cast<std::size_t>(c) * n_in + n]);
            for (int v = 0; v < NW; ++v) acc[c][v] += b[v] * x;
        }
    }
    for (int c = 0; c < C; ++c)
        for (std::size_t i = 0; i < n_out; ++i)
            out[static_cast<std::size_t>(c) * n_out + i] = static_cast<float>(acc[c][i / L][i % L]);
}

template <int NV, int C, int L>
[[gnu::always_inline]] inline void dct_body(const double* Bt, std::size_t n_in, const float* X, std::size_t T,
                                            std::size_t n_out, float* out) {
    std::size_t t = 0;
    for (; t + C <= T; t += C) dct_columns<NV, C, L>(Bt, n_in, X + t * n_in, n_out, out + t * n_out);
    for (; t < T; ++t) dct_columns<NV, 1, L>(Bt, n_in, X + t * n_in, n_out, out + t * n_out);
}

// dct_body for nv vectors of coefficients, with C1 .. C4 columns per step for nv = 1 .. 4: as
// many as keep the accumulators in registers at the variant's width L.
template <int L, int C1, int C2, int C3, int C4>
[[gnu::always_inline]] inline void dct_vectors(std::size_t nv, const double* Bt, std::size_t n_in, const float* X,
                                               std::size_t T, std::size_t n_out, float* out) {
    switch (nv) {
        case 1: return dct_body<1, C1, L>(Bt, n_in, X, T, n_out, out);
        case 2: return dct_body<2, C2, L>(Bt, n_in, X, T, n_out, out);
        case 3: return dct_body<3, C3, L>(Bt, n_in, X, T, n_out, out);
        default: return dct_body<4, C4, L>(Bt, n_in, X, T, n_out, out);
    }
}

// dct_vectors for variant I: the widest vectors that compile well for it and as many columns
// per step as keep the accumulators in its registers.
template <Isa I>
[[gnu::always_inline]] inline void dct_variant(std::size_t nv, const double* Bt, std::size_t n_in, const float* X,
                                               std::size_t T, std::size_t n_out, float* out) {
    if constexpr (I == Isa::avx512)
        dct_vectors<8, 8, 8, 8, 6>(nv, Bt, n_in, X, T, n_out, out);
    else if constexpr (I == Isa::avx2)
        dct_vectors<4, 4, 2, 2, 1>(nv, Bt, n_in, X, T, n_out, out);
    else
        dct_vectors<2, 2, 1, 1, 1>(nv, Bt, n_in, X, T, n_out, out);
}

// mel_group with the 8 x 8 transposes on AVX2 and AVX-512 only.
#define GENREKIT_MEL_VARIANT(NS, ATTR, ISA)                                                               \
    namespace NS {                                                                                        \
    ATTR void mel_group(const float* const* cols, std::size_t n_bins, const BandView* bands,              \
                        std::size_t n_bands, double* buf, float* stage, float* const* out) {              \
        mel_group_body<ISA != Isa::baseline, kLanes<ISA>>(cols, n_bins, bands, n_bands, buf, stage, out); \
    }                                                                                                     \
    ATTR void dct(std::size_t nv, const double* Bt, std::size_t n_in, const float* X, std::size_t T,      \
                  std::size_t n_out, float* out) {                                                        \
        dct_variant<ISA>(nv, Bt, n_in, X, T, n_out, out);                                                 \
    }                                                                                                     \
    }

GENREKIT_SIMD_STAMP(GENREKIT_MEL_VARIANT)

}  // namespace

void mel_group(const float* const* cols, std::size_t n_bins, const BandView* bands, std::size_t n_bands, double* buf,
               float* stage, float* const* out) {
    GENREKIT_SIMD_PICK(mel_group)(cols, n_bins, bands, n_bands, buf, stage, out);
}

void dct(const double* Bt, std::size_t n_in, const float* X, std::size_t T, std::size_t n_out, float* out) {
    const std::size_t nv = (n_out + kDctLanes - 1) / kDctLanes;
    GENREKIT_SIMD_PICK(dct)(nv, Bt, n_in, X, T, n_out, out);
}

}  // namespace genrekit::simd::mel
