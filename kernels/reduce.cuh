#pragma once
// Deterministic per-channel reductions over NHWC tensors, and global average pooling built on them.
// Host launchers: include/skinnet/cuda/reduce.hpp (the generic column sum) and
// include/skinnet/cuda/global_pool.hpp; BatchNorm, Dense (bias gradient) and SE (gate gradient) use the
// same column sum with their own per-element terms.
//
// The problem: an NHWC tensor seen as `segments` groups of `rows` rows of C channels (segments = 1
// for a BatchNorm over the whole batch, = N for per-sample sums such as global pooling); for every
// (segment, channel) sum a per-element term over the rows. DESIGN.md §2 asks for default reductions
// with a fixed order — no float atomics, whose order depends on timing — so the same input gives the
// same bits on every run. Two launches:
//
//   1. column_partial_sums: grid (ceil(C / 32), chunks, segments), 32 x 8 threads. The rows of a
//      segment are split into `chunks` contiguous ranges (a function of the shape only). Thread
//      (lane, ty) of block (ct, k, s) walks rows begin(k) + ty, + 8, ... of segment s for channel
//      ct * 32 + lane, accumulating in double (so the result does not depend on the chunking in any
//      way that matters, and long sums lose nothing). The 8 row-threads' sums meet in shared memory
//      and thread ty = 0 adds them in ty order. Neighbouring lanes read neighbouring channels:
//      coalesced 128-byte rows for C >= 32. Output: partial[(s * chunks + k) * C + c].
//   2. A finalize kernel, one thread per (segment, channel), adds the chunks in index order and
//      turns the sum into what the op needs (a mean, BN statistics, an accumulated gradient).
//
// Every sum therefore has one fixed association for a given shape, independent of thread scheduling
// (the emulator's forward / reverse / random thread orders check it), of the grid size actually
// resident, and of the device.
#include <cstdint>

#include "skinnet/cuda/runtime.hpp"

namespace skinnet::cuda::kernels {

// Two sums carried together (BN needs sum and sum of squares, or sum(dz) and sum(dz * xhat), from
// the same pass over the data). Single sums leave `b` at zero.
struct Sum2 {
  double a, b;
};

// Block shape of column_partial_sums: 32 channel lanes (one warp wide: a warp reads 32 consecutive
// channels of a row) by 8 row lanes.
inline constexpr int kReduceLanes = 32;
inline constexpr int kReduceRowThreads = 8;
inline constexpr int kReduceThreads = kReduceLanes * kReduceRowThreads;

// `Term` is a small struct with `__device__ Sum2 operator()(int64_t row, int c) const` giving the
// summand of global row `row` (over all segments) and channel c.
template <class Term>
__global__ void __launch_bounds__(kReduceThreads)
    column_partial_sums(Term term, int64_t rows, int C, int chunks, Sum2* __restrict__ partial) {
  __shared__ double part_a[kReduceRowThreads][kReduceLanes + 1];  // +1: no bank conflicts on the
  __shared__ double part_b[kReduceRowThreads][kReduceLanes + 1];  // column-wise reads of thread ty 0
  const int lane = static_cast<int>(threadIdx.x);
  const int ty = static_cast<int>(threadIdx.y);
  const int c = static_cast<int>(blockIdx.x) * kReduceLanes + lane;
  const int chunk = static_cast<int>(blockIdx.y);
  const int64_t segment = blockIdx.z;
  const int64_t begin = rows * chunk / chunks, end = rows * (chunk + 1) / chunks;

  double a = 0.0, b = 0.0;
  if (c < C) {
    for (int64_t r = begin + ty; r < end; r += kReduceRowThreads) {
      const Sum2 v = term(segment * rows + r, c);
      a += v.a;
      b += v.b;
    }
  }
  part_a[ty][lane] = a;
  part_b[ty][lane] = b;
  __syncthreads();  // all eight row-threads' sums are in shared memory
  if (ty == 0 && c < C) {
    for (int t = 1; t < kReduceRowThreads; ++t) {
      a += part_a[t][lane];
      b += part_b[t][lane];
    }
    partial[(segment * chunks + chunk) * C + c] = Sum2{a, b};
  }
}

// Adds the chunks of (segment, c) in index order.
__device__ __forceinline__ Sum2 combine_chunks(const Sum2* __restrict__ partial, int chunks, int C, int64_t segment,
                                               int c) {
  Sum2 s{0.0, 0.0};
  for (int k = 0; k < chunks; ++k) {
    const Sum2 v = partial[(segment * chunks + k) * C + c];
    s.a += v.a;
    s.b += v.b;
  }
  return s;
}

// What a plain column sum does with its total (sum `a` of (segment, c), `b` unused).
enum class SumOutput {
  Store,       // out[s * C + c] = float(sum)
  Accumulate,  // out[s * C + c] += float(sum)          (gradients accumulate, as on the CPU)
  Mean,        // out[s * C + c] = float(sum / rows)    (global average pooling)
};

inline constexpr int kFinalizeThreads = 256;

// One thread per (segment, channel): grid ceil(segments * C / 256), 256 threads.
template <SumOutput Out>
__global__ void __launch_bounds__(kFinalizeThreads)
    finalize_column_sums(const Sum2* __restrict__ partial, int chunks, int C, int64_t segments, int64_t rows,
                         float* __restrict__ out) {
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (i >= segments * C) return;
  const int64_t s = i / C;
  const int c = static_cast<int>(i % C);
  const double sum = combine_chunks(partial, chunks, C, s, c).a;
  if constexpr (Out == SumOutput::Store) {
    out[i] = static_cast<float>(sum);
  } else if constexpr (Out == SumOutput::Accumulate) {
    out[i] += static_cast<float>(sum);
  } else {
    out[i] = static_cast<float>(sum / static_cast<double>(rows));
  }
}

// ---- terms of the plain column sums -------------------------------------------------------------

// x[row, c]
struct ValueTerm {
  const float* __restrict__ x;
  int C;
  __device__ __forceinline__ Sum2 operator()(int64_t row, int c) const { return Sum2{x[row * C + c], 0.0}; }
};

// x[row, c] * y[row, c], multiplied in double (as the CPU's SE gate gradient does)
struct ProductTerm {
  const float* __restrict__ x;
  const float* __restrict__ y;
  int C;
  __device__ __forceinline__ Sum2 operator()(int64_t row, int c) const {
    const int64_t i = row * C + c;
    return Sum2{static_cast<double>(x[i]) * static_cast<double>(y[i]), 0.0};
  }
};

// ---- global average pooling backward ------------------------------------------------------------

// dx[n, p, c] = dy[n, c] / HW: a broadcast, elementwise over dx (grid-stride, 256 threads).
template <int Threads>
__global__ void __launch_bounds__(Threads)
    global_avg_pool_backward_kernel(const float* __restrict__ dy, float* __restrict__ dx, int64_t HW, int C,
                                    float inv_hw, int64_t n) {
  const int64_t step = static_cast<int64_t>(gridDim.x) * blockDim.x;
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n; i += step) {
    const int64_t row = i / C;
    const int c = static_cast<int>(i - row * C);
    dx[i] = dy[(row / HW) * C + c] * inv_hw;
  }
}

}  // namespace skinnet::cuda::kernels
