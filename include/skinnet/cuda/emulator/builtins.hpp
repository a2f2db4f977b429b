#pragma once
// The CUDA language as the emulator spells it in plain C++: qualifiers, the built-in index variables,
// __shared__, dynamic shared memory and block barriers.
//
// - __global__ becomes `inline` (a kernel is an ordinary function, and kernels live in headers);
//   __device__/__host__/__constant__ vanish; __forceinline__ keeps its meaning.
// - __shared__ becomes `thread_local`: a __shared__ array declared in a kernel body is a static
//   object per OS thread, shared by the fibers of the block running on that thread (a block never
//   migrates). Like real shared memory it is not reset between blocks; unlike it, it must not have a
//   constructor.
// - threadIdx / blockIdx / blockDim / gridDim read the running emulated thread and block.
// - __syncthreads() & co. are block barriers that also record their call site, so threads reaching
//   different barriers are reported (see block.hpp).
#include <atomic>

#include "skinnet/cuda/emulator/block.hpp"

#define __global__ inline
#define __device__
#define __host__
#define __constant__
#define __managed__
#define __forceinline__ inline __attribute__((always_inline))
#define __align__(n) __attribute__((aligned(n)))
#define __launch_bounds__(...)
#define __shared__ thread_local

namespace skinnet::emu::detail {
inline const uint3& thread_idx() { return current_thread("threadIdx").idx; }
inline const uint3& block_idx() { return tl_block.block_idx; }
inline const dim3& block_dim() { return tl_block.block_dim; }
inline const dim3& grid_dim() { return tl_block.grid_dim; }
inline unsigned char* dynamic_shared() {
  if (!tl_thread) outside_kernel("dynamic shared memory");
  return tl_block.dynamic_smem;
}
inline int block_barrier(BarrierOp op, int pred, Site site) {
  return BlockRunner::this_thread().barrier(op, pred, site);
}
}  // namespace skinnet::emu::detail

#define threadIdx (::skinnet::emu::detail::thread_idx())
#define blockIdx (::skinnet::emu::detail::block_idx())
#define blockDim (::skinnet::emu::detail::block_dim())
#define gridDim (::skinnet::emu::detail::grid_dim())

inline constexpr int warpSize = 32;

// SKN_DYNAMIC_SHARED(float, tile) declares `float* tile` pointing at the block's dynamic shared memory
// (the launch's `shmem` bytes, NaN-poisoned, sized exactly so ASan sees overruns).
#define SKN_DYNAMIC_SHARED(type, name) type* name = reinterpret_cast<type*>(::skinnet::emu::detail::dynamic_shared())

#define SKN_EMU_SITE ::skinnet::emu::detail::Site site = ::skinnet::emu::detail::Site::current()
inline void __syncthreads(SKN_EMU_SITE) {
  skinnet::emu::detail::block_barrier(skinnet::emu::detail::BarrierOp::Sync, 0, site);
}
inline int __syncthreads_count(int pred, SKN_EMU_SITE) {
  return skinnet::emu::detail::block_barrier(skinnet::emu::detail::BarrierOp::Count, pred, site);
}
inline int __syncthreads_and(int pred, SKN_EMU_SITE) {
  return skinnet::emu::detail::block_barrier(skinnet::emu::detail::BarrierOp::And, pred, site);
}
inline int __syncthreads_or(int pred, SKN_EMU_SITE) {
  return skinnet::emu::detail::block_barrier(skinnet::emu::detail::BarrierOp::Or, pred, site);
}
#undef SKN_EMU_SITE

// Memory fences. Emulated threads of a block share one OS thread, so only cross-block visibility
// (different workers) needs a real fence.
inline void __threadfence() { std::atomic_thread_fence(std::memory_order_seq_cst); }
inline void __threadfence_block() { std::atomic_signal_fence(std::memory_order_seq_cst); }
inline void __threadfence_system() { std::atomic_thread_fence(std::memory_order_seq_cst); }

// Read-only cache load: an ordinary load here.
template <class T>
inline T __ldg(const T* p) {
  return *p;
}
