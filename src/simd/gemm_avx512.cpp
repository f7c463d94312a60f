// The float GEMM compiled for AVX-512 F, DQ, VL, BW (see gemm_variant.inc).
#define GK_GEMM_AVX512 1
#include "simd/gemm_variant.inc"
