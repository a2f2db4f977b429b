#pragma once
// Small elementwise CPU ops shared by several layers (Residual's sum, gradient accumulation), and the
// blocking helper every memory-bound CPU loop in skinnet uses.
#include <algorithm>
#include <cstdint>

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

// M rows of C floats (an NHWC tensor, C = channels) in parallel blocks of ~4K floats:
// fn(first_row, end_row). For passes without reductions, so any split gives the same result.
template <class Fn>
void for_each_row_block(int64_t M, int64_t C, Fn&& fn) {
  const int64_t per = std::max<int64_t>(1, kElementwiseGrain / std::max<int64_t>(C, 1));
  const int64_t blocks = (M + per - 1) / per;
  parallel_for(0, blocks, [&](int64_t b) { fn(b * per, std::min(M, (b + 1) * per)); });
}

// out[i] = parts[i] + parts[n + i] + ... + parts[(count - 1) * n + i]: `count` arrays of n floats
// (per-slice partial sums) added in slice order for every element, elements in parallel blocks. The
// same additions as one thread adding whole arrays one after another, so sums over fixed slices stay
// bit-identical for any thread count.
inline void sum_in_order(const float* parts, int64_t count, int64_t n, float* out) {
  for_each_block(n, [&](int64_t lo, int64_t hi) {
    std::copy(parts + lo, parts + hi, out + lo);
    for (int64_t s = 1; s < count; ++s) {
      const float* p = parts + s * n;
SKN_OMP_SIMD
      for (int64_t i = lo; i < hi; ++i) out[i] += p[i];
    }
  });
}

// Makes `t` an (uninitialised) tensor of shape `s`, reusing its buffer when the shape already matches,
// so per-step caches are not reallocated every training step.
inline void ensure_shape(Tensor<Cpu>& t, const Shape& s) {
  // A buffer another handle shares (Tensor::share) is never written over: it gets a fresh one.
  if (t.empty() || t.shape() != s || t.buffer_is_shared()) t = Tensor<Cpu>(s);
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
SKN_OMP_SIMD
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
SKN_OMP_SIMD
    for (int64_t i = lo; i < hi; ++i) dp[i] += sp[i];
  });
}

}  // namespace skinnet::cpu
