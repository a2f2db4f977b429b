#pragma once
// Portable SGEMM micro-kernel (no intrinsics): a 4 x 16 tile of C in a local array. Written so that a
// compiler's auto-vectorizer turns the inner j loop into SIMD on any target (SSE, NEON, ...); used
// when the build enables neither AVX-512 nor AVX2. Same interface and store contract as the AVX
// kernels (gemm_tile.hpp).
#include <cstdint>

#include "skinnet/cpu/gemm_tile.hpp"

namespace skinnet::cpu::gemm_detail::generic {

struct Kernel {
  static constexpr int MR = 4;
  static constexpr int NR = 16;
  static constexpr int64_t KC = 256;
  static constexpr int64_t NC = 256;
  static constexpr int64_t MC = 64 * MR;
  static constexpr const char* name = "generic";

  static inline void run(int64_t kc, const float* __restrict a, const float* __restrict b, float* c,
                         int64_t ldc, float alpha, float beta, int mr, int nr) {
    alignas(64) float tile[MR * NR] = {};
    for (int64_t k = 0; k < kc; ++k) {
      for (int r = 0; r < MR; ++r) {
        const float ar = a[r];
        float* t = tile + r * NR;
        for (int j = 0; j < NR; ++j) t[j] += ar * b[j];
      }
      a += MR;
      b += NR;
    }
    store_edge_tile<NR>(tile, mr, nr, c, ldc, alpha, beta);
  }
};

using DefaultKernel = Kernel;

}  // namespace skinnet::cpu::gemm_detail::generic
