#pragma once
// DeviceMemory<Cuda>: how Tensor<Cuda> allocates, copies and frees its buffer (see core/device.hpp).
// With nvcc, buffers come from the caching allocator; under the emulator every buffer is its own
// cudaMalloc (host memory of exactly that size, NaN-poisoned) so AddressSanitizer sees its bounds and
// reads of never-written elements show up as NaN. Copies are synchronous (cudaMemcpy), which orders
// them after every kernel already queued.
#include <cstddef>
#include <cstdio>

#include "skinnet/core/device.hpp"
#include "skinnet/core/error.hpp"
#include "skinnet/cuda/caching_allocator.hpp"
#include "skinnet/cuda/runtime.hpp"

namespace skinnet {

template <>
struct DeviceMemory<Cuda> {
#if defined(SKINNET_CUDA_EMULATION) && !defined(__CUDACC__)
  static constexpr bool kCaching = false;
#else
  static constexpr bool kCaching = true;
#endif

  static void* allocate(std::size_t bytes) {
    if (bytes == 0) return nullptr;
    if constexpr (kCaching) {
      return cuda::CachingAllocator::instance().allocate(bytes);
    } else {
      void* p = nullptr;
      const cudaError_t e = cudaMalloc(&p, bytes);
      if (e != cudaSuccess) {
        (void)cudaGetLastError();
        throw CudaError(detail::concat("cuda: cannot allocate ", bytes, " bytes of device memory (",
                                       cudaGetErrorString(e), ")"));
      }
      return p;
    }
  }

  // Called from Tensor's destructor: never throws; a failure means a bug, so it is reported loudly.
  static void release(void* p, std::size_t /*bytes*/) noexcept {
    if (!p) return;
    try {
      if constexpr (kCaching) {
        cuda::CachingAllocator::instance().release(p);
      } else {
        SKN_CUDA_CHECK(cudaFree(p));
      }
    } catch (const std::exception& e) {
      std::fprintf(stderr, "skinnet: releasing a Cuda tensor failed: %s\n", e.what());
    }
  }

  static void copy(void* dst, const void* src, std::size_t bytes) {
    if (bytes) SKN_CUDA_CHECK(cudaMemcpy(dst, src, bytes, cudaMemcpyDeviceToDevice));
  }
  static void zero(void* dst, std::size_t bytes) {
    if (bytes) SKN_CUDA_CHECK(cudaMemset(dst, 0, bytes));
  }
  static void to_host(void* host_dst, const void* src, std::size_t bytes) {
    if (bytes) SKN_CUDA_CHECK(cudaMemcpy(host_dst, src, bytes, cudaMemcpyDeviceToHost));
  }
  static void from_host(void* dst, const void* host_src, std::size_t bytes) {
    if (bytes) SKN_CUDA_CHECK(cudaMemcpy(dst, host_src, bytes, cudaMemcpyHostToDevice));
  }
};

}  // namespace skinnet
