#pragma once
// Dense 2-D convolution kernels, NHWC activations, HWIO weights ([kh][kw][cin][cout]). The host
// launchers are include/skinnet/cuda/conv2d.hpp; docs/kernels.md explains the design and lists the
// ptxas report of each instantiation.
//
// All three passes are IMPLICIT GEMMs: the same tiled SGEMM structure as kernels/gemm.cuh (block tile
// in shared memory, register tile per thread, software prefetch of the next K slice), but the
// operands are never stored as matrices in device memory. Whenever a tile loader needs element (r, k)
// of an operand it computes where that element lives in the NHWC tensor (or that it is padding, i.e.
// 0) and fetches it directly, so the im2col matrix exists only one BM x BK slice at a time, in shared
// memory.
//
//   forward          Y[pixels x cout]   = im2col(X)[pixels x kh*kw*cin] * W[kh*kw*cin x cout]  (+ bias)
//   input gradient   dX[inpixels x cin] = G[inpixels x kh*kw*cout] * W'[kh*kw*cout x cin]
//                    where G((n,ih,iw), (i,j,o)) = dY(n, (ih+pt-i)/sh, (iw+pl-j)/sw, o) when that
//                    division is exact and lands inside dY, else 0 (the "transposed convolution" as
//                    a gather), and W'((i,j,o), ci) = W[i][j][ci][o]
//   weight gradient  dW[kh*kw*cin x cout] = im2col(X)^T * dY, the sum over all N*OH*OW pixels split
//                    into S contiguous chunks (grid.y); chunk s writes its own partial dW and a
//                    second kernel (add_split_sums) adds the S partials in order s = 0..S-1. No
//                    atomics, so the result depends only on the shape, never on block scheduling.
//
// Each pass is a small "problem" struct (ConvForwardProblem, ...) that says how to fetch an element
// of A and B and where a result goes; the one kernel template conv_gemm<Tile, Problem> runs the tiled
// loop for all of them. Sizes are 32-bit (the launcher checks), memory offsets 64-bit.
#include <cstdint>

#include "skinnet/cuda/runtime.hpp"
#include "kernels/gemm.cuh"  // GemmTile and the register-tile helpers (column_of, load4)

namespace skinnet::cuda::kernels {

// The geometry of a window op as 32-bit integers (the launcher converts a ConvGeometry and checks
// that every size and element count fits). in: n x h x w x c, out: n x oh x ow x oc.
struct ConvDims {
  int n, h, w, c;
  int kh, kw, sh, sw, pt, pl;
  int oh, ow, oc;
};

// The two tile shapes; the launcher picks by the output's column count N (cout, or cin for dx).
// Square tile, for N > 32: 64 x 64 outputs per block, K slices of 8, 4 x 4 outputs per thread, 256
// threads, up to 4 blocks per SM. The same shape as GemmTileSmall: most convolutions of the target
// networks have 64..2048 output channels, so a 64-wide N tile wastes little, and a 64-row M tile gives
// enough blocks on the low-resolution late layers.
using ConvTile = GemmTile<64, 64, 8, 4, 4, 4>;
// For outputs with at most 32 columns (stems and EfficientNet's narrow project convs: cout 16..32, and
// the input gradient of a 3-channel stem): 128 x 32 tiles, still 256 threads with 4 x 4 outputs each,
// so no thread computes columns that do not exist, and each block covers twice the rows. Each thread
// gathers 4 A elements per slice (twice the square tile's) and keeps their decoded rows in registers:
// 95-109 registers, so two blocks per SM; capped at 64 (four blocks) or 80 (three) ptxas spilled.
using ConvTileNarrow = GemmTile<128, 32, 8, 4, 4, 2>;
inline constexpr int kConvNarrowMaxColumns = 32;

namespace conv_detail {

// Which element of the slice thread `tid` loads in its i-th step (the same mapping as gemm.cuh's
// SliceLoader). When k is the fast index in memory (KContiguous) neighbouring threads take
// neighbouring k, otherwise neighbouring rows, so that global loads are coalesced either way.
template <class Tile, int Rows, bool KContiguous>
__device__ __forceinline__ void slice_coords(int tid, int i, int& r, int& k) {
  const int e = tid + i * Tile::kThreads;
  if constexpr (KContiguous) {
    k = e % Tile::BK;
    r = e / Tile::BK;
  } else {
    r = e % Rows;
    k = e / Rows;
  }
}

// One operand's share of a K slice, gathered through the Operand's index map into registers, then
// stored k-major into shared memory. What depends only on the row (the operand's "line": e.g. the
// output pixel's coordinates) is computed once per thread and kept in `line`, since a thread loads
// the same rows in every slice; only the k part of the address is recomputed per slice.
template <class Tile, int Rows, class Operand>
struct GatherLoader {
  static constexpr bool kKContiguous = Operand::kKContiguous;
  static constexpr int kPerThread = Rows * Tile::BK / Tile::kThreads;
  static_assert(Rows * Tile::BK % Tile::kThreads == 0, "every thread loads the same number of elements");
  typename Operand::Line line[kPerThread];
  bool row_ok[kPerThread];
  float staged[kPerThread];

