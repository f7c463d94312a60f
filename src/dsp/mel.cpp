#include "genrekit/mel.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>

#include "genrekit/error.hpp"
#include "simd/vec.hpp"


namespace genrekit {

namespace {
// ref: librosa 0.7.2 hz_to_mel: linear below 1 kHz (200/3 Hz per mel), logarithmic above.
constexpr double kFSp = 200.0 / 3.0;
constexpr double kMinLogHz = 1000.0;
constexpr double kMinLogMel = kMinLogHz / kFSp;
const double kLogStep = std::log(6.4) / 27.0;

// One band of a filterbank, for mel_group.
struct MelBandView {
    int first_bin;
    std::size_t size;
    const double* weights;  // the float32 weights, widened
};

constexpr int kMelLanes = 8;  // frames per group
constexpr std::size_t kDctLanes = 8;       // coefficients per vector in the DCT kernel
constexpr std::size_t kDctMaxVectors = 4;  // the DCT kernel keeps up to 32 coefficients in registers

using v2f = float __attribute__((vector_size(8)));
using v4f = float __attribute__((vector_size(16)));
using v8f = float __attribute__((vector_size(32)));
using v2d = double __attribute__((vector_size(16)));
using v4d = double __attribute__((vector_size(32)));
using v8d = double __attribute__((vector_size(64)));
// The float64 vector of L lanes each kernel is compiled with (2: SSE2, 4: AVX2, 8: AVX-512:
// a wider generic vector than the target's registers compiles badly), and its float32 twin.
template <int L> struct Lanes;
template <> struct Lanes<2> { using d = v2d; using f = v2f; };
template <> struct Lanes<4> { using d = v4d; using f = v4f; };
template <> struct Lanes<8> { using d = v8d; using f = v8f; };

// o[j][k] = in[k][off + j] for j, k < 8: an 8 x 8 transpose of float32 values (AVX's unpack,
// shuffle and 128-bit permute steps).
[[gnu::always_inline]] inline void transpose_8x8(const float* const* in, std::size_t off, v8f* o) {
    v8f r[8], t[8], u[8];
    for (int l = 0; l < 8; ++l) r[l] = simd::load<v8f>(in[l] + off);
    for (int h = 0; h < 8; h += 4) {
        t[h + 0] = __builtin_shufflevector(r[h + 0], r[h + 1], 0, 8, 1, 9, 4, 12, 5, 13);
        t[h + 1] = __builtin_shufflevector(r[h + 0], r[h + 1], 2, 10, 3, 11, 6, 14, 7, 15);
        t[h + 2] = __builtin_shufflevector(r[h + 2], r[h + 3], 0, 8, 1, 9, 4, 12, 5, 13);
        t[h + 3] = __builtin_shufflevector(r[h + 2], r[h + 3], 2, 10, 3, 11, 6, 14, 7, 15);
        u[h + 0] = __builtin_shufflevector(t[h + 0], t[h + 2], 0, 1, 8, 9, 4, 5, 12, 13);
        u[h + 1] = __builtin_shufflevector(t[h + 0], t[h + 2], 2, 3, 10, 11, 6, 7, 14, 15);
        u[h + 2] = __builtin_shufflevector(t[h + 1], t[h + 3], 0, 1, 8, 9, 4, 5, 12, 13);
        u[h + 3] = __builtin_shufflevector(t[h + 1], t[h + 3], 2, 3, 10, 11, 6, 7, 14, 15);
    }
    for (int i = 0; i < 4; ++i) {
        o[i] = __builtin_shufflevector(u[i], u[i + 4], 0, 1, 2, 3, 8, 9, 10, 11);
        o[i + 4] = __builtin_shufflevector(u[i], u[i + 4], 4, 5, 6, 7, 12, 13, 14, 15);
    }
}

// The mel bands of kMelLanes frames: cols are their n_bins power values, out[l] receives frame
// l's n_bands band values. Each band is a float64 running sum over its bins, multiply then add
// in bin order, rounded to float32: the same operations at every vector width, frames side by
// side in the lanes. The frames are first transposed to bins x frames and widened to float64
// (buf), and the float32 results (stage, bands x frames) transposed back, 8 x 8 blocks with
// vectors.
template <bool kVec, int L>
[[gnu::always_inline]] inline void mel_group_body(const float* const* cols, std::size_t n_bins, const MelBandView* bands,
                                                  std::size_t n_bands, double* buf, float* stage, float* const* out) {
    using VD = typename Lanes<L>::d;
    using VF = typename Lanes<L>::f;
    constexpr int G = kMelLanes;
    constexpr int P = G / L;  // vectors per 8 frames
    static_assert(G == 8);
    std::size_t b0 = 0;
    if constexpr (kVec) {
        for (; b0 + 8 <= n_bins; b0 += 8) {
            v8f o[8];
            transpose_8x8(cols, b0, o);
            for (std::size_t i = 0; i < 8; ++i) {
                float row[8];
                simd::store(row, o[i]);
                for (int h = 0; h < P; ++h)
                    simd::store(buf + (b0 + i) * G + h * L, __builtin_convertvector(simd::load<VF>(row + h * L), VD));
            }
        }
    }
    for (std::size_t b = b0; b < n_bins; ++b)
        for (int l = 0; l < G; ++l) buf[b * G + static_cast<std::size_t>(l)] = cols[l][b];
    for (std::size_t m = 0; m < n_bands; ++m) {
        const MelBandView& band = bands[m];
        VD acc[P] = {};
        const double* x = buf + static_cast<std::size_t>(band.first_bin) * G;
        for (std::size_t k = 0; k < band.size; ++k) {
            const double w = band.weights[k];
            for (int h = 0; h < P; ++h) acc[h] += w * simd::load<VD>(x + k * G + h * L);
        }
        for (int h = 0; h < P; ++h) simd::store(stage + m * G + h * L, __builtin_convertvector(acc[h], VF));
    }
    std::size_t m0 = 0;
    if constexpr (kVec) {
        for (; m0 + 8 <= n_bands; m0 += 8) {
            const float* in[8];
            for (std::size_t k = 0; k < 8; ++k) in[k] = stage + (m0 + k) * G;
            v8f o[8];
            transpose_8x8(in, 0, o);
            for (int l = 0; l < G; ++l) simd::store(out[l] + m0, o[l]);
        }
    }
    for (std::size_t m = m0; m < n_bands; ++m)
        for (int l = 0; l < G; ++l) out[l][m] = stage[m * G + static_cast<std::size_t>(l)];
}

using MelGroupFn = void (*)(const float* const*, std::size_t, const MelBandView*, std::size_t, double*, float*, float* const*);
void mel_group_base(const float* const* cols, std::size_t n_bins, const MelBandView* bands, std::size_t n_bands,
                    double* buf, float* stage, float* const* out) {
    mel_group_body<false, 2>(cols, n_bins, bands, n_bands, buf, stage, out);
}
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__AVX512F__)
[[gnu::target("avx2")]] void mel_group_avx2(const float* const* cols, std::size_t n_bins, const MelBandView* bands,
                                            std::size_t n_bands, double* buf, float* stage, float* const* out) {
    mel_group_body<true, 4>(cols, n_bins, bands, n_bands, buf, stage, out);
}
[[gnu::target("avx512f")]] void mel_group_avx512(const float* const* cols, std::size_t n_bins, const MelBandView* bands,
                                                 std::size_t n_bands, double* buf, float* stage, float* const* out) {
    mel_group_body<true, 8>(cols, n_bins, bands, n_bands, buf, stage, out);
}
MelGroupFn select_mel_group() {
    if (__builtin_cpu_supports("avx512f")) return mel_group_avx512;
    if (__builtin_cpu_supports("avx2")) return mel_group_avx2;
    return mel_group_base;
}
#else
MelGroupFn select_mel_group() { return mel_group_base; }
#endif

void mel_group(const float* const* cols, std::size_t n_bins, const MelBandView* bands, std::size_t n_bands, double* buf,
               float* stage, float* const* out) {
    static const MelGroupFn fn = select_mel_group();
    fn(cols, n_bins, bands, n_bands, buf, stage, out);
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
        for (int v = 0; v < NW; ++v) b[v] = simd::load<VD>(Bt + n * S + static_cast<std::size_t>(v) * L);
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

using DctFn = void (*)(const double*, std::size_t, const float*, std::size_t, std::size_t, float*);
struct DctKernels {
    DctFn run[kDctMaxVectors];
};

// Compiled for the x86-64 baseline and, where the compiler targets x86-64 without them, for
// AVX2 and AVX-512, chosen at run time; the same operations at every width. Columns per step:
// as many as keep the accumulators in registers.
#define GENREKIT_DCT_KERNELS(SUFFIX, ATTR, L, C1, C2, C3, C4)                                                       \
    ATTR void dct1_##SUFFIX(const double* B, std::size_t n, const float* X, std::size_t T, std::size_t m, float* o) { \
        dct_body<1, C1, L>(B, n, X, T, m, o);                                                                       \
    }                                                                                                            \
    ATTR void dct2_##SUFFIX(const double* B, std::size_t n, const float* X, std::size_t T, std::size_t m, float* o) { \
        dct_body<2, C2, L>(B, n, X, T, m, o);                                                                       \
    }                                                                                                            \
    ATTR void dct3_##SUFFIX(const double* B, std::size_t n, const float* X, std::size_t T, std::size_t m, float* o) { \
        dct_body<3, C3, L>(B, n, X, T, m, o);                                                                       \
    }                                                                                                            \
    ATTR void dct4_##SUFFIX(const double* B, std::size_t n, const float* X, std::size_t T, std::size_t m, float* o) { \
        dct_body<4, C4, L>(B, n, X, T, m, o);                                                                       \
    }

