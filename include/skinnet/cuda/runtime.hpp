#pragma once
// The CUDA runtime as skinnet's kernels and launchers see it, under either compiler:
//   - nvcc (__CUDACC__): the real <cuda_runtime.h>;
//   - g++ with SKINNET_CUDA_EMULATION (CMake target skinnet::emulator): skinnet's CPU emulator, which
//     runs the same kernel sources with fibers as CUDA threads (docs/emulator.md).
// On top of both it defines the three macros kernels and launchers use:
//   SKN_CUDA_CHECK(call)        throws skinnet::CudaError naming the call, the error, file and line;
//   SKN_LAUNCH(kernel, grid, block, shmem, stream, args...)
//                               kernel<<<grid, block, shmem, stream>>>(args...) plus an error check
//                               (the emulator validates the launch and runs it synchronously);
//   SKN_DYNAMIC_SHARED(type, name)
//                               inside a kernel: `type* name` pointing at the dynamic shared memory.
// A kernel that is a template with several arguments must be named through a variable or alias in
// SKN_LAUNCH (the preprocessor splits `k<64, 64>` at the comma):
//   auto* kernel = &gemm_kernel<64, 64>;  SKN_LAUNCH(kernel, grid, block, 0, stream, a, b, c);
#include <string>

#include "skinnet/core/error.hpp"

#if defined(__CUDACC__)
#include <cuda_runtime.h>

// One byte array for every kernel (a typed `extern __shared__ T name[]` clashes between template
// instantiations that use different types), aligned for float4/double2 access.
#define SKN_DYNAMIC_SHARED(type, name)                                \
  extern __shared__ __align__(16) unsigned char skn_dynamic_smem_[]; \
  type* name = reinterpret_cast<type*>(skn_dynamic_smem_)

#define SKN_LAUNCH(kernel, grid, block, shmem, stream, ...)             \
  do {                                                                  \
    kernel<<<(grid), (block), (shmem), (stream)>>>(__VA_ARGS__);        \
    SKN_CUDA_CHECK_NAMED(cudaGetLastError(), "launch of " #kernel);     \
  } while (0)

#elif defined(SKINNET_CUDA_EMULATION)
#include "skinnet/cuda/emulator/emulator.hpp"

#define SKN_LAUNCH(kernel, grid, block, shmem, stream, ...) \
  SKN_EMU_LAUNCH(kernel, grid, block, shmem, stream __VA_OPT__(, ) __VA_ARGS__)

#else
#error "skinnet/cuda/runtime.hpp needs a CUDA compiler or the emulator: compile with nvcc, or with g++ and -DSKINNET_CUDA_EMULATION (link the CMake target skinnet::emulator, which also links Boost.Context)."
#endif

namespace skinnet::cuda::detail {
[[noreturn]] inline void throw_cuda_error(cudaError_t e, const char* what, const char* file, int line) {
  // The error has been reported by this exception: clear it so the next launch check does not see it.
  (void)cudaGetLastError();
  throw CudaError(::skinnet::detail::concat("CUDA error in ", what, " at ", file, ":", line, ": ",
                                            cudaGetErrorName(e), " (", cudaGetErrorString(e), ")"));
}
}  // namespace skinnet::cuda::detail

#define SKN_CUDA_CHECK_NAMED(call, what)                                                   \
  do {                                                                                     \
    const cudaError_t skn_cuda_status_ = (call);                                           \
    if (skn_cuda_status_ != cudaSuccess)                                                   \
      ::skinnet::cuda::detail::throw_cuda_error(skn_cuda_status_, what, __FILE__, __LINE__); \
  } while (0)
#define SKN_CUDA_CHECK(call) SKN_CUDA_CHECK_NAMED(call, #call)
