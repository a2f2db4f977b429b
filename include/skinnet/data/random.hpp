#pragma once
// Random numbers for the data pipeline, all drawn from skinnet's counter-based Philox (core/philox.hpp).
// Each use has its own stream id, and every draw is addressed by (seed, stream, step, index) — e.g.
// augmentation draws use step = epoch and index = position in the epoch * 16 + parameter — so a value
// never depends on which worker thread computes it or in which order: the loader gives the same batches
// with 1 or 8 workers, and a resumed run redraws exactly the same epoch.
#include <cstdint>

#include "skinnet/core/philox.hpp"

namespace skinnet::data_rng {

// Stream ids, distinct from the layer streams (which count up from 0).
enum Stream : uint32_t {
  kSplit = 0xDA7A0001u,    // step = class index: shuffles units before a stratified split
  kEpoch = 0xDA7A0002u,    // step = epoch: the order of samples in an epoch
  kBalance = 0xDA7A0003u,  // step = epoch: class-balanced sampling
  kAugment = 0xDA7A0004u,  // step = epoch: augmentation parameters
  kSynth = 0xDA7A0005u,    // step = class: synthetic images
};

inline float uniform(uint64_t seed, uint32_t stream, uint32_t step, uint64_t index) {
  return philox_uniform(seed, stream, step, index);
}
// Uniform in [lo, hi).
inline float uniform(uint64_t seed, uint32_t stream, uint32_t step, uint64_t index, float lo, float hi) {
  return lo + (hi - lo) * philox_uniform(seed, stream, step, index);
}
// Uniform integer in [0, n), n > 0. Uses 64 random bits so the modulo bias is below 2^-32 for n < 2^32.
inline uint64_t below(uint64_t seed, uint32_t stream, uint32_t step, uint64_t index, uint64_t n) {
  const uint64_t hi = philox_bits(seed, stream, step, 2 * index);
  const uint64_t lo = philox_bits(seed, stream, step, 2 * index + 1);
  return ((hi << 32) | lo) % n;
}

}  // namespace skinnet::data_rng
