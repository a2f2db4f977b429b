#pragma once
// AVX-512 SGEMM micro-kernel: a 12 x 32 tile of C held in 24 zmm accumulators.
//
// Per step k it loads one row of the packed B micro-panel (32 floats = 2 zmm) and broadcasts the 12
// values of the packed A micro-panel's column k, issuing 24 independent FMAs. 24 accumulators cover
// the FMA latency (4 cycles) times the 2 FMA pipes with room to spare; 24 + 2 (B) + 1 (broadcast)
// registers fit in the 32 zmm registers, so nothing spills. The K loop runs over a packed KC slice;
// the driver (gemm.hpp) calls the kernel once per KC slice, with beta = 1 after the first.
#include <immintrin.h>

#include <cstdint>

#include "skinnet/cpu/gemm_tile.hpp"

namespace skinnet::cpu::gemm_detail::avx512 {

template <int MR_, int NV>
struct Kernel {
  static constexpr int MR = MR_;
  static constexpr int NR = 16 * NV;
  // Blocking (see gemm.hpp for how the loops use it): the A micro-panel (MR x KC, 18 KiB) stays in
  // L1 while the kernel walks a KC x NC block of packed B (480 KiB) that stays in the 1 MiB L2; the
  // MC x KC block of packed A (up to 4.5 MiB, read once per NC columns) lives in L3.
  static constexpr int64_t KC = 384;
  static constexpr int64_t NC = 320;
  static constexpr int64_t MC = 256 * MR;
  static constexpr const char* name = "avx512";

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
    __m512 acc[R][NV];
    SKN_GEMM_UNROLL
    for (int r = 0; r < R; ++r) {
      SKN_GEMM_UNROLL
      for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_setzero_ps();
    }
    // Pull the C tile towards L1 while the K loop runs (only a hint: with beta == 0 the values
    // are never used, just the cache lines the stores will need).
    for (int r = 0; r < mr; ++r) {
      _mm_prefetch(reinterpret_cast<const char*>(c + r * ldc), _MM_HINT_T0);
      _mm_prefetch(reinterpret_cast<const char*>(c + r * ldc + NR - 1), _MM_HINT_T0);
    }
    for (int64_t k = 0; k < kc; ++k) {
      __m512 bv[NV];
      SKN_GEMM_UNROLL
      for (int v = 0; v < NV; ++v) bv[v] = _mm512_load_ps(b + 16 * v);
      SKN_GEMM_UNROLL
      for (int r = 0; r < R; ++r) {
        const __m512 av = _mm512_set1_ps(a[r]);
        SKN_GEMM_UNROLL
        for (int v = 0; v < NV; ++v) acc[r][v] = _mm512_fmadd_ps(av, bv[v], acc[r][v]);
      }
      a += MR;
      b += NR;
    }
    const __m512 valpha = _mm512_set1_ps(alpha);
    if (mr == R && nr == NR) {
      const __m512 vbeta = _mm512_set1_ps(beta);
      SKN_GEMM_UNROLL
      for (int r = 0; r < R; ++r) {
        SKN_GEMM_UNROLL
        for (int v = 0; v < NV; ++v) {
          float* p = c + r * ldc + 16 * v;
          const __m512 scaled = _mm512_mul_ps(valpha, acc[r][v]);
          _mm512_storeu_ps(p, beta == 0.f ? scaled : _mm512_fmadd_ps(vbeta, _mm512_loadu_ps(p), scaled));
        }
      }
      return;
    }
    alignas(64) float tile[R * NR];
    SKN_GEMM_UNROLL
    for (int r = 0; r < R; ++r) {
      SKN_GEMM_UNROLL
      for (int v = 0; v < NV; ++v) _mm512_store_ps(tile + r * NR + 16 * v, acc[r][v]);
    }
    store_edge_tile<NR>(tile, mr, nr, c, ldc, alpha, beta);
  }
};

using DefaultKernel = Kernel<12, 2>;

}  // namespace skinnet::cpu::gemm_detail::avx512
