#pragma once
// A caching allocator for device memory: freed blocks are kept in size bins and handed out again,
// because cudaMalloc/cudaFree synchronise the device and cost tens of microseconds each, and a
// training step allocates and frees the same activation sizes every iteration.
//
// Sizes are rounded up (512 B granules below 1 MiB, 2 MiB granules above) so that blocks of similar
// sizes share a bin. When cudaMalloc runs out of memory, the cache is emptied and the allocation
// retried once before reporting the failure with the device's memory figures.
//
// Reuse is immediate: a block released by one tensor may be handed to the next allocation while a
// kernel that used it is still queued. That is safe because skinnet issues all device work in one
// stream order (a later kernel cannot overtake an earlier one that still reads the block).
//
// Under the emulator DeviceMemory<Cuda> bypasses this class (each buffer its own cudaMalloc, so
// AddressSanitizer sees its exact bounds); the class itself still works there and is tested there.
#include <cstddef>
#include <cstdio>
#include <map>
#include <mutex>
#include <unordered_map>

#include "skinnet/core/error.hpp"
#include "skinnet/cuda/runtime.hpp"

namespace skinnet::cuda {

class CachingAllocator {
 public:
  static CachingAllocator& instance() {
    static CachingAllocator a;
    return a;
  }

  CachingAllocator() = default;
  CachingAllocator(const CachingAllocator&) = delete;
  CachingAllocator& operator=(const CachingAllocator&) = delete;
  ~CachingAllocator() { release_cache(/*report_errors=*/false); }

  static std::size_t rounded_size(std::size_t bytes) {
    constexpr std::size_t kSmall = 512, kLarge = std::size_t(2) << 20, kSmallLimit = std::size_t(1) << 20;
    const std::size_t g = bytes < kSmallLimit ? kSmall : kLarge;
    return (bytes + g - 1) / g * g;
  }

  void* allocate(std::size_t bytes) {
    if (bytes == 0) return nullptr;
    const std::size_t size = rounded_size(bytes);
    std::lock_guard lock(m_);
    if (auto it = free_.find(size); it != free_.end()) {
      void* p = it->second;
      free_.erase(it);
      cached_ -= size;
      in_use_.emplace(p, size);
      in_use_bytes_ += size;
      return p;
    }
    void* p = nullptr;
    cudaError_t e = cudaMalloc(&p, size);
    if (e == cudaErrorMemoryAllocation && !free_.empty()) {
      (void)cudaGetLastError();
      release_cache_locked(true);
      e = cudaMalloc(&p, size);
    }
    if (e != cudaSuccess) {
      (void)cudaGetLastError();
      std::size_t free_bytes = 0, total = 0;
      (void)cudaMemGetInfo(&free_bytes, &total);
      (void)cudaGetLastError();
      throw CudaError(::skinnet::detail::concat("cuda: cannot allocate ", bytes, " bytes of device memory (",
                                                cudaGetErrorString(e), "); ", in_use_bytes_,
                                                " bytes in use by skinnet tensors, ", free_bytes, " of ", total,
                                                " bytes free on the device"));
    }
    in_use_.emplace(p, size);
    in_use_bytes_ += size;
    return p;
  }

  // Returns a block to the cache. p must come from allocate().
  void release(void* p) {
    if (!p) return;
    std::lock_guard lock(m_);
    auto it = in_use_.find(p);
    if (it == in_use_.end())
      throw CudaError("cuda: CachingAllocator::release of a pointer it did not allocate (double free?)");
    free_.emplace(it->second, p);
    cached_ += it->second;
    in_use_bytes_ -= it->second;
    in_use_.erase(it);
  }

  // Gives every cached block back to the device (e.g. before handing memory to another library).
  void empty_cache() {
    std::lock_guard lock(m_);
    release_cache_locked(true);
  }

  std::size_t cached_bytes() const {
    std::lock_guard lock(m_);
    return cached_;
  }
  std::size_t in_use_bytes() const {
    std::lock_guard lock(m_);
    return in_use_bytes_;
  }

 private:
  void release_cache(bool report_errors) {
    std::lock_guard lock(m_);
    release_cache_locked(report_errors);
  }
  void release_cache_locked(bool report_errors) {
    for (auto& [size, p] : free_) {
      const cudaError_t e = cudaFree(p);
      // At program exit the CUDA context may already be gone; nothing useful can be done then.
      if (e != cudaSuccess && report_errors)
        std::fprintf(stderr, "skinnet: cudaFree of a cached block failed: %s\n", cudaGetErrorString(e));
    }
    free_.clear();
    cached_ = 0;
  }

  mutable std::mutex m_;
  std::multimap<std::size_t, void*> free_;       // rounded size -> cached block
  std::unordered_map<void*, std::size_t> in_use_;  // block -> rounded size
  std::size_t cached_ = 0, in_use_bytes_ = 0;
};

}  // namespace skinnet::cuda
