#pragma once
// The emulated device: its limits (the ones a real GPU enforces at launch) and the device API that
// reports them. The emulator mimics the stricter of the architectures skinnet targets (sm_80 and
// sm_90), so a launch configuration accepted here is accepted by both.
#include <cstddef>
#include <cstring>
#include <thread>

#include "skinnet/cuda/emulator/config.hpp"
#include "skinnet/cuda/emulator/error.hpp"

namespace skinnet::emu::limits {
inline constexpr unsigned kMaxThreadsPerBlock = 1024;
inline constexpr unsigned kMaxBlockDim[3] = {1024, 1024, 64};
inline constexpr unsigned kMaxGridDim[3] = {2147483647u, 65535, 65535};
inline constexpr std::size_t kDefaultDynamicSmem = 48 * 1024;  // without cudaFuncSetAttribute
inline constexpr std::size_t kMaxDynamicSmemOptin = 166912;     // 163 KiB: sm_80's opt-in maximum
inline constexpr std::size_t kSmemPerMultiprocessor = 167936;   // 164 KiB on sm_80
inline constexpr int kRegistersPerMultiprocessor = 65536;
inline constexpr int kWarpSize = 32;
}  // namespace skinnet::emu::limits

namespace skinnet::emu::detail {
// OS threads that run blocks: SKINNET_EMU_WORKERS, else the hardware threads (at most 16).
inline unsigned worker_count() {
  static const unsigned n = [] {
    unsigned hw = std::thread::hardware_concurrency();
    if (hw == 0) hw = 1;
    if (hw > 16) hw = 16;
    return static_cast<unsigned>(env_size("SKINNET_EMU_WORKERS", hw));
  }();
  return n;
}
}  // namespace skinnet::emu::detail

// The subset of CUDA's cudaDeviceProp that kernels and launchers use (fields present in CUDA 12 and 13).
struct cudaDeviceProp {
  char name[256];
  std::size_t totalGlobalMem;
  std::size_t sharedMemPerBlock;
  int regsPerBlock;
  int warpSize;
  int maxThreadsPerBlock;
  int maxThreadsDim[3];
  int maxGridSize[3];
  std::size_t totalConstMem;
  int major;
  int minor;
  int multiProcessorCount;
  std::size_t sharedMemPerMultiprocessor;
  int regsPerMultiprocessor;
  int maxThreadsPerMultiProcessor;
  int maxBlocksPerMultiProcessor;
  std::size_t sharedMemPerBlockOptin;
  int l2CacheSize;
  int concurrentKernels;
  int unifiedAddressing;
};

inline cudaError_t cudaGetDeviceCount(int* count) {
  if (!count) return skinnet::emu::detail::fail(cudaErrorInvalidValue);
  *count = 1;  // one emulated device
  return cudaSuccess;
}
inline cudaError_t cudaSetDevice(int device) {
  return device == 0 ? cudaSuccess : skinnet::emu::detail::fail(cudaErrorInvalidDevice);
}
inline cudaError_t cudaGetDevice(int* device) {
  if (!device) return skinnet::emu::detail::fail(cudaErrorInvalidValue);
  *device = 0;
  return cudaSuccess;
}

inline cudaError_t cudaGetDeviceProperties(cudaDeviceProp* p, int device) {
  namespace L = skinnet::emu::limits;
  if (!p) return skinnet::emu::detail::fail(cudaErrorInvalidValue);
  if (device != 0) return skinnet::emu::detail::fail(cudaErrorInvalidDevice);
  std::memset(p, 0, sizeof *p);
  std::strncpy(p->name, "skinnet CUDA emulator (CPU, sm_80 limits)", sizeof p->name - 1);
  p->totalGlobalMem = std::size_t(16) << 30;
  p->sharedMemPerBlock = L::kDefaultDynamicSmem;
  p->regsPerBlock = L::kRegistersPerMultiprocessor;
  p->warpSize = L::kWarpSize;
  p->maxThreadsPerBlock = static_cast<int>(L::kMaxThreadsPerBlock);
  for (int i = 0; i < 3; ++i) {
    p->maxThreadsDim[i] = static_cast<int>(L::kMaxBlockDim[i]);
    p->maxGridSize[i] = static_cast<int>(L::kMaxGridDim[i]);
  }
  p->totalConstMem = 64 * 1024;
  p->major = 8;
  p->minor = 0;
  p->multiProcessorCount = static_cast<int>(skinnet::emu::detail::worker_count());
  p->sharedMemPerMultiprocessor = L::kSmemPerMultiprocessor;
  p->regsPerMultiprocessor = L::kRegistersPerMultiprocessor;
  p->maxThreadsPerMultiProcessor = 2048;
  p->maxBlocksPerMultiProcessor = 32;
  p->sharedMemPerBlockOptin = L::kMaxDynamicSmemOptin;
  p->l2CacheSize = 40 << 20;
  p->concurrentKernels = 1;
  p->unifiedAddressing = 1;
  return cudaSuccess;
}
