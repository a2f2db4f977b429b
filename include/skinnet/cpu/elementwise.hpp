#pragma once
// Small elementwise CPU ops shared by several layers (Residual's sum, gradient accumulation), and the
// blocking helper every memory-bound CPU loop in skinnet uses.
#include <algorithm>
#include <array>
#include <cstdint>
#include <cstring>

#if defined(__AVX512F__) || defined(__AVX__)
#include <immintrin.h>
#endif

#include "skinnet/core/error.hpp"
#include "skinnet/core/parallel.hpp"
#include "skinnet/core/tensor.hpp"

namespace skinnet::cpu {

namespace detail {
// Flat elementwise loops run over contiguous pieces of this many floats per parallel task (16 KiB:
// big enough to amortise scheduling, small enough to balance two cores on small tensors).
constexpr int64_t kElementwiseGrain = 4096;

// fn(lo, hi) over [0, n) in kElementwiseGrain pieces, in parallel.
template <class Fn>
void for_each_block(int64_t n, Fn&& fn) {
  const int64_t blocks = (n + kElementwiseGrain - 1) / kElementwiseGrain;
  parallel_for(0, blocks, [&](int64_t b) {
    const int64_t lo = b * kElementwiseGrain;
    const int64_t hi = lo + kElementwiseGrain < n ? lo + kElementwiseGrain : n;
    fn(lo, hi);
  });
}

// Non-temporal ("streaming") stores for outputs too big to stay in cache: a normal store first reads
// the destination line into cache (read-for-ownership) and later writes it back, so a written tensor
// costs two memory transfers; a streaming store costs one. Memory-bound passes (BatchNorm, SE scale)
// compute a block into an L1-resident scratch buffer and stream it out. Below the threshold the
// output is likely to be read again from cache by the next layer, so ordinary stores are better.
constexpr int64_t kStreamingThresholdBytes = int64_t{8} << 20;
inline bool use_streaming_stores(int64_t numel) {
  return numel * static_cast<int64_t>(sizeof(float)) >= kStreamingThresholdBytes;
}

// dst[0, n) = src[0, n) with streaming stores where the destination is vector-aligned.
inline void stream_store(float* __restrict dst, const float* __restrict src, int64_t n) {
#if defined(__AVX512F__)
  int64_t i = 0;
  for (; i < n && (reinterpret_cast<uintptr_t>(dst + i) & 63u) != 0; ++i) dst[i] = src[i];
  for (; i + 16 <= n; i += 16) _mm512_stream_ps(dst + i, _mm512_loadu_ps(src + i));
  for (; i < n; ++i) dst[i] = src[i];
#elif defined(__AVX__)
  int64_t i = 0;
  for (; i < n && (reinterpret_cast<uintptr_t>(dst + i) & 31u) != 0; ++i) dst[i] = src[i];
  for (; i + 8 <= n; i += 8) _mm256_stream_ps(dst + i, _mm256_loadu_ps(src + i));
  for (; i < n; ++i) dst[i] = src[i];
#else
  std::memcpy(dst, src, static_cast<size_t>(n) * sizeof(float));
#endif
}
// Streaming stores are weakly ordered: fence before another thread may read what this one wrote.
inline void stream_fence() {
#if defined(__AVX512F__) || defined(__AVX__)
  _mm_sfence();
#endif
}

// M rows of C floats (an NHWC tensor, C = channels) in parallel blocks of ~4K floats:
// fn(first_row, end_row). For passes without reductions, so any split gives the same result.
template <class Fn>
void for_each_row_block(int64_t M, int64_t C, Fn&& fn) {
  const int64_t per = std::max<int64_t>(1, kElementwiseGrain / std::max<int64_t>(C, 1));
  const int64_t blocks = (M + per - 1) / per;
  parallel_for(0, blocks, [&](int64_t b) { fn(b * per, std::min(M, (b + 1) * per)); });
}

// Like for_each_row_block, for passes that write NOut output tensors: fn(r0, r1, out) writes row r,
// channel c of output k to out[k][(r - r0) * C + c]. For big tensors `out` points at L1 scratch blocks
// that are then copied to the destinations with streaming stores (see elementwise.hpp).
template <size_t NOut, class Fn>
void for_each_row_block_out(int64_t M, int64_t C, std::array<float*, NOut> dst, Fn&& fn) {
  const bool streaming = use_streaming_stores(M * C) && C <= kElementwiseGrain;
  for_each_row_block(M, C, [&](int64_t r0, int64_t r1) {
    std::array<float*, NOut> out;
    if (!streaming) {
      for (size_t k = 0; k < NOut; ++k) out[k] = dst[k] + r0 * C;
      fn(r0, r1, out);
      return;
    }
    alignas(64) float scratch[NOut][kElementwiseGrain];
    for (size_t k = 0; k < NOut; ++k) out[k] = scratch[k];
    fn(r0, r1, out);
    for (size_t k = 0; k < NOut; ++k) stream_store(dst[k] + r0 * C, scratch[k], (r1 - r0) * C);
    stream_fence();
  });
}

// The flat version: fn(lo, hi, out) writes element i of output k to out[k][i - lo].
template <size_t NOut, class Fn>
void for_each_block_out(int64_t n, std::array<float*, NOut> dst, Fn&& fn) {
  const bool streaming = use_streaming_stores(n);
  for_each_block(n, [&](int64_t lo, int64_t hi) {
    std::array<float*, NOut> out;
    if (!streaming) {
      for (size_t k = 0; k < NOut; ++k) out[k] = dst[k] + lo;
      fn(lo, hi, out);
      return;
    }
    alignas(64) float scratch[NOut][kElementwiseGrain];
    for (size_t k = 0; k < NOut; ++k) out[k] = scratch[k];
    fn(lo, hi, out);
    for (size_t k = 0; k < NOut; ++k) stream_store(dst[k] + lo, scratch[k], hi - lo);
    stream_fence();
  });
}

// Makes `t` an (uninitialised) tensor of shape `s`, reusing its buffer when the shape already matches,
// so per-step caches are not reallocated every training step.
inline void ensure_shape(Tensor<Cpu>& t, const Shape& s) {
  if (t.empty() || t.shape() != s) t = Tensor<Cpu>(s);
}
}  // namespace detail

// a + b (same shapes).
inline Tensor<Cpu> add(const Tensor<Cpu>& a, const Tensor<Cpu>& b) {
  SKN_REQUIRE(a.shape() == b.shape(), ShapeError, "add: shapes ", a.shape().str(), " and ",
              b.shape().str(), " differ");
  Tensor<Cpu> out(a.shape());
  const float* __restrict ap = a.data();
  const float* __restrict bp = b.data();
  float* __restrict op = out.data();
  detail::for_each_block(a.numel(), [&](int64_t lo, int64_t hi) {
#pragma omp simd
    for (int64_t i = lo; i < hi; ++i) op[i] = ap[i] + bp[i];
  });
  return out;
}

// dst += src (same shapes).
inline void add_into(Tensor<Cpu>& dst, const Tensor<Cpu>& src) {
  SKN_REQUIRE(dst.shape() == src.shape(), ShapeError, "add_into: shapes ", dst.shape().str(), " and ",
              src.shape().str(), " differ");
  float* __restrict dp = dst.data();
  const float* __restrict sp = src.data();
  detail::for_each_block(dst.numel(), [&](int64_t lo, int64_t hi) {
#pragma omp simd
    for (int64_t i = lo; i < hi; ++i) dp[i] += sp[i];
  });
}

}  // namespace skinnet::cpu
