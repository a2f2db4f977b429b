#pragma once
// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC'11), the one
// counter-based generator of skinnet. It is a pure function of (counter, key), so CPU code and CUDA
// kernels produce the same numbers for the same element without sharing any state, and a resumed run
// regenerates exactly the masks it would have drawn.
//
// Layout used by every consumer (DESIGN.md §8): key = the 64-bit seed; counter = {stream id of the
// layer, training step, element index / 4, 0}; element i takes word i % 4 of its block.
#include <cstdint>

#include "skinnet/core/hd.hpp"

namespace skinnet {

struct Philox4x32 {
  uint32_t v[4];
};

namespace philox_detail {
constexpr uint32_t kMul0 = 0xD2511F53u;
constexpr uint32_t kMul1 = 0xCD9E8D57u;
constexpr uint32_t kWeyl0 = 0x9E3779B9u;  // golden ratio
constexpr uint32_t kWeyl1 = 0xBB67AE85u;  // sqrt(3) - 1

SKN_HD_INLINE void mulhilo(uint32_t a, uint32_t b, uint32_t& hi, uint32_t& lo) {
  const uint64_t p = static_cast<uint64_t>(a) * b;
  hi = static_cast<uint32_t>(p >> 32);
  lo = static_cast<uint32_t>(p);
}
}  // namespace philox_detail

// One Philox4x32 block with 10 rounds.
SKN_HD_INLINE Philox4x32 philox4x32_10(Philox4x32 ctr, uint32_t key0, uint32_t key1) {
  using namespace philox_detail;
  for (int round = 0; round < 10; ++round) {
    if (round > 0) {
      key0 += kWeyl0;
      key1 += kWeyl1;
    }
    uint32_t hi0, lo0, hi1, lo1;
    mulhilo(kMul0, ctr.v[0], hi0, lo0);
    mulhilo(kMul1, ctr.v[2], hi1, lo1);
    ctr = Philox4x32{{hi1 ^ ctr.v[1] ^ key0, lo1, hi0 ^ ctr.v[3] ^ key1, lo0}};
  }
  return ctr;
}

// The 32-bit word for element `index` of stream `stream` at training step `step`.
SKN_HD_INLINE uint32_t philox_bits(uint64_t seed, uint32_t stream, uint32_t step, uint64_t index) {
  const Philox4x32 ctr{{stream, step, static_cast<uint32_t>(index >> 2), static_cast<uint32_t>(index >> 34)}};
  const Philox4x32 out =
      philox4x32_10(ctr, static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32));
  return out.v[index & 3u];
}

// Uniform float in [0, 1) with 24 random bits (exactly representable, identical on every device).
SKN_HD_INLINE float philox_uniform(uint64_t seed, uint32_t stream, uint32_t step, uint64_t index) {
  return static_cast<float>(philox_bits(seed, stream, step, index) >> 8) * (1.0f / 16777216.0f);
}

}  // namespace skinnet
