#pragma once
// SGEMM kernel: C = alpha * op(A) * op(B) + beta * C, all matrices row-major, op = identity or
// transpose (template parameters, so each of the four combinations is its own specialised kernel).
// The host launcher is include/skinnet/cuda/gemm.hpp; docs/kernels.md explains the design and lists
// the ptxas register / shared-memory report of each instantiation.
//
// How the work is split (the classic two-level tiling):
//   * Each thread block owns one BM x BN tile of C. It walks along K in slices of BK: for every slice
//     the block copies the BM x BK piece of op(A) and the BK x BN piece of op(B) from global memory
//     into shared memory, then every thread reads them from there. Each value fetched from global
//     memory is thus reused BN (for A) or BM (for B) times from fast on-chip memory.
//   * Each thread owns TM x TN outputs of the tile and keeps their partial sums in registers
//     ("register blocking"): per step k it loads TM values of A and TN values of B from shared memory
//     and does TM * TN fused multiply-adds, so shared-memory traffic per FMA drops by (TM*TN)/(TM+TN).
//   * While a slice is being multiplied, each thread already loads its part of the next slice from
//     global memory into registers (software prefetch), hiding global-memory latency behind the
//     FMAs. Two barriers per slice keep the single shared buffer consistent (see the loop).
//
// Ragged edges: tile loads that fall outside op(A) (rows >= M or k >= K) or op(B) (k >= K or
// columns >= N) are never read from memory and contribute zeros; stores outside C are skipped. So
// any M, N, K >= 0 works, with any leading dimensions, at the cost of one predicate per access.
#include <cstdint>

#include "skinnet/cuda/runtime.hpp"

namespace skinnet::cuda::kernels {

// A block-tile shape. BM x BN outputs per block, BK-wide K slices, TM x TN outputs per thread.
template <int BM_, int BN_, int BK_, int TM_, int TN_, int MinBlocks_>
struct GemmTile {
  static constexpr int BM = BM_, BN = BN_, BK = BK_, TM = TM_, TN = TN_;
  static constexpr int kThreadsN = BN / TN;  // threads along a row of the tile
  static constexpr int kThreadsM = BM / TM;  // threads along a column of the tile
  static constexpr int kThreads = kThreadsM * kThreadsN;
  // Shared-memory rows are padded by 4 floats: keeps each row 16-byte aligned (vector loads) and
  // shifts consecutive k rows by 4 banks, so the transposing stores of a k-contiguous operand (32
  // threads writing 8 k rows x 4 columns) hit 32 different banks when BK == 8.
  static constexpr int kPad = 4;
  // Blocks per multiprocessor ptxas must leave room for (__launch_bounds__): caps registers at
  // 64K / (kThreads * kMinBlocksPerSM), so that many blocks fit and hide each other's latency.
  static constexpr int kMinBlocksPerSM = MinBlocks_;

