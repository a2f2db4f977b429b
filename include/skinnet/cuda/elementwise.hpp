#pragma once
// Elementwise CUDA ops (kernels/elementwise.cuh) with the signatures of include/skinnet/cpu/elementwise.hpp,
// and the launch helpers every flat elementwise launcher of the Cuda backend uses.
#include <algorithm>
#include <cstdint>

#include "skinnet/core/error.hpp"
#include "skinnet/core/tensor.hpp"
#include "skinnet/cpu/elementwise.hpp"
// The runtime layer and the kernels last (see cuda/gemm.hpp: the emulator's macros must not leak into
// the standard-library headers pulled in above).
#include "kernels/elementwise.cuh"
#include "skinnet/cuda/device_memory.hpp"
#include "skinnet/cuda/runtime.hpp"

namespace skinnet::cuda {

namespace detail {

// Grid of a grid-stride elementwise kernel over n elements: one thread per element up to 65536
// blocks (16M threads, more than any GPU keeps resident), beyond that each thread loops. The cap keeps
// the emulator's per-launch bookkeeping and a GPU's block scheduling overhead bounded.
inline constexpr int64_t kMaxElementwiseBlocks = 65536;
inline dim3 elementwise_grid(int64_t n) {
  const int64_t blocks = (n + kernels::kElementwiseThreads - 1) / kernels::kElementwiseThreads;
  return dim3(static_cast<unsigned>(std::clamp<int64_t>(blocks, 1, kMaxElementwiseBlocks)));
}

// Makes `t` an (uninitialised) tensor of shape `s`, reusing its buffer when the shape already matches
// (the Cuda twin of cpu::detail::ensure_shape).
inline void ensure_shape(Tensor<Cuda>& t, const Shape& s) {
  // A buffer another handle shares (Tensor::share) is never written over: it gets a fresh one.
  if (t.empty() || t.shape() != s || t.buffer_is_shared()) t = Tensor<Cuda>(s);
}

// A device buffer of n elements of T for the partial results of a reduction, freed at scope exit.
// Comes from DeviceMemory<Cuda>, i.e. the caching allocator on a GPU (no cudaMalloc per call) and an
// exact-size, NaN-poisoned allocation under the emulator.
template <class T>
class DeviceScratch {
 public:
  explicit DeviceScratch(int64_t n)
      : bytes_(static_cast<std::size_t>(std::max<int64_t>(n, 1)) * sizeof(T)),
        p_(static_cast<T*>(DeviceMemory<Cuda>::allocate(bytes_))) {}
  ~DeviceScratch() { DeviceMemory<Cuda>::release(p_, bytes_); }
  DeviceScratch(const DeviceScratch&) = delete;
  DeviceScratch& operator=(const DeviceScratch&) = delete;
  T* get() const { return p_; }

 private:
  std::size_t bytes_;
  T* p_;
};

}  // namespace detail

// a + b (same shapes).
inline Tensor<Cuda> add(const Tensor<Cuda>& a, const Tensor<Cuda>& b) {
  SKN_REQUIRE(a.shape() == b.shape(), ShapeError, "add: shapes ", a.shape().str(), " and ", b.shape().str(), " differ");
  Tensor<Cuda> out(a.shape());
  if (a.numel() > 0)
    SKN_LAUNCH(kernels::elementwise_add<kernels::kElementwiseThreads>, detail::elementwise_grid(a.numel()),
               kernels::kElementwiseThreads, 0, 0, a.data(), b.data(), out.data(), a.numel());
  return out;
}

// dst += src (same shapes).
inline void add_into(Tensor<Cuda>& dst, const Tensor<Cuda>& src) {
  SKN_REQUIRE(dst.shape() == src.shape(), ShapeError, "add_into: shapes ", dst.shape().str(), " and ",
              src.shape().str(), " differ");
  if (dst.numel() > 0)
    SKN_LAUNCH(kernels::elementwise_add_into<kernels::kElementwiseThreads>, detail::elementwise_grid(dst.numel()),
               kernels::kElementwiseThreads, 0, 0, dst.data(), src.data(), dst.numel());
}

}  // namespace skinnet::cuda
