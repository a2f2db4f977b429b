#pragma once
// Emulated kernel launches: SKN_LAUNCH(kernel, grid, block, shmem, stream, args...).
//
// A launch is checked against the limits a GPU enforces (threads per block, block and grid extents,
// dynamic shared memory, which needs cudaFuncSetAttribute above 48 KiB) and rejected with a CudaError
// that names the kernel, the launch site and the violated limit. The arguments are converted to the
// kernel's parameter types once, as CUDA copies them to the device; every emulated thread then calls
// the kernel with that copy. The launch returns when every block has finished (emulated launches are
// synchronous), or throws the first block's failure (divergent barrier, exception, ...).
#include <dlfcn.h>

#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

#include "skinnet/core/error.hpp"
#include "skinnet/cuda/emulator/block.hpp"
#include "skinnet/cuda/emulator/limits.hpp"
#include "skinnet/cuda/emulator/stream.hpp"
#include "skinnet/cuda/emulator/thread_order.hpp"
#include "skinnet/cuda/emulator/worker_pool.hpp"

enum cudaFuncAttribute : int {
  cudaFuncAttributeMaxDynamicSharedMemorySize = 8,
  cudaFuncAttributePreferredSharedMemoryCarveout = 9,
};

namespace skinnet::emu::detail {

// Per-kernel attributes set through cudaFuncSetAttribute, keyed by the kernel's address.
class KernelAttributes {
 public:
  static KernelAttributes& instance() {
    static KernelAttributes a;
    return a;
  }
  void set_max_dynamic_smem(const void* kernel, std::size_t bytes) {
    std::lock_guard lock(m_);
    max_dynamic_smem_[kernel] = bytes;
  }
  std::size_t max_dynamic_smem(const void* kernel) const {
    std::lock_guard lock(m_);
    auto it = max_dynamic_smem_.find(kernel);
    return it == max_dynamic_smem_.end() ? limits::kDefaultDynamicSmem : it->second;
  }

 private:
  mutable std::mutex m_;
  std::map<const void*, std::size_t> max_dynamic_smem_;
};

// `limit`: the launch breaks a limit a GPU enforces too (as opposed to one of the emulator's own).
[[noreturn]] inline void reject_launch(const char* kernel, const char* file, int line, const std::string& why,
                                       bool limit = true) {
  throw CudaError(concat("CUDA emulator: cannot launch kernel '", kernel, "' at ", file, ":", line, ": ", why,
                         limit ? " (a GPU rejects this launch with cudaErrorInvalidConfiguration)" : ""));
}

inline void validate_launch(const void* kernel_address, const char* kernel, const char* file, int line, dim3 grid,
                            dim3 block, std::size_t shmem, cudaStream_t stream) {
  const unsigned b[3] = {block.x, block.y, block.z};
  const unsigned g[3] = {grid.x, grid.y, grid.z};
  const char* axis = "xyz";
  for (int i = 0; i < 3; ++i) {
    if (b[i] == 0) reject_launch(kernel, file, line, concat("blockDim.", axis[i], " is 0"));
    if (g[i] == 0) reject_launch(kernel, file, line, concat("gridDim.", axis[i], " is 0"));
    if (b[i] > limits::kMaxBlockDim[i])
      reject_launch(kernel, file, line,
                    concat("blockDim.", axis[i], " = ", b[i], " exceeds the limit of ", limits::kMaxBlockDim[i]));
    if (g[i] > limits::kMaxGridDim[i])
      reject_launch(kernel, file, line,
                    concat("gridDim.", axis[i], " = ", g[i], " exceeds the limit of ", limits::kMaxGridDim[i]));
  }
  const std::uint64_t threads = std::uint64_t(block.x) * block.y * block.z;
  if (threads > limits::kMaxThreadsPerBlock)
    reject_launch(kernel, file, line,
                  concat("block (", block.x, ",", block.y, ",", block.z, ") has ", threads,
                         " threads; a block may have at most ", limits::kMaxThreadsPerBlock));
  const std::size_t smem_limit = KernelAttributes::instance().max_dynamic_smem(kernel_address);
  if (shmem > smem_limit)
    reject_launch(kernel, file, line,
                  concat("it requests ", shmem, " bytes of dynamic shared memory; the limit is ", smem_limit,
                         " bytes",
                         smem_limit == limits::kDefaultDynamicSmem
                             ? concat(" unless raised with cudaFuncSetAttribute(kernel, "
                                      "cudaFuncAttributeMaxDynamicSharedMemorySize, bytes) (at most ",
                                      limits::kMaxDynamicSmemOptin, ")")
                             : std::string(" as set by cudaFuncSetAttribute")));
  if (!valid_stream(stream))
    reject_launch(kernel, file, line, "the stream is not a live cudaStream_t (cudaErrorInvalidResourceHandle)", false);
}

inline std::atomic<std::uint64_t>& launch_counter() {
  static std::atomic<std::uint64_t> n{0};
  return n;
}

// SKINNET_EMU_LAUNCH_LOG=<file>: one line per distinct (kernel, block shape, dynamic smem), so CI can
// check each configuration against the ptxas report (registers x threads, shared memory). The symbol
// is the kernel's mangled name when the executable exports it (link with -rdynamic), as in ptxas -v.
inline void log_launch(const void* kernel_address, const char* kernel, dim3 block, std::size_t shmem) {
  static const char* path = std::getenv("SKINNET_EMU_LAUNCH_LOG");
  if (!path || !*path) return;
  static std::mutex m;
  static std::set<std::tuple<const void*, unsigned, unsigned, unsigned, std::size_t>> seen;
  std::lock_guard lock(m);
  if (!seen.insert({kernel_address, block.x, block.y, block.z, shmem}).second) return;
  Dl_info info{};
  const char* symbol = "?";
  if (::dladdr(kernel_address, &info) != 0 && info.dli_sname) symbol = info.dli_sname;
  if (std::FILE* f = std::fopen(path, "a")) {
    std::fprintf(f, "kernel=%s symbol=%s block=%ux%ux%u threads=%u dynamic_smem=%zu\n", kernel, symbol, block.x,
                 block.y, block.z, block.x * block.y * block.z, shmem);
    std::fclose(f);
  }
}

template <class Kernel, class Args>
struct BoundKernel {
  Kernel kernel;
  Args args;
  static void invoke(const void* self) {
    const auto* b = static_cast<const BoundKernel*>(self);
    std::apply(b->kernel, b->args);
  }
};

}  // namespace skinnet::emu::detail