GENREKIT_DCT_KERNELS(base, , 2, 2, 1, 1, 1)

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__AVX512F__)
GENREKIT_DCT_KERNELS(avx2, [[gnu::target("avx2")]], 4, 4, 2, 2, 1)
GENREKIT_DCT_KERNELS(avx512, [[gnu::target("avx512f")]], 8, 8, 8, 8, 6)
DctKernels select_dct_kernels() {
    if (__builtin_cpu_supports("avx512f")) return {{dct1_avx512, dct2_avx512, dct3_avx512, dct4_avx512}};
    if (__builtin_cpu_supports("avx2")) return {{dct1_avx2, dct2_avx2, dct3_avx2, dct4_avx2}};
    return {{dct1_base, dct2_base, dct3_base, dct4_base}};
}
#else
DctKernels select_dct_kernels() { return {{dct1_base, dct2_base, dct3_base, dct4_base}}; }
#endif

const DctKernels& dct_kernels() {
    static const DctKernels k = select_dct_kernels();
    return k;
}
#undef GENREKIT_DCT_KERNELS
}  // namespace

double hz_to_mel(double hz, bool htk) {
    if (htk) return 2595.0 * std::log10(1.0 + hz / 700.0);
    if (hz >= kMinLogHz) return kMinLogMel + std::log(hz / kMinLogHz) / kLogStep;
    return hz / kFSp;
}

