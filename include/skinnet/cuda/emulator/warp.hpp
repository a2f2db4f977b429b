#pragma once
// Warp intrinsics: shuffles, votes and __syncwarp.
//
// Each is a warp-level barrier among the lanes named in `mask` (CUDA's *_sync semantics since Volta):
// a lane deposits its value and waits until every existing lane of the mask has arrived at the same
// intrinsic, then all read their results (block.hpp, BlockRunner::warp_collective). Shuffle sources
// follow PTX shfl.sync exactly, including `width` segments and the up/down boundaries (a lane whose
// source falls outside its segment gets its own value). Reading a lane that is not in the mask is
// undefined on a GPU; here it yields the NaN/INT_MAX poison pattern so such bugs show in results.
// Lanes past the end of a partial last warp do not exist and are ignored in masks.
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "skinnet/cuda/emulator/block.hpp"

namespace skinnet::emu::detail {

template <class T>
inline T shuffle(WarpOp op, unsigned mask, T var, int param, int width, Site site) {
  static_assert(std::is_trivially_copyable_v<T> && sizeof(T) <= 8,
                "warp shuffles move 32- and 64-bit values (int, unsigned, long long, float, double, ...)");
  if (width < 1 || width > 32 || (width & (width - 1)) != 0)
    throw CudaError(concat(name_of(op), " at ", site.str(), ": width ", width,
                           " must be a power of two between 1 and 32"));
  std::uint64_t bits = 0;
  std::memcpy(&bits, &var, sizeof(T));
  const std::uint64_t out =
      BlockRunner::this_thread().warp_collective(op, mask, bits, param, width, site);
  T result;
  std::memcpy(&result, &out, sizeof(T));
  return result;
}

inline unsigned vote(WarpOp op, unsigned mask, int pred, Site site) {
  return static_cast<unsigned>(
      BlockRunner::this_thread().warp_collective(op, mask, pred != 0, 0, 32, site));
}

}  // namespace skinnet::emu::detail

// Every intrinsic takes a defaulted last argument recording its caller's location, for error messages.
#define SKN_EMU_SITE ::skinnet::emu::detail::Site site = ::skinnet::emu::detail::Site::current()

template <class T>
inline T __shfl_sync(unsigned mask, T var, int src_lane, int width = warpSize, SKN_EMU_SITE) {
  using namespace skinnet::emu::detail;
  return shuffle(WarpOp::ShflIdx, mask, var, src_lane, width, site);
}
template <class T>
inline T __shfl_up_sync(unsigned mask, T var, unsigned delta, int width = warpSize, SKN_EMU_SITE) {
  using namespace skinnet::emu::detail;
  return shuffle(WarpOp::ShflUp, mask, var, static_cast<int>(delta), width, site);
}
template <class T>
inline T __shfl_down_sync(unsigned mask, T var, unsigned delta, int width = warpSize, SKN_EMU_SITE) {
  using namespace skinnet::emu::detail;
  return shuffle(WarpOp::ShflDown, mask, var, static_cast<int>(delta), width, site);
}
template <class T>
inline T __shfl_xor_sync(unsigned mask, T var, int lane_mask, int width = warpSize, SKN_EMU_SITE) {
  using namespace skinnet::emu::detail;
  return shuffle(WarpOp::ShflXor, mask, var, lane_mask, width, site);
}

inline unsigned __ballot_sync(unsigned mask, int pred, SKN_EMU_SITE) {
  using namespace skinnet::emu::detail;
  return vote(WarpOp::Ballot, mask, pred, site);
}
inline int __any_sync(unsigned mask, int pred, SKN_EMU_SITE) {
  using namespace skinnet::emu::detail;
  return static_cast<int>(vote(WarpOp::Any, mask, pred, site));
}
inline int __all_sync(unsigned mask, int pred, SKN_EMU_SITE) {
  using namespace skinnet::emu::detail;
  return static_cast<int>(vote(WarpOp::All, mask, pred, site));
}
inline void __syncwarp(unsigned mask = 0xFFFFFFFFu, SKN_EMU_SITE) {
  using namespace skinnet::emu::detail;
  vote(WarpOp::SyncWarp, mask, 0, site);
}
inline unsigned __activemask() { return skinnet::emu::detail::BlockRunner::this_thread().active_mask(); }
#undef SKN_EMU_SITE
