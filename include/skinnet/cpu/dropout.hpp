#pragma once
// Dropout and DropConnect (stochastic depth) on the CPU, with masks drawn from skinnet's Philox.
//
// The mask is a pure function of (seed, stream, step, element index) — DESIGN.md §8: key = seed,
// counter = {stream, step, index / 4, index >> 34}, element i takes word i % 4 — so
//   * the CUDA kernels draw exactly the same mask for the same seed, stream and step;
//   * backward recomputes the mask instead of storing it (no memory traffic for a mask tensor);
//   * a resumed run regenerates the masks it would have drawn.
// An element (dropout) or a whole sample (drop-connect) is kept when u < keep, keep = 1 - rate, with
// u = philox_uniform(...) in [0, 1); kept values are scaled by 1 / keep so the expectation is unchanged.
#include <cstdint>

#include "skinnet/core/error.hpp"
#include "skinnet/core/parallel.hpp"
#include "skinnet/core/philox.hpp"
#include "skinnet/core/tensor.hpp"
#include "skinnet/cpu/elementwise.hpp"

namespace skinnet::cpu {

namespace detail {

inline float keep_probability(const char* op, float rate) {
  SKN_REQUIRE(rate >= 0.0f && rate < 1.0f, ValueError, op, ": drop rate must be in [0, 1), got ", rate);
  return 1.0f - rate;
}

// out[i] = in[i] * (u_i < keep ? 1/keep : 0), u_i from Philox at element index i. One Philox block
// gives the uniforms of four consecutive elements, exactly as philox_uniform would one at a time.
inline Tensor<Cpu> apply_dropout_mask(const Tensor<Cpu>& in, float keep, uint64_t seed, uint32_t stream,
                                      uint32_t step) {
  Tensor<Cpu> out(in.shape());
  const float scale = 1.0f / keep;
  const float* __restrict ip = in.data();
  float* __restrict op = out.data();
  const uint32_t k0 = static_cast<uint32_t>(seed), k1 = static_cast<uint32_t>(seed >> 32);
  // kElementwiseGrain is a multiple of 4, so every block starts on a Philox block boundary.
  static_assert(kElementwiseGrain % 4 == 0);
  for_each_block(in.numel(), [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; i += 4) {
      const uint64_t idx = static_cast<uint64_t>(i);
      const Philox4x32 r = philox4x32_10(
          Philox4x32{{stream, step, static_cast<uint32_t>(idx >> 2), static_cast<uint32_t>(idx >> 34)}}, k0, k1);
      for (int j = 0; j < 4 && i + j < hi; ++j) {
        const float u = static_cast<float>(r.v[j] >> 8) * (1.0f / 16777216.0f);
        op[i + j] = u < keep ? ip[i + j] * scale : 0.0f;
      }
    }
  });
  return out;
}

// Per-sample version: sample n (the first dimension) is kept when u_n < keep.
inline Tensor<Cpu> apply_drop_connect_mask(const Tensor<Cpu>& in, float keep, uint64_t seed, uint32_t stream,
                                           uint32_t step) {
  Tensor<Cpu> out(in.shape());
  const int64_t N = in.shape()[0];
  const int64_t per = N > 0 ? in.numel() / N : 0;
  const float scale = 1.0f / keep;
  const float* __restrict ip = in.data();
  float* __restrict op = out.data();
  for (int64_t n = 0; n < N; ++n) {
    const float m = philox_uniform(seed, stream, step, static_cast<uint64_t>(n)) < keep ? scale : 0.0f;
    const int64_t base = n * per;
    for_each_block(per, [&](int64_t lo, int64_t hi) {
SKN_OMP_SIMD
      for (int64_t i = lo; i < hi; ++i) op[base + i] = ip[base + i] * m;
    });
  }
  return out;
}

}  // namespace detail

// Training-mode dropout of each element with probability `rate`.
inline Tensor<Cpu> dropout_forward(const Tensor<Cpu>& x, float rate, uint64_t seed, uint32_t stream,
                                   uint32_t step) {
  return detail::apply_dropout_mask(x, detail::keep_probability("dropout_forward", rate), seed, stream, step);
}
// dx = dy * mask / keep, with the mask of the forward call that had the same (seed, stream, step).
inline Tensor<Cpu> dropout_backward(const Tensor<Cpu>& dy, float rate, uint64_t seed, uint32_t stream,
                                    uint32_t step) {
  return detail::apply_dropout_mask(dy, detail::keep_probability("dropout_backward", rate), seed, stream, step);
}

// Training-mode drop-connect: zeroes whole samples (first dimension) with probability `rate`.
inline Tensor<Cpu> drop_connect_forward(const Tensor<Cpu>& x, float rate, uint64_t seed, uint32_t stream,
                                        uint32_t step) {
  return detail::apply_drop_connect_mask(x, detail::keep_probability("drop_connect_forward", rate), seed,
                                         stream, step);
}
inline Tensor<Cpu> drop_connect_backward(const Tensor<Cpu>& dy, float rate, uint64_t seed, uint32_t stream,
                                         uint32_t step) {
  return detail::apply_drop_connect_mask(dy, detail::keep_probability("drop_connect_backward", rate), seed,
                                         stream, step);
}

}  // namespace skinnet::cpu