double mel_to_hz(double mel, bool htk) {
    if (htk) return 700.0 * (std::pow(10.0, mel / 2595.0) - 1.0);
    if (mel >= kMinLogMel) return kMinLogHz * std::exp(kLogStep * (mel - kMinLogMel));
    return kFSp * mel;
}

std::vector<double> mel_frequencies(int n, double fmin, double fmax, bool htk) {
    const double lo = hz_to_mel(fmin, htk), hi = hz_to_mel(fmax, htk);
    std::vector<double> f(static_cast<std::size_t>(n));
    for (int i = 0; i < n; ++i) {
        // ref: numpy.linspace: start + i*step, with the last point exactly `stop`.
        const double m = n == 1 ? lo : (i == n - 1 ? hi : lo + i * ((hi - lo) / (n - 1)));
        f[static_cast<std::size_t>(i)] = mel_to_hz(m, htk);
    }
    return f;
}

std::vector<double> fft_frequencies(int sample_rate, int n_fft) {
    const int n = 1 + n_fft / 2;
    std::vector<double> f(static_cast<std::size_t>(n));
    const double step = (sample_rate / 2.0) / (n - 1);
    for (int i = 0; i < n; ++i) f[static_cast<std::size_t>(i)] = i == n - 1 ? sample_rate / 2.0 : i * step;
    return f;
}

