#pragma once
// Devices are tags. Everything device-specific about memory lives in DeviceMemory<D>, specialised
// for Cpu here and for Cuda in skinnet/cuda/device_memory.hpp (include skinnet/cuda.hpp to use
// Tensor<Cuda>).
//
// How a layer reaches the right backend: each op is a pair of functions with identical signatures,
// skinnet::cpu::op(const Tensor<Cpu>&, ...) and skinnet::cuda::op(const Tensor<Cuda>&, ...). The tag
// Cpu *is* skinnet::cpu::Device (and Cuda is skinnet::cuda::Device), so a layer template that calls
// `op(x, ...)` unqualified on a Tensor<D> finds the backend through argument-dependent lookup, at
// instantiation time: CPU-only programs never need the CUDA headers, and no central table of ops has
// to be kept in sync.
#include <algorithm>
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <list>
#include <mutex>
#include <unordered_map>
#include <new>
#include <string>
#include <vector>

#include <unistd.h>

#include "skinnet/core/error.hpp"

namespace skinnet {

namespace cpu {
struct Device {
  static constexpr const char* name = "cpu";
};
}  // namespace cpu
namespace cuda {
struct Device {
  static constexpr const char* name = "cuda";
};
}  // namespace cuda
using Cpu = cpu::Device;
using Cuda = cuda::Device;

template <class D>
struct DeviceMemory;  // allocate, release, copy, zero, to/from host

namespace detail {

// Keeps freed large host blocks for reuse. Why: glibc serves blocks above its mmap threshold with a
// fresh mmap and returns them with munmap on free, so every new activation tensor of a training step
// pays a page fault per 4 KiB on first write — measured 3x slower on a depthwise convolution. A
// training step allocates the same sizes every iteration, so exact-size reuse hits almost always.
// When the idle blocks would exceed the limit, the least recently freed ones are returned to the
// system: sizes a program stopped using (another model, another batch size, the last short batch
// of an epoch) age out instead of filling the cache for good. (Without eviction, an Xception
// training step run after SE-ResNet-50 in one process took 3.2 s instead of 1.6-1.8 s: every
// allocation missed the full cache and page-faulted.)
// Bypassed under AddressSanitizer, which must see every buffer's real bounds.
class CpuBlockCache {
 public:
  static constexpr std::size_t kMinBytes = std::size_t{1} << 20;     // smaller blocks: malloc is fine
  // The default limit on idle bytes: a quarter of the machine's memory, at least 2 GiB, or
  // SKINNET_CPU_CACHE_MB. It must hold a training step's working set: a limit below it evicts,
  // every step, blocks the next step needs again (an SE-ResNet-50 step at batch 16, 224x224: peak RSS 3.0 GB).
  static std::size_t default_limit() {
    if (const char* env = std::getenv("SKINNET_CPU_CACHE_MB"); env && *env)
      return static_cast<std::size_t>(std::strtoull(env, nullptr, 10)) << 20;
    const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    return limit_for_memory(pages > 0 && page > 0 ? static_cast<std::size_t>(pages) * page : 0);
  }
  static std::size_t limit_for_memory(std::size_t physical_bytes) {
    return std::max(physical_bytes / 4, std::size_t{2} << 30);
  }

  explicit CpuBlockCache(std::size_t limit = default_limit()) : limit_(limit) {}
  CpuBlockCache(const CpuBlockCache&) = delete;
  CpuBlockCache& operator=(const CpuBlockCache&) = delete;

  static CpuBlockCache& instance() {
    static CpuBlockCache cache;
    return cache;
  }
  static bool enabled() {
#if defined(__SANITIZE_ADDRESS__)
    return false;
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
    return false;
#else
    return true;
#endif
#else
    return true;
#endif
  }
  void* take(std::size_t bytes) {
    std::lock_guard<std::mutex> lock(m_);
    auto it = by_size_.find(bytes);
    if (it == by_size_.end()) return nullptr;
    void* p = it->second->p;
    idle_.erase(it->second);
    by_size_.erase(it);
    cached_ -= bytes;
    return p;
  }
  // Keeps p (from std::aligned_alloc / malloc) for reuse, freeing the least recently given blocks
  // beyond the limit. Returns false when p alone is over the limit (the caller frees it).
  bool give(void* p, std::size_t bytes) {
    if (bytes > limit_) return false;
    std::vector<void*> evicted;
    {
      std::lock_guard<std::mutex> lock(m_);
      idle_.push_back({p, bytes});
      by_size_.emplace(bytes, std::prev(idle_.end()));
      cached_ += bytes;
      while (cached_ > limit_) {
        const Block old = idle_.front();
        auto range = by_size_.equal_range(old.bytes);
        for (auto it = range.first; it != range.second; ++it)
          if (it->second == idle_.begin()) {
            by_size_.erase(it);
            break;
          }
        idle_.pop_front();
        cached_ -= old.bytes;
        evicted.push_back(old.p);
      }
    }
    for (void* q : evicted) std::free(q);  // outside the lock: munmap can take a while
    return true;
  }
  std::size_t cached_bytes() {
    std::lock_guard<std::mutex> lock(m_);
    return cached_;
  }
  // Returns every idle block to the system (e.g. between training and a memory-hungry phase).
  void release_all() {
    std::lock_guard<std::mutex> lock(m_);
    for (const Block& b : idle_) std::free(b.p);
    idle_.clear();
    by_size_.clear();
    cached_ = 0;
  }
  ~CpuBlockCache() { release_all(); }

 private:
  struct Block {
    void* p;
    std::size_t bytes;
  };
  std::size_t limit_;
  std::mutex m_;
  std::list<Block> idle_;  // least recently freed first
  std::unordered_multimap<std::size_t, std::list<Block>::iterator> by_size_;
  std::size_t cached_ = 0;
};

}  // namespace detail

template <>
struct DeviceMemory<Cpu> {
  // 64-byte alignment: one cache line, and the width of an AVX-512 vector.
  static constexpr std::size_t kAlign = 64;

  static std::size_t rounded(std::size_t bytes) { return (bytes + kAlign - 1) / kAlign * kAlign; }

  static void* allocate(std::size_t bytes) {
    if (bytes == 0) return nullptr;
    const std::size_t size = rounded(bytes);
    const bool cacheable = size >= detail::CpuBlockCache::kMinBytes && detail::CpuBlockCache::enabled();
    if (cacheable)
      if (void* p = detail::CpuBlockCache::instance().take(size)) return p;
    void* p = std::aligned_alloc(kAlign, size);
    if (!p) throw Error(detail::concat("cpu: out of memory allocating ", bytes, " bytes"));
    return p;
  }
  static void release(void* p, std::size_t bytes) {
    if (!p) return;
    const std::size_t size = rounded(bytes);
    if (size >= detail::CpuBlockCache::kMinBytes && detail::CpuBlockCache::enabled() &&
        detail::CpuBlockCache::instance().give(p, size))
      return;
    std::free(p);
  }
  static void copy(void* dst, const void* src, std::size_t bytes) {
    if (bytes) std::memcpy(dst, src, bytes);
  }
  static void zero(void* dst, std::size_t bytes) {
    if (bytes) std::memset(dst, 0, bytes);
  }
  static void to_host(void* host_dst, const void* src, std::size_t bytes) { copy(host_dst, src, bytes); }
  static void from_host(void* dst, const void* host_src, std::size_t bytes) { copy(dst, host_src, bytes); }
};

}  // namespace skinnet