  static_assert(BM % TM == 0 && BN % TN == 0, "the thread grid must cover the tile exactly");
  static_assert(TN % 4 == 0, "columns are assigned to threads in groups of 4 (see column_of)");
  static_assert(TM % 4 == 0, "a thread's rows of A are read as float4");
  static_assert(kThreads <= 1024, "at most 1024 threads per block");
  static_assert((BM * BK) % kThreads == 0 && (BN * BK) % kThreads == 0,
                "every thread loads the same number of elements of each tile");
  static_assert(static_cast<long>(BK) * (BM + BN + 2 * kPad) * 4 <= 48 * 1024,
                "static shared memory is limited to 48 KB");
};

// 128x128 tiles, 8x8 outputs per thread, 256 threads: the high-throughput shape for large products.
// 64 accumulators + 16 operands + 8 prefetched values per thread: ptxas needs 130-165 registers, so
// one block per SM; asking for two (a 128-register cap) makes sm_90 spill.
using GemmTileLarge = GemmTile<128, 128, 8, 8, 8, 1>;
// 64x64 tiles, 4x4 outputs per thread, 256 threads: four times as many blocks for the same product,
// so small GEMMs (a classifier head, a late low-resolution layer) still occupy every multiprocessor.
// Fits in 64 registers, so four blocks (32 warps) share an SM.
using GemmTileSmall = GemmTile<64, 64, 8, 4, 4, 4>;

namespace gemm_detail {

// Where output column j (0 <= j < TN) of thread tx lies inside the tile. Columns are handed out in
// groups of 4: thread tx takes 4 adjacent columns in each of TN/4 groups spaced kThreadsN*4 apart.
// Then a warp's 16 threads read 64 consecutive floats of the B tile per group (no bank conflicts,
// unlike TN contiguous columns per thread) and write 64 consecutive floats of C (coalesced).
template <class Tile>
__device__ __forceinline__ int column_of(int tx, int j) {
  return (j / 4) * (Tile::kThreadsN * 4) + tx * 4 + (j % 4);
}

// Four consecutive floats from 16-byte aligned shared memory as one vector load.
__device__ __forceinline__ void load4(float* dst, const float* src) {
  const float4 v = *reinterpret_cast<const float4*>(src);
  dst[0] = v.x;
  dst[1] = v.y;
  dst[2] = v.z;
  dst[3] = v.w;
}

// One operand's share of a K slice, staged through registers. `Rows` is the operand's extent along
// the output (BM for A, BN for B); element (r, k) of the slice is op(X)'s element (row0 + r, k0 + k)
// for A, and (k0 + k, row0 + r) for B. `KContiguous` says whether k is the fast index in memory
// (A not transposed, or B transposed); global loads then walk along k so that neighbouring threads
// read neighbouring addresses either way.
template <class Tile, int Rows, bool KContiguous>
struct SliceLoader {
  static constexpr int kPerThread = Rows * Tile::BK / Tile::kThreads;
  float staged[kPerThread];

  __device__ __forceinline__ static void coords(int tid, int i, int& r, int& k) {
    const int e = tid + i * Tile::kThreads;
    if constexpr (KContiguous) {
      k = e % Tile::BK;
      r = e / Tile::BK;
    } else {
      r = e % Rows;
      k = e / Rows;
    }
  }

  // Global -> registers. Out-of-range elements become 0 so they add nothing to the sums.
  __device__ __forceinline__ void load(const float* __restrict__ X, int64_t ld, int row0, int rows,
                                       int k0, int K, int tid) {
#pragma unroll
    for (int i = 0; i < kPerThread; ++i) {
      int r, k;
      coords(tid, i, r, k);
      const int gr = row0 + r, gk = k0 + k;
      float v = 0.f;
      if (gr < rows && gk < K)
        v = KContiguous ? X[static_cast<int64_t>(gr) * ld + gk] : X[static_cast<int64_t>(gk) * ld + gr];
      staged[i] = v;
    }
  }