void MelParams::validate() const {
    require_param(sample_rate > 0, "sample_rate", sample_rate, "> 0");
    require_param(n_fft >= 16 && n_fft % 2 == 0, "n_fft", n_fft, "an even number >= 16");
    require_param(n_mels >= 1 && n_mels <= 1024, "n_mels", n_mels, "1..1024");
    require_param(fmin >= 0 && fmin < sample_rate / 2.0, "fmin", fmin, "0 <= fmin < sample_rate/2");
    require_param(fmax <= sample_rate / 2.0 && (fmax <= 0 || fmax > fmin), "fmax", fmax,
                  "0 (Nyquist) or fmin < fmax <= sample_rate/2");
}

MelFilterbank::MelFilterbank(const MelParams& params) : params_(params) {
    params_.validate();
    const int n_bins = 1 + params_.n_fft / 2;
    const auto fftfreqs = fft_frequencies(params_.sample_rate, params_.n_fft);
    const auto mel_f = mel_frequencies(params_.n_mels + 2, params_.fmin, params_.fmax_or_nyquist(), params_.htk);
    bands_.resize(static_cast<std::size_t>(params_.n_mels));
    for (int m = 0; m < params_.n_mels; ++m) {
        const auto i = static_cast<std::size_t>(m);
        // ref: librosa 0.7.2 filters.mel: triangles from the ramps in float64, stored as float32.
        const double fdiff_lo = mel_f[i + 1] - mel_f[i];
        const double fdiff_hi = mel_f[i + 2] - mel_f[i + 1];
        const double enorm = params_.slaney_norm ? 2.0 / (mel_f[i + 2] - mel_f[i]) : 1.0;
        Band& band = bands_[i];
        band.first_bin = -1;
        for (int b = 0; b < n_bins; ++b) {
            const double lower = -(mel_f[i] - fftfreqs[static_cast<std::size_t>(b)]) / fdiff_lo;
            const double upper = (mel_f[i + 2] - fftfreqs[static_cast<std::size_t>(b)]) / fdiff_hi;
            const double w = std::max(0.0, std::min(lower, upper));
            // librosa multiplies the float32 weight by the float64 enorm, in float32 storage.
            const float wf = static_cast<float>(static_cast<float>(w) * enorm);
            if (wf > 0.f) {
                if (band.first_bin < 0) band.first_bin = b;
                band.weights.resize(static_cast<std::size_t>(b - band.first_bin + 1), 0.f);
                band.weights.back() = wf;
            }
        }
        if (band.first_bin < 0) band.first_bin = 0;  // an empty filter, as librosa warns about
        band.weights64.assign(band.weights.begin(), band.weights.end());
    }
}

Eigen::MatrixXf MelFilterbank::dense() const {
    Eigen::MatrixXf W = Eigen::MatrixXf::Zero(params_.n_mels, 1 + params_.n_fft / 2);
    for (int m = 0; m < params_.n_mels; ++m) {
        const Band& band = bands_[static_cast<std::size_t>(m)];
        for (std::size_t k = 0; k < band.weights.size(); ++k) W(m, band.first_bin + static_cast<int>(k)) = band.weights[k];
    }
    return W;
}

Spectrogram MelFilterbank::apply(const Spectrogram& S) const {
    Spectrogram M;
    apply(S, M);
    return M;
}

void MelFilterbank::apply(const Spectrogram& S, Spectrogram& M) const {
    if (S.rows() != 1 + params_.n_fft / 2)
        throw Error("mel: spectrogram has " + std::to_string(S.rows()) + " bins, the filterbank expects " +
                    std::to_string(1 + params_.n_fft / 2));
    if (M.rows() != params_.n_mels || M.cols() != S.cols()) M.resize(params_.n_mels, S.cols());
    // Each band is a float64 running sum over its bins (one dependency chain), so kMelLanes
    // frames run side by side in SIMD lanes: their bins are first transposed to bins x frames.
    // Every sum still adds the same products in bin order.
    constexpr int G = kMelLanes;
    const Eigen::Index T = S.cols();
    const auto nb = static_cast<std::size_t>(S.rows());
    std::vector<double> buf(nb * G);
    std::vector<MelBandView> views;
    for (const Band& band : bands_) views.push_back({band.first_bin, band.weights64.size(), band.weights64.data()});
    std::vector<float> stage(views.size() * G), spare(views.size());
    for (Eigen::Index t0 = 0; t0 < T; t0 += G) {
        const int lanes = static_cast<int>(std::min<Eigen::Index>(G, T - t0));
        const float* cols[G];
        float* out[G];
        for (int l = 0; l < G; ++l) {
            cols[l] = S.col(t0 + std::min(l, lanes - 1)).data();
            out[l] = l < lanes ? M.col(t0 + l).data() : spare.data();  // lanes past the end: scratch
        }
        mel_group(cols, nb, views.data(), views.size(), buf.data(), stage.data(), out);
    }
}

