#include "genrekit/stats.hpp"

#include "pairwise_kernels.hpp"

namespace genrekit {

namespace {

GENREKIT_PAIRWISE_SUM(sum_base, )
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__AVX2__)
GENREKIT_PAIRWISE_SUM(sum_avx2, [[gnu::target("avx2")]])
#endif

}  // namespace

float pairwise_sum(const float* a, std::size_t n) {
    const pairwise::ArrayTerms<float> terms{a};
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__AVX2__)
    static const bool avx2 = __builtin_cpu_supports("avx2");
    if (avx2) return sum_avx2<float>(terms, 0, n);
#endif
    return sum_base<float>(terms, 0, n);
}

}  // namespace genrekit
