#pragma once
// The CUDA memory API over host memory.
//
// Every cudaMalloc is its own malloc of exactly the requested size (no caching, no rounding), so
// AddressSanitizer sees each buffer's bounds and reports a kernel that writes past its end. New
// memory is filled with the poison pattern (a NaN as float or double, INT_MAX as int), so results that
// depend on never-written memory show up. The emulator also keeps a table of live allocations:
// cudaMemcpy/cudaMemset check that the device side of a copy lies inside one allocation (a GPU would
// fault or corrupt another buffer), and cudaFree rejects pointers it never handed out.
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <map>
#include <mutex>

#include "skinnet/cuda/emulator/block.hpp"
#include "skinnet/cuda/emulator/error.hpp"
#include "skinnet/cuda/emulator/stream.hpp"

enum cudaMemcpyKind : int {
  cudaMemcpyHostToHost = 0,
  cudaMemcpyHostToDevice = 1,
  cudaMemcpyDeviceToHost = 2,
  cudaMemcpyDeviceToDevice = 3,
  cudaMemcpyDefault = 4,
};

namespace skinnet::emu::detail {

// The emulated device's memory size: what cudaMemGetInfo and cudaDeviceProp report.
inline constexpr std::size_t kDeviceMemoryBytes = std::size_t(16) << 30;

class Allocations {
 public:
  static Allocations& instance() {
    static Allocations a;
    return a;
  }
  void add(void* p, std::size_t n) {
    std::lock_guard lock(m_);
    live_[static_cast<const char*>(p)] = n;
    bytes_ += n;
  }
  // False if p was not returned by cudaMalloc (or was already freed).
  bool remove(void* p) {
    std::lock_guard lock(m_);
    auto it = live_.find(static_cast<const char*>(p));
    if (it == live_.end()) return false;
    bytes_ -= it->second;
    live_.erase(it);
    return true;
  }
  // True if [p, p+n) lies inside one live allocation.
  bool contains(const void* p, std::size_t n) const {
    std::lock_guard lock(m_);
    const char* c = static_cast<const char*>(p);
    auto it = live_.upper_bound(c);
    if (it == live_.begin()) return false;
    --it;
    return c >= it->first && c + n <= it->first + it->second;
  }
  bool is_device(const void* p) const { return contains(p, 1); }
  std::size_t bytes_in_use() const {
    std::lock_guard lock(m_);
    return bytes_;
  }

 private:
  mutable std::mutex m_;
  std::map<const char*, std::size_t> live_;
  std::size_t bytes_ = 0;
};

// Checks the device side(s) of a copy; returns cudaSuccess or the error to report.
inline cudaError_t check_copy(void* dst, const void* src, std::size_t n, cudaMemcpyKind kind) {
  if (n == 0) return cudaSuccess;
  if (!dst || !src) return cudaErrorInvalidValue;
  const Allocations& a = Allocations::instance();
  const bool dst_device = kind == cudaMemcpyHostToDevice || kind == cudaMemcpyDeviceToDevice;
  const bool src_device = kind == cudaMemcpyDeviceToHost || kind == cudaMemcpyDeviceToDevice;
  switch (kind) {
    case cudaMemcpyHostToHost:
    case cudaMemcpyHostToDevice:
    case cudaMemcpyDeviceToHost:
    case cudaMemcpyDeviceToDevice:
      break;
    case cudaMemcpyDefault:
      // Unified addressing: the direction follows from the pointers; device ranges are still checked
      // if they start inside an allocation.
      if (a.is_device(dst) && !a.contains(dst, n)) return cudaErrorInvalidValue;
      if (a.is_device(src) && !a.contains(src, n)) return cudaErrorInvalidValue;
      return cudaSuccess;
    default:
      return cudaErrorInvalidMemcpyDirection;
  }
  if (dst_device && !a.contains(dst, n)) return cudaErrorInvalidValue;
  if (src_device && !a.contains(src, n)) return cudaErrorInvalidValue;
  return cudaSuccess;
}

}  // namespace skinnet::emu::detail

inline cudaError_t cudaMalloc(void** ptr, std::size_t bytes) {
  using namespace skinnet::emu::detail;
  if (!ptr) return fail(cudaErrorInvalidValue);
  *ptr = nullptr;
  if (bytes == 0) return cudaSuccess;  // as CUDA: a null pointer, no error
  if (Allocations::instance().bytes_in_use() + bytes > kDeviceMemoryBytes) return fail(cudaErrorMemoryAllocation);
  void* p = nullptr;
  if (::posix_memalign(&p, 256, bytes) != 0) return fail(cudaErrorMemoryAllocation);  // cudaMalloc aligns to 256
  poison(p, bytes);
  Allocations::instance().add(p, bytes);
  *ptr = p;
  return cudaSuccess;
}
template <class T>
inline cudaError_t cudaMalloc(T** ptr, std::size_t bytes) {
  return cudaMalloc(reinterpret_cast<void**>(ptr), bytes);
}

inline cudaError_t cudaFree(void* p) {
  using namespace skinnet::emu::detail;
  if (!p) return cudaSuccess;
  if (!Allocations::instance().remove(p)) return fail(cudaErrorInvalidDevicePointer);
  std::free(p);
  return cudaSuccess;
}

// Pinned host memory: ordinary host memory here.
inline cudaError_t cudaMallocHost(void** ptr, std::size_t bytes) {
  if (!ptr) return skinnet::emu::detail::fail(cudaErrorInvalidValue);
  *ptr = bytes ? std::malloc(bytes) : nullptr;
  return (bytes && !*ptr) ? skinnet::emu::detail::fail(cudaErrorMemoryAllocation) : cudaSuccess;
}
inline cudaError_t cudaFreeHost(void* p) {
  std::free(p);
  return cudaSuccess;
}

inline cudaError_t cudaMemcpy(void* dst, const void* src, std::size_t n, cudaMemcpyKind kind) {
  using namespace skinnet::emu::detail;
  const cudaError_t e = check_copy(dst, src, n, kind);
  if (e != cudaSuccess) return fail(e);
  if (n) std::memmove(dst, src, n);
  return cudaSuccess;
}
inline cudaError_t cudaMemcpyAsync(void* dst, const void* src, std::size_t n, cudaMemcpyKind kind,
                                   cudaStream_t stream = nullptr) {
  if (!skinnet::emu::detail::valid_stream(stream)) return skinnet::emu::detail::fail(cudaErrorInvalidResourceHandle);
  return cudaMemcpy(dst, src, n, kind);  // emulated work completes synchronously
}

inline cudaError_t cudaMemset(void* dst, int value, std::size_t n) {
  using namespace skinnet::emu::detail;
  if (n == 0) return cudaSuccess;
  if (!Allocations::instance().contains(dst, n)) return fail(cudaErrorInvalidValue);
  std::memset(dst, value, n);
  return cudaSuccess;
}
inline cudaError_t cudaMemsetAsync(void* dst, int value, std::size_t n, cudaStream_t stream = nullptr) {
  if (!skinnet::emu::detail::valid_stream(stream)) return skinnet::emu::detail::fail(cudaErrorInvalidResourceHandle);
  return cudaMemset(dst, value, n);
}

inline cudaError_t cudaMemGetInfo(std::size_t* free_bytes, std::size_t* total_bytes) {
  using namespace skinnet::emu::detail;
  if (!free_bytes || !total_bytes) return fail(cudaErrorInvalidValue);
  *total_bytes = kDeviceMemoryBytes;
  *free_bytes = kDeviceMemoryBytes - Allocations::instance().bytes_in_use();
  return cudaSuccess;
}
