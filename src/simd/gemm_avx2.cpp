// The float GEMM compiled for AVX2+FMA (see gemm_variant.inc).
#define GK_GEMM_AVX512 0
#include "simd/gemm_variant.inc"