  __device__ __forceinline__ void init(const Operand& op, int row0, int rows, int tid) {
#pragma unroll
    for (int i = 0; i < kPerThread; ++i) {
      int r, k;
      slice_coords<Tile, Rows, kKContiguous>(tid, i, r, k);
      row_ok[i] = row0 + r < rows;
      line[i] = op.line(row_ok[i] ? row0 + r : 0);
    }
  }

  // Global -> registers for the slice starting at k0; elements at k >= k_end contribute 0.
  __device__ __forceinline__ void load(const Operand& op, int k0, int k_end, int tid) {
#pragma unroll
    for (int i = 0; i < kPerThread; ++i) {
      int r, k;
      slice_coords<Tile, Rows, kKContiguous>(tid, i, r, k);
      const int gk = k0 + k;
      staged[i] = row_ok[i] && gk < k_end ? op.at(line[i], gk) : 0.f;
    }
  }

  __device__ __forceinline__ void store(float (*tile)[Rows + Tile::kPad], int tid) const {
#pragma unroll
    for (int i = 0; i < kPerThread; ++i) {
      int r, k;
      slice_coords<Tile, Rows, kKContiguous>(tid, i, r, k);
      tile[k][r] = staged[i];
    }
  }
};

// Output pixel index m = (n * OH + oh) * OW + ow, split into its coordinates.
__device__ __forceinline__ void split_pixel(int m, int oh_count, int ow_count, int& n, int& oh, int& ow) {
  ow = m % ow_count;
  const int t = m / ow_count;
  oh = t % oh_count;
  n = t / oh_count;
}

// A patch index p = (i * KW + j) * C + ci of im2col's columns, split into tap row, tap column, channel.
__device__ __forceinline__ void split_patch(int p, int c, int kw, int& i, int& j, int& ci) {
  ci = p % c;
  const int t = p / c;
  j = t % kw;
  i = t / kw;
}

}  // namespace conv_detail

// ---- the three problems -------------------------------------------------------------------------

// Forward: A = im2col(X) (rows: output pixels, k: (i, j, ci)), B = W as [kh*kw*cin x cout].
struct ConvForwardProblem {
  ConvDims d;
  const float* x;
  const float* w;
  const float* bias;  // may be null
  float* y;

  struct A {
    static constexpr bool kKContiguous = true;  // k runs along ci, contiguous in NHWC
    ConvDims d;
    const float* x;
    struct Line {
      int64_t image;  // offset of the image's first element
      int ih0, iw0;   // input coordinates of tap (0, 0); may be negative (padding)
    };
    __device__ __forceinline__ Line line(int m) const {
      int n, oh, ow;
      conv_detail::split_pixel(m, d.oh, d.ow, n, oh, ow);
      return {static_cast<int64_t>(n) * d.h * d.w * d.c, oh * d.sh - d.pt, ow * d.sw - d.pl};
    }
    __device__ __forceinline__ float at(const Line& l, int k) const {
      int i, j, ci;
      conv_detail::split_patch(k, d.c, d.kw, i, j, ci);
      const int ih = l.ih0 + i, iw = l.iw0 + j;
      if (ih < 0 || ih >= d.h || iw < 0 || iw >= d.w) return 0.f;  // zero padding
      return x[l.image + (static_cast<int64_t>(ih) * d.w + iw) * d.c + ci];
    }
  };
  struct B {
    static constexpr bool kKContiguous = false;  // rows of W are contiguous along cout
    const float* w;
    int oc;
    using Line = int;
    __device__ __forceinline__ Line line(int o) const { return o; }
    __device__ __forceinline__ float at(Line o, int k) const { return w[static_cast<int64_t>(k) * oc + o]; }
  };