void DbParams::validate() const {
    require_param(amin > 0, "amin", amin, "> 0");
    require_param(ref > 0, "ref", ref, "> 0");
}

Spectrogram power_to_db(const Spectrogram& S, const DbParams& params) {
    Spectrogram D;
    power_to_db(S, D, params);
    return D;
}

void power_to_db(const Spectrogram& S, Spectrogram& D, const DbParams& params) {
    params.validate();
    const float amin = static_cast<float>(params.amin);
    const float ref_db = static_cast<float>(10.0 * std::log10(std::max(params.amin, params.ref)));
    if (D.rows() != S.rows() || D.cols() != S.cols()) D.resize(S.rows(), S.cols());
    float peak = -std::numeric_limits<float>::infinity();
    for (Eigen::Index i = 0; i < S.size(); ++i) {
        const float v = 10.0f * std::log10(std::max(amin, S.data()[i])) - ref_db;
        D.data()[i] = v;
        peak = std::max(peak, v);
    }
    if (params.top_db >= 0 && D.size() > 0) {
        const float floor = peak - static_cast<float>(params.top_db);
        for (Eigen::Index i = 0; i < D.size(); ++i) D.data()[i] = std::max(D.data()[i], floor);
    }
}

Dct::Dct(int n_out, int n_in) {
    require_param(n_in >= 1, "n_in", n_in, ">= 1");
    require_param(n_out >= 1 && n_out <= n_in, "n_mfcc", n_out, "1..n_mels");
    // ref: scipy.fftpack.dct type 2, norm='ortho': sqrt(1/N) for k = 0, sqrt(2/N) otherwise.
    basis_.resize(n_out, n_in);
    for (int k = 0; k < n_out; ++k) {
        const double scale = std::sqrt((k == 0 ? 1.0 : 2.0) / n_in);
        for (int n = 0; n < n_in; ++n) basis_(k, n) = scale * std::cos(std::numbers::pi * k * (2.0 * n + 1.0) / (2.0 * n_in));
    }
    // The kernel's copy: n_in rows of the n_out coefficients, padded with zeros to whole vectors.
    const std::size_t stride = (static_cast<std::size_t>(n_out) + kDctLanes - 1) / kDctLanes * kDctLanes;
    basis_t_.assign(static_cast<std::size_t>(n_in) * stride, 0.0);
    for (int k = 0; k < n_out; ++k)
        for (int n = 0; n < n_in; ++n) basis_t_[static_cast<std::size_t>(n) * stride + static_cast<std::size_t>(k)] = basis_(k, n);
}

Spectrogram Dct::apply(const Spectrogram& X) const {
    Spectrogram out;
    apply(X, out);
    return out;
}

void Dct::apply(const Spectrogram& X, Spectrogram& out) const {
    if (X.rows() != basis_.cols())
        throw Error("dct: input has " + std::to_string(X.rows()) + " rows, expected " + std::to_string(basis_.cols()));
    const auto n_out = static_cast<std::size_t>(basis_.rows());
    const std::size_t nv = (n_out + kDctLanes - 1) / kDctLanes;
    if (nv > kDctMaxVectors) {
        out = (basis_ * X.cast<double>()).cast<float>();
        return;
    }
    if (&out == &X) {  // in place: the kernel reads X while writing out
        Spectrogram tmp;
        apply(X, tmp);
        out = std::move(tmp);
        return;
    }
    if (out.rows() != basis_.rows() || out.cols() != X.cols()) out.resize(basis_.rows(), X.cols());
    dct_kernels().run[nv - 1](basis_t_.data(), static_cast<std::size_t>(X.rows()), X.data(),
                              static_cast<std::size_t>(X.cols()), n_out, out.data());
}

}  // namespace genrekit