  // Registers -> shared memory, stored k-major (tile[k][r]) so the multiply reads rows of it.
  __device__ __forceinline__ void store(float (*tile)[Rows + Tile::kPad], int tid) const {
#pragma unroll
    for (int i = 0; i < kPerThread; ++i) {
      int r, k;
      coords(tid, i, r, k);
      tile[k][r] = staged[i];
    }
  }
};

}  // namespace gemm_detail

// One block computes one Tile::BM x Tile::BN tile of C. Launch with a 1-D grid of
// ceil(M/BM) * ceil(N/BN) blocks (tiles numbered row by row, so consecutive blocks share the same
// rows of A) and Tile::kThreads threads per block, no dynamic shared memory. When beta == 0, C is
// only written, never read (it may hold NaN or garbage), as BLAS specifies.
template <class Tile, bool TransA, bool TransB>
__global__ void __launch_bounds__(Tile::kThreads, Tile::kMinBlocksPerSM)
    sgemm(int M, int N, int K, float alpha, const float* __restrict__ A, int64_t lda,
          const float* __restrict__ B, int64_t ldb, float beta, float* __restrict__ C, int64_t ldc) {
  constexpr int BM = Tile::BM, BN = Tile::BN, BK = Tile::BK, TM = Tile::TM, TN = Tile::TN;
  // The current K slice of both operands. In a 16-byte aligned struct so that the multiply can read
  // 4 consecutive floats as one float4 (every row starts at a multiple of 4 floats).
  struct alignas(16) Slice {
    float a[BK][BM + Tile::kPad];  // a[k][m] = op(A)(m0 + m, k0 + k)
    float b[BK][BN + Tile::kPad];  // b[k][n] = op(B)(k0 + k, n0 + n)
  };
  __shared__ Slice slice;

  const int tiles_n = (N + BN - 1) / BN;
  const int m0 = static_cast<int>(blockIdx.x) / tiles_n * BM;
  const int n0 = static_cast<int>(blockIdx.x) % tiles_n * BN;
  const int tid = static_cast<int>(threadIdx.x);
  const int tx = tid % Tile::kThreadsN;  // which column group of the tile this thread owns
  const int ty = tid / Tile::kThreadsN;  // which TM rows of the tile this thread owns

  // op(A) is k-contiguous in memory when A is not transposed; op(B) when B is.
  gemm_detail::SliceLoader<Tile, BM, !TransA> a_loader;
  gemm_detail::SliceLoader<Tile, BN, TransB> b_loader;

  float acc[TM][TN];
#pragma unroll
  for (int i = 0; i < TM; ++i)
#pragma unroll
    for (int j = 0; j < TN; ++j) acc[i][j] = 0.f;

  const int slices = (K + BK - 1) / BK;
  if (slices > 0) {
    a_loader.load(A, lda, m0, M, 0, K, tid);
    b_loader.load(B, ldb, n0, N, 0, K, tid);
  }
  for (int s = 0; s < slices; ++s) {
    a_loader.store(slice.a, tid);
    b_loader.store(slice.b, tid);
    // Barrier 1: the whole slice must be in shared memory before anyone multiplies with it.
    __syncthreads();

    // Prefetch the next slice into registers; these loads are in flight during the FMAs below.
    if (s + 1 < slices) {
      a_loader.load(A, lda, m0, M, (s + 1) * BK, K, tid);
      b_loader.load(B, ldb, n0, N, (s + 1) * BK, K, tid);
    }

#pragma unroll
    for (int k = 0; k < BK; ++k) {
      // TM values of A and TN of B, read 4 at a time (one 128-bit shared load each).
      float a[TM], b[TN];
#pragma unroll
      for (int i = 0; i < TM; i += 4) gemm_detail::load4(a + i, &slice.a[k][ty * TM + i]);
#pragma unroll
      for (int j = 0; j < TN; j += 4)
        gemm_detail::load4(b + j, &slice.b[k][gemm_detail::column_of<Tile>(tx, j)]);
#pragma unroll
      for (int i = 0; i < TM; ++i)
#pragma unroll
        for (int j = 0; j < TN; ++j) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
    }
    // Barrier 2: everyone must be done reading this slice before the next iteration overwrites it.
    __syncthreads();
  }

#pragma unroll
  for (int i = 0; i < TM; ++i) {
    const int m = m0 + ty * TM + i;
    if (m < M) {
#pragma unroll
      for (int j = 0; j < TN; ++j) {
        const int n = n0 + gemm_detail::column_of<Tile>(tx, j);
        if (n < N) {
          float* c = C + static_cast<int64_t>(m) * ldc + n;
          // beta == 0 is tested, not multiplied: 0 * NaN would be NaN, and C may be uninitialised.
          *c = beta == 0.f ? alpha * acc[i][j] : fmaf(beta, *c, alpha * acc[i][j]);
        }
      }
    }
  }
}

}  // namespace skinnet::cuda::kernels
