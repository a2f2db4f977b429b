#pragma once
// Pieces shared by every SGEMM micro-kernel (gemm_kernel_*.hpp): SKN_GEMM_UNROLL, and
// store_edge_tile, which writes the valid mr x nr corner of a full MR x NR register tile into C.
//
// Bit-for-bit contract between the two store paths. A full tile is stored with vector instructions
// as fma(beta, C, alpha * acc) (or alpha * acc when beta == 0); an edge tile goes through a small
// buffer and is merged here with a scalar FMA (merge_c), which rounds exactly like the vector FMA. So
// an element gets the same bits whether it falls in a full tile or an edge tile, and how the matrix
// is split between threads (which moves tile boundaries) can never change a result.
#include <cmath>
#include <cstdint>

// Full unrolling of a kernel's constant-trip loops over its register tile, so the accumulator array is
// indexed by constants only and both GCC and Clang keep it in registers.
#define SKN_GEMM_UNROLL _Pragma("GCC unroll 32")

namespace skinnet::cpu::gemm_detail {

// beta * c + alpha_acc as the store of a full tile computes it. With FMA hardware (every AVX2 and
// AVX-512 kernel) that is one fused multiply-add, like the vector store; without it only the generic
// kernel runs, every tile of which comes through here, so a plain multiply-add is consistent (and a
// software std::fma would be ~100x slower).
inline float merge_c(float alpha_acc, float beta, float c) {
#if defined(__FMA__)
  return std::fma(beta, c, alpha_acc);
#else
  return beta * c + alpha_acc;
#endif
}

// tile: the accumulators of a full MR x NR tile, row-major with row stride NR.
template <int NR>
inline void store_edge_tile(const float* tile, int mr, int nr, float* c, int64_t ldc, float alpha,
                            float beta) {
  for (int r = 0; r < mr; ++r) {
    float* crow = c + r * ldc;
    const float* trow = tile + r * NR;
    if (beta == 0.f) {
      for (int j = 0; j < nr; ++j) crow[j] = alpha * trow[j];  // C is not read: it may hold NaN
    } else {
      for (int j = 0; j < nr; ++j) crow[j] = merge_c(alpha * trow[j], beta, crow[j]);
    }
  }
}

}  // namespace skinnet::cpu::gemm_detail
