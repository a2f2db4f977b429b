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
#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <new>
#include <string>

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

template <>
struct DeviceMemory<Cpu> {
  // 64-byte alignment: one cache line, and the width of an AVX-512 vector.
  static constexpr std::size_t kAlign = 64;

  static void* allocate(std::size_t bytes) {
    if (bytes == 0) return nullptr;
    const std::size_t rounded = (bytes + kAlign - 1) / kAlign * kAlign;
    void* p = std::aligned_alloc(kAlign, rounded);
    if (!p) throw Error(detail::concat("cpu: out of memory allocating ", bytes, " bytes"));
    return p;
  }
  static void release(void* p, std::size_t /*bytes*/) { std::free(p); }
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
