#pragma once
// Helpers shared by the emulator's own tests (tests/emu/test_emulator*.cpp).
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "skinnet/cuda/runtime.hpp"

namespace skinnet::emu_test {

// A device buffer of n elements of T (emulated cudaMalloc), freed at scope exit.
template <class T>
class DeviceBuffer {
 public:
  explicit DeviceBuffer(std::size_t n) : n_(n) { SKN_CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&p_), n * sizeof(T))); }
  explicit DeviceBuffer(const std::vector<T>& host) : DeviceBuffer(host.size()) { upload(host); }
  ~DeviceBuffer() { (void)cudaFree(p_); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;

  T* get() const { return p_; }
  std::size_t size() const { return n_; }
  void upload(const std::vector<T>& host) {
    SKN_CUDA_CHECK(cudaMemcpy(p_, host.data(), n_ * sizeof(T), cudaMemcpyHostToDevice));
  }
  std::vector<T> download() const {
    std::vector<T> host(n_);
    SKN_CUDA_CHECK(cudaMemcpy(host.data(), p_, n_ * sizeof(T), cudaMemcpyDeviceToHost));
    return host;
  }
  void zero() { SKN_CUDA_CHECK(cudaMemset(p_, 0, n_ * sizeof(T))); }

 private:
  T* p_ = nullptr;
  std::size_t n_ = 0;
};

inline constexpr emu::ThreadOrder kAllOrders[] = {emu::ThreadOrder::Forward, emu::ThreadOrder::Reverse,
                                                  emu::ThreadOrder::Random};

inline std::uint32_t bits_of(float f) {
  std::uint32_t u;
  std::memcpy(&u, &f, 4);
  return u;
}

}  // namespace skinnet::emu_test
