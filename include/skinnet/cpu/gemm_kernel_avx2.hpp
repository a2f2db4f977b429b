#pragma once
// AVX2 + FMA SGEMM micro-kernel: a 6 x 16 tile of C held in 12 ymm accumulators.
//
// Per step k it loads one row of the packed B micro-panel (16 floats = 2 ymm) and broadcasts the 6
// values of the packed A micro-panel's column k, issuing 12 independent FMAs. 12 accumulators cover
// the FMA latency (4 cycles) times 2 FMA pipes; 12 + 2 (B) + 1 (broadcast) registers fit in the 16
// ymm registers of AVX2, so nothing spills. The K loop runs over a packed KC slice;
// the driver (gemm.hpp) calls the kernel once per KC slice, with beta = 1 after the first.
#include <immintrin.h>

#include <cstdint>

#include "skinnet/cpu/gemm_tile.hpp"

namespace skinnet::cpu::gemm_detail::avx2 {

template <int MR_, int NV>
struct Kernel {
  static constexpr int MR = MR_;
  static constexpr int NR = 8 * NV;
  // Blocking (see gemm.hpp): A micro-panel (MR x KC, 9 KiB) in L1, KC x NC block of packed B
  // (384 KiB) in L2, MC x KC block of packed A (up to 4.5 MiB) in L3.
  static constexpr int64_t KC = 384;
  static constexpr int64_t NC = 256;
  static constexpr int64_t MC = 512 * MR;
  static constexpr const char* name = "avx2";

  // a: packed MR x kc (column k at a + k * MR); b: packed kc x NR (row k at b + k * NR), 64-byte
  // aligned. Writes the mr x nr corner of the tile: C = alpha * A * B + beta * C; beta == 0 never
  // reads C.
  static inline void run(int64_t kc, const float* __restrict a, const float* __restrict b, float* c,
                         int64_t ldc, float alpha, float beta, int mr, int nr) {
    // A panel with only a few valid rows (the M edge, e.g. a batch of 16 in a linear layer) runs a
    // shorter kernel rather than multiplying zero padding. Each element still gets the same FMA
    // sequence, so this changes no result bit.
    if (mr <= MR / 3)
      rows<MR / 3>(kc, a, b, c, ldc, alpha, beta, mr, nr);
    else if (mr <= 2 * MR / 3)
      rows<2 * MR / 3>(kc, a, b, c, ldc, alpha, beta, mr, nr);
    else
      rows<MR>(kc, a, b, c, ldc, alpha, beta, mr, nr);
  }

  // The first R rows of the tile (the packed panel keeps its MR stride).
  template <int R>
  static inline void rows(int64_t kc, const float* __restrict a, const float* __restrict b, float* c,
                          int64_t ldc, float alpha, float beta, int mr, int nr) {
    __m256 acc[R][NV];
    SKN_GEMM_UNROLL
    for (int r = 0; r < R; ++r) {
      SKN_GEMM_UNROLL
      for (int v = 0; v < NV; ++v) acc[r][v] = _mm256_setzero_ps();
    }
    // Pull the C tile towards L1 while the K loop runs (only a hint: with beta == 0 the values
    // are never used, just the cache lines the stores will need).
    for (int r = 0; r < mr; ++r) {
      _mm_prefetch(reinterpret_cast<const char*>(c + r * ldc), _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(c + r * ldc + NR - 1), _MM_HINT_T0);
    }
    for (int64_t k = 0; k < kc; ++k) {
      __m256 bv[NV];
      SKN_GEMM_UNROLL
      for (int v = 0; v < NV; ++v) bv[v] = _mm256_load_ps(b + 8 * v);
      SKN_GEMM_UNROLL
      for (int r = 0; r < R; ++r) {
        const __m256 av = _mm256_set1_ps(a[r]);
        SKN_GEMM_UNROLL
        for (int v = 0; v < NV; ++v) acc[r][v] = _mm256_fmadd_ps(av, bv[v], acc[r][v]);
      }
      a += MR;
      b += NR;
    }
    const __m256 valpha = _mm256_set1_ps(alpha);
    if (mr == R && nr == NR) {
      const __m256 vbeta = _mm256_set1_ps(beta);
      SKN_GEMM_UNROLL
      for (int r = 0; r < R; ++r) {
        SKN_GEMM_UNROLL
        for (int v = 0; v < NV; ++v) {
          float* p = c + r * ldc + 8 * v;
          const __m256 scaled = _mm256_mul_ps(valpha, acc[r][v]);
          _mm256_storeu_ps(p, beta == 0.f ? scaled : _mm256_fmadd_ps(vbeta, _mm256_loadu_ps(p), scaled));
        }
      }
      return;
    }
    alignas(64) float tile[R * NR];
    SKN_GEMM_UNROLL
    for (int r = 0; r < R; ++r) {
      SKN_GEMM_UNROLL
      for (int v = 0; v < NV; ++v) _mm256_store_ps(tile + r * NR + 8 * v, acc[r][v]);
    }
    store_edge_tile<NR>(tile, mr, nr, c, ldc, alpha, beta);
  }
};

using DefaultKernel = Kernel<6, 2>;

}  // namespace skinnet::cpu::gemm_detail::avx2