  __device__ __forceinline__ int M() const { return d.n * d.oh * d.ow; }
  __device__ __forceinline__ int N() const { return d.oc; }
  __device__ __forceinline__ int K() const { return d.kh * d.kw * d.c; }
  __device__ __forceinline__ A a() const { return {d, x}; }
  __device__ __forceinline__ B b() const { return {w, d.oc}; }
  // Bias in the epilogue: one add per output, no extra pass over Y.
  __device__ __forceinline__ void store(int m, int o, float v, int /*split*/) const {
    y[static_cast<int64_t>(m) * d.oc + o] = bias ? v + bias[o] : v;
  }
};

// Input gradient: rows are input pixels, k = (i, j, o); see the file comment for G and W'.
struct ConvBackwardInputProblem {
  ConvDims d;
  const float* dy;
  const float* w;
  float* dx;

  struct A {
    static constexpr bool kKContiguous = true;  // k runs along o, contiguous in dY
    ConvDims d;
    const float* dy;
    struct Line {
      int64_t image;  // offset of the image's first element of dY
      int th, tw;     // ih + pt and iw + pl: output (oh, ow) meets tap (i, j) when th - i == oh * sh
    };
    __device__ __forceinline__ Line line(int m) const {
      int n, ih, iw;
      conv_detail::split_pixel(m, d.h, d.w, n, ih, iw);
      return {static_cast<int64_t>(n) * d.oh * d.ow * d.oc, ih + d.pt, iw + d.pl};
    }
    __device__ __forceinline__ float at(const Line& l, int k) const {
      int i, j, o;
      conv_detail::split_patch(k, d.oc, d.kw, i, j, o);
      const int sh = l.th - i, sw = l.tw - j;  // oh * stride, ow * stride if this tap is reached
      if (sh < 0 || sw < 0 || sh % d.sh != 0 || sw % d.sw != 0) return 0.f;
      const int oh = sh / d.sh, ow = sw / d.sw;
      if (oh >= d.oh || ow >= d.ow) return 0.f;
      return dy[l.image + (static_cast<int64_t>(oh) * d.ow + ow) * d.oc + o];
    }
  };
  struct B {
    static constexpr bool kKContiguous = true;  // W[i][j][ci][o]: o (part of k) is the fast index
    const float* w;
    int c, oc;
    using Line = int;
    __device__ __forceinline__ Line line(int ci) const { return ci; }
    __device__ __forceinline__ float at(Line ci, int k) const {
      const int tap = k / oc, o = k - tap * oc;
      return w[(static_cast<int64_t>(tap) * c + ci) * oc + o];
    }
  };

  __device__ __forceinline__ int M() const { return d.n * d.h * d.w; }
  __device__ __forceinline__ int N() const { return d.c; }
  __device__ __forceinline__ int K() const { return d.kh * d.kw * d.oc; }
  __device__ __forceinline__ A a() const { return {d, dy}; }
  __device__ __forceinline__ B b() const { return {w, d.c, d.oc}; }
  __device__ __forceinline__ void store(int m, int ci, float v, int /*split*/) const {
    dx[static_cast<int64_t>(m) * d.c + ci] = v;
  }
};

// Weight gradient: A = im2col(X)^T (rows: patch index (i, j, ci), k: output pixel), B = dY
// [pixels x cout]. Split s of gridDim.y writes partial + s * (patch * cout).
struct ConvBackwardWeightProblem {
  ConvDims d;
  const float* x;
  const float* dy;
  float* partial;

