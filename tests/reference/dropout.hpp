#pragma once
// Reference dropout and drop-connect masks. The random stream itself is part of skinnet's
// specification (DESIGN.md §8), so the reference draws its uniforms one element at a time from
// skinnet::philox_uniform — the generator validated against the Random123 known-answer vectors in
// test_core — and applies the documented rule: keep when u < keep, keep = 1 - rate (in float, as the
// backends compare), scale kept values by 1 / keep.
#include <cstdint>
#include <vector>

#include "skinnet/core/philox.hpp"

namespace skinnet::ref {

// mask[i] = 1/keep for kept elements, 0 for dropped ones.
inline std::vector<double> dropout_mask(int64_t n, float rate, uint64_t seed, uint32_t stream, uint32_t step) {
  const float keep = 1.0f - rate;
  std::vector<double> m(n);
  for (int64_t i = 0; i < n; ++i)
    m[i] = skinnet::philox_uniform(seed, stream, step, static_cast<uint64_t>(i)) < keep ? 1.0 / keep : 0.0;
  return m;
}

// Per-sample mask (one entry per sample), for drop-connect.
inline std::vector<double> drop_connect_mask(int64_t samples, float rate, uint64_t seed, uint32_t stream,
                                             uint32_t step) {
  return dropout_mask(samples, rate, seed, stream, step);
}

}  // namespace skinnet::ref