namespace skinnet::emu {

// The emulated `kernel<<<grid, block, shmem, stream>>>(args...)`; SKN_LAUNCH calls it.
template <class... Params, class... Args>
void launch(void (*kernel)(Params...), const char* kernel_name, const char* file, int line, dim3 grid, dim3 block,
            std::size_t shmem, cudaStream_t stream, Args&&... args) {
  static_assert(sizeof...(Params) == sizeof...(Args), "SKN_LAUNCH: wrong number of kernel arguments");
  using namespace detail;
  const void* address = reinterpret_cast<const void*>(kernel);
  if (tl_thread)
    reject_launch(kernel_name, file, line,
                  "it is launched from inside a kernel (dynamic parallelism is not supported by the emulator)",
                  false);
  validate_launch(address, kernel_name, file, line, grid, block, shmem, stream);
  log_launch(address, kernel_name, block, shmem);

  using Bound = BoundKernel<void (*)(Params...), std::tuple<std::decay_t<Params>...>>;
  const Bound bound{kernel, std::tuple<std::decay_t<Params>...>(std::forward<Args>(args)...)};

  LaunchInfo info;
  info.kernel_name = kernel_name;
  info.file = file;
  info.line = line;
  info.grid = grid;
  info.block = block;
  info.dynamic_smem = shmem;
  info.invoke = &Bound::invoke;
  info.args = &bound;
  const OrderSetting order = order_setting();
  info.order = order.order;
  info.seed = order.seed;
  info.launch_number = launch_counter().fetch_add(1, std::memory_order_relaxed);

  const std::uint64_t blocks = std::uint64_t(grid.x) * grid.y * grid.z;
  WorkerPool::instance().run(
      blocks,
      [](const void* ctx, std::uint64_t b) {
        const LaunchInfo& li = *static_cast<const LaunchInfo*>(ctx);
        const uint3 idx{static_cast<unsigned>(b % li.grid.x), static_cast<unsigned>((b / li.grid.x) % li.grid.y),
                        static_cast<unsigned>(b / (std::uint64_t(li.grid.x) * li.grid.y))};
        BlockRunner::this_thread().run(li, idx);
      },
      &info);
}

}  // namespace skinnet::emu

template <class... Params>
inline cudaError_t cudaFuncSetAttribute(void (*kernel)(Params...), cudaFuncAttribute attr, int value) {
  using namespace skinnet::emu;
  if (!kernel) return detail::fail(cudaErrorInvalidDeviceFunction);
  if (attr == cudaFuncAttributeMaxDynamicSharedMemorySize) {
    if (value < 0 || static_cast<std::size_t>(value) > limits::kMaxDynamicSmemOptin)
      return detail::fail(cudaErrorInvalidValue);
    detail::KernelAttributes::instance().set_max_dynamic_smem(reinterpret_cast<const void*>(kernel),
                                                              static_cast<std::size_t>(value));
    return cudaSuccess;
  }
  if (attr == cudaFuncAttributePreferredSharedMemoryCarveout) return cudaSuccess;  // a hint
  return detail::fail(cudaErrorInvalidValue);
}

#define SKN_EMU_LAUNCH(kernel, grid, block, shmem, stream, ...) \
  ::skinnet::emu::launch(kernel, #kernel, __FILE__, __LINE__, grid, block, shmem, stream __VA_OPT__(, ) __VA_ARGS__)