  struct A {
    static constexpr bool kKContiguous = false;  // rows (ci fastest) are contiguous in NHWC
    ConvDims d;
    const float* x;
    struct Line {
      int i, j, ci;
    };
    __device__ __forceinline__ Line line(int p) const {
      Line l;
      conv_detail::split_patch(p, d.c, d.kw, l.i, l.j, l.ci);
      return l;
    }
    __device__ __forceinline__ float at(const Line& l, int m) const {
      int n, oh, ow;
      conv_detail::split_pixel(m, d.oh, d.ow, n, oh, ow);
      const int ih = oh * d.sh - d.pt + l.i, iw = ow * d.sw - d.pl + l.j;
      if (ih < 0 || ih >= d.h || iw < 0 || iw >= d.w) return 0.f;
      return x[((static_cast<int64_t>(n) * d.h + ih) * d.w + iw) * d.c + l.ci];
    }
  };
  struct B {
    static constexpr bool kKContiguous = false;  // dY rows are contiguous along cout
    const float* dy;
    int oc;
    using Line = int;
    __device__ __forceinline__ Line line(int o) const { return o; }
    __device__ __forceinline__ float at(Line o, int m) const { return dy[static_cast<int64_t>(m) * oc + o]; }
  };

  __device__ __forceinline__ int M() const { return d.kh * d.kw * d.c; }
  __device__ __forceinline__ int N() const { return d.oc; }
  __device__ __forceinline__ int K() const { return d.n * d.oh * d.ow; }
  __device__ __forceinline__ A a() const { return {d, x}; }
  __device__ __forceinline__ B b() const { return {dy, d.oc}; }
  __device__ __forceinline__ void store(int p, int o, float v, int split) const {
    const int64_t size = static_cast<int64_t>(M()) * d.oc;
    partial[split * size + static_cast<int64_t>(p) * d.oc + o] = v;
  }
};

// ---- the kernels --------------------------------------------------------------------------------

// One block computes one Tile::BM x Tile::BN tile of the problem's output over the K range
// [blockIdx.y * k_chunk, min(K, (blockIdx.y + 1) * k_chunk)). Launch: grid = (ceil(M/BM) *
// ceil(N/BN), splits), Tile::kThreads threads, no dynamic shared memory. k_chunk is a multiple of BK
// (or >= K when there is one split).
template <class Tile, class Problem>
__global__ void __launch_bounds__(Tile::kThreads, Tile::kMinBlocksPerSM) conv_gemm(Problem p, int k_chunk) {
  constexpr int BM = Tile::BM, BN = Tile::BN, BK = Tile::BK, TM = Tile::TM, TN = Tile::TN;
  struct alignas(16) Slice {
    float a[BK][BM + Tile::kPad];  // a[k][r] = A(m0 + r, k0 + k)
    float b[BK][BN + Tile::kPad];  // b[k][c] = B(k0 + k, n0 + c)
  };
  __shared__ Slice slice;

  const int M = p.M(), N = p.N(), K = p.K();
  const int tiles_n = (N + BN - 1) / BN;
  const int m0 = static_cast<int>(blockIdx.x) / tiles_n * BM;
  const int n0 = static_cast<int>(blockIdx.x) % tiles_n * BN;
  const int split = static_cast<int>(blockIdx.y);
  const int k_begin = split * k_chunk;
  const int k_end = K - k_begin < k_chunk ? K : k_begin + k_chunk;
  const int tid = static_cast<int>(threadIdx.x);
  const int tx = tid % Tile::kThreadsN;
  const int ty = tid / Tile::kThreadsN;

  const typename Problem::A a_op = p.a();
  const typename Problem::B b_op = p.b();
  conv_detail::GatherLoader<Tile, BM, typename Problem::A> a_loader;
  conv_detail::GatherLoader<Tile, BN, typename Problem::B> b_loader;
  a_loader.init(a_op, m0, M, tid);
  b_loader.init(b_op, n0, N, tid);

  float acc[TM][TN];
#pragma unroll
  for (int i = 0; i < TM; ++i)
#pragma unroll
    for (int j = 0; j < TN; ++j) acc[i][j] = 0.f;

  const int slices = k_end > k_begin ? (k_end - k_begin + BK - 1) / BK : 0;
  if (slices > 0) {
    a_loader.load(a_op, k_begin, k_end, tid);
    b_loader.load(b_op, k_begin, k_end, tid);
  }
  for (int s = 0; s < slices; ++s) {
    a_loader.store(slice.a, tid);
    b_loader.store(slice.b, tid);
    // Barrier 1: the whole slice is in shared memory before anyone multiplies with it.
    __syncthreads();
    if (s + 1 < slices) {  // prefetch: these gathers are in flight during the FMAs below
      a_loader.load(a_op, k_begin + (s + 1) * BK, k_end, tid);
      b_loader.load(b_op, k_begin + (s + 1) * BK, k_end, tid);
    }
#pragma unroll
    for (int k = 0; k < BK; ++k) {
      float av[TM], bv[TN];
#pragma unroll
      for (int i = 0; i < TM; i += 4) gemm_detail::load4(av + i, &slice.a[k][ty * TM + i]);
#pragma unroll
      for (int j = 0; j < TN; j += 4) gemm_detail::load4(bv + j, &slice.b[k][gemm_detail::column_of<Tile>(tx, j)]);
#pragma unroll
      for (int i = 0; i < TM; ++i)
#pragma unroll
        for (int j = 0; j < TN; ++j) acc[i][j] = fmaf(av[i], bv[j], acc[i][j]);
    }
    // Barrier 2: everyone is done reading this slice before the next iteration overwrites it.
    __syncthreads();
  }

#pragma unroll
  for (int i = 0; i < TM; ++i) {
    const int m = m0 + ty * TM + i;
    if (m < M) {
#pragma unroll
      for (int j = 0; j < TN; ++j) {
        const int n = n0 + gemm_detail::column_of<Tile>(tx, j);
        if (n < N) p.store(m, n, acc[i][j], split);
      }
    }
  }
}

// Column sums of a [rows x C] matrix (the bias gradient: dY summed over all pixels), one partial sum
// per split of the rows: partial[s * C + c] = sum of m[r, c] over rows r in split s's range
// [s * rows_per_split, min(rows, (s + 1) * rows_per_split)). Block: 32 channels x 8 row lanes (the 32
// threads of a warp read 32 consecutive channels of a row: coalesced); lane ty sums rows ty, ty + 8,
// ... of the range, then lane 0 adds the 8 lane sums in order. Grid: (ceil(C / 32), splits).
// A template (the library uses T = float) so that the header can be included by several translation units.
inline constexpr int kColumnSumChannels = 32, kColumnSumLanes = 8;

template <class T>
__global__ void __launch_bounds__(kColumnSumChannels * kColumnSumLanes)
    column_sums(const T* __restrict__ m, int rows, int C, int rows_per_split, T* __restrict__ partial) {
  __shared__ T lane_sum[kColumnSumLanes][kColumnSumChannels + 1];
  const int tx = static_cast<int>(threadIdx.x), ty = static_cast<int>(threadIdx.y);
  const int c = static_cast<int>(blockIdx.x) * kColumnSumChannels + tx;
  const int split = static_cast<int>(blockIdx.y);
  const int r_begin = split * rows_per_split;
  const int r_end = rows - r_begin < rows_per_split ? rows : r_begin + rows_per_split;
  T acc = 0;
  if (c < C)
    for (int r = r_begin + ty; r < r_end; r += kColumnSumLanes) acc += m[static_cast<int64_t>(r) * C + c];
  lane_sum[ty][tx] = acc;
  __syncthreads();  // all lane sums are written before lane 0 reads them
  if (ty == 0 && c < C) {
    T total = lane_sum[0][tx];
#pragma unroll
    for (int l = 1; l < kColumnSumLanes; ++l) total += lane_sum[l][tx];
    partial[static_cast<int64_t>(split) * C + c] = total;
  }
}

// dst[i] += sum over s = 0..splits-1 (in that order) of partial[s * stride + i], for i < count: the
// fixed-order second pass of every split reduction (conv and depthwise weight / bias gradients). The
// sum is formed first and added to dst once, so accumulating into a zeroed gradient twice gives
// exactly twice the gradient. 1-D grid, any block size. (Templates, like every kernel here, so that
// the header can be included by several translation units; the library uses T = float.)
template <class T>
__global__ void add_split_sums(const T* __restrict__ partial, int splits, int64_t stride, int64_t count,
                               T* __restrict__ dst) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= count) return;
  T sum = partial[i];
  for (int s = 1; s < splits; ++s) sum += partial[s * stride + i];
  dst[i] += sum;
}

}  // namespace skinnet::cuda::kernels
