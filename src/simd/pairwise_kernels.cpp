#include "simd/pairwise_kernels.hpp"

#include "simd/pairwise.hpp"
#include "simd/variants.hpp"

namespace genrekit::simd::pairwise {
namespace {

// (a[k] - mean)^2 in float32.
struct SquaredDeviationTerms {
    const float* a;
    float mean;
    [[gnu::always_inline]] float one(std::size_t k) const {
        const float d = a[k] - mean;
        return d * d;
    }
    [[gnu::always_inline]] Vec<float> vec(std::size_t k) const {
        const Vec<float> d = load<Vec<float>>(a + k) - mean;
        return d * d;
    }
};

// x[k]^2 in float32.
struct SquareTerms {
    const float* x;
    [[gnu::always_inline]] float one(std::size_t k) const { return x[k] * x[k]; }
    [[gnu::always_inline]] Vec<float> vec(std::size_t k) const {
        const Vec<float> v = load<Vec<float>>(x + k);
        return v * v;
    }
};

#define GENREKIT_PAIRWISE_VARIANT(NS, ATTR, ISA)                                                                \
    namespace NS {                                                                                              \
    GENREKIT_PAIRWISE_SUM(tree, ATTR)                                                                           \
    ATTR float sum(const float* a, std::size_t n) { return tree<float>(ArrayTerms<float>{a}, 0, n); }           \
    ATTR float squared_deviation_sum(const float* a, std::size_t n, float mean) {                               \
        return tree<float>(SquaredDeviationTerms{a, mean}, 0, n);                                               \
    }                                                                                                           \
    ATTR void squared_deviation_leaves(const float* a, const float* b, std::size_t n, float mean_a, float mean_b, \
                                       float* out) {                                                            \
        leaf_sums<float>(0, n, out, SquaredDeviationTerms{a, mean_a}, SquaredDeviationTerms{b, mean_b});        \
    }                                                                                                           \
    ATTR void leaf_sums2(const float* a, const float* b, std::size_t start, const std::size_t* ends,            \
                         std::size_t count, float* sum_a, float* sum_b) {                                       \
        for (std::size_t k = 0; k < count; ++k) {                                                               \
            float sums[2];                                                                                      \
            leaf_sums<float>(0, ends[k] - start, sums, ArrayTerms<float>{a + start}, ArrayTerms<float>{b + start}); \
            sum_a[k] = sums[0];                                                                                 \
            sum_b[k] = sums[1];                                                                                 \
            start = ends[k];                                                                                    \
        }                                                                                                       \
    }                                                                                                           \
    ATTR void square_leaves(const float* x, std::size_t blocks, float* out) {                                   \
        for (std::size_t b = 0; b < blocks; ++b) out[b] = leaf<float>(SquareTerms{x + kLeaf * b}, 0, kLeaf);    \
    }                                                                                                           \
    }

GENREKIT_SIMD_STAMP(GENREKIT_PAIRWISE_VARIANT)

}  // namespace

float sum(const float* a, std::size_t n) { return GENREKIT_SIMD_PICK(sum)(a, n); }

float squared_deviation_sum(const float* a, std::size_t n, float mean) {
    return GENREKIT_SIMD_PICK(squared_deviation_sum)(a, n, mean);
}

void squared_deviation_leaves(const float* a, const float* b, std::size_t n, float mean_a, float mean_b, float* out) {
    GENREKIT_SIMD_PICK(squared_deviation_leaves)(a, b, n, mean_a, mean_b, out);
}

void leaf_sums2(const float* a, const float* b, std::size_t start, const std::size_t* ends, std::size_t count,
                float* sum_a, float* sum_b) {
    GENREKIT_SIMD_PICK(leaf_sums2)(a, b, start, ends, count, sum_a, sum_b);
}

void square_leaves(const float* x, std::size_t blocks, float* out) {
    GENREKIT_SIMD_PICK(square_leaves)(x, blocks, out);
}

}  // namespace genrekit::simd::pairwise
