#pragma once
// Tensor<D>: a float32 buffer on device D with a Shape (NHWC for rank 4). Move-only: copies are
// explicit (clone(), to_device(), to_host()) so no megabytes move behind the reader's back.
//
// The buffer is reference-counted so that a layer can keep its training-mode input for backward
// without copying it: share() gives a second handle to the same elements (its shape can be changed
// independently with reshape). The contract that makes this safe is the one PyTorch's autograd has:
// a tensor passed to forward(x, Mode::Train) must not be modified in place until backward has run.
// The library itself never writes into a tensor after handing it to a layer; only layers' caches
// call share(), and every op returns a fresh buffer.
#include <algorithm>
#include <cstdint>
#include <memory>
#include <type_traits>
#include <string>
#include <utility>
#include <vector>

#include "skinnet/core/device.hpp"
#include "skinnet/core/shape.hpp"

namespace skinnet {

template <class D>
class Tensor {
 public:
  using Device = D;

  Tensor() = default;
  // Uninitialised contents (on Cuda under the emulator: a NaN pattern, so reads of unwritten memory
  // show up in results).
  explicit Tensor(const Shape& shape) : shape_(shape), numel_(shape.numel()) {
    const std::size_t n = bytes();
    data_ = static_cast<float*>(DeviceMemory<D>::allocate(n));
    try {
      buffer_ = std::shared_ptr<float>(data_, [n](float* p) { DeviceMemory<D>::release(p, n); });
    } catch (...) {  // the control block's allocation failed: do not leak the buffer
      DeviceMemory<D>::release(data_, n);
      throw;
    }
  }
  static Tensor zeros(const Shape& shape) {
    Tensor t(shape);
    DeviceMemory<D>::zero(t.data_, t.bytes());
    return t;
  }
  static Tensor filled(const Shape& shape, float value) {
    std::vector<float> host(static_cast<size_t>(shape.numel()), value);
    return from_host(shape, host.data());
  }
  // Copies numel floats from host memory.
  static Tensor from_host(const Shape& shape, const float* host) {
    Tensor t(shape);
    DeviceMemory<D>::from_host(t.data_, host, t.bytes());
    return t;
  }
  static Tensor from_vector(const Shape& shape, const std::vector<float>& values) {
    SKN_REQUIRE(static_cast<int64_t>(values.size()) == shape.numel(), ShapeError, "Tensor::from_vector: ",
                values.size(), " values for shape ", shape.str());
    return from_host(shape, values.data());
  }

  Tensor(const Tensor&) = delete;
  Tensor& operator=(const Tensor&) = delete;
  Tensor(Tensor&& o) noexcept { swap(o); }
  Tensor& operator=(Tensor&& o) noexcept {
    if (this != &o) {
      Tensor tmp(std::move(o));
      swap(tmp);
    }
    return *this;
  }
  ~Tensor() = default;  // the last handle of a buffer releases it

  Tensor clone() const {
    Tensor t(shape_);
    DeviceMemory<D>::copy(t.data_, data_, bytes());
    return t;
  }
  // Another handle to the same elements: no copy, and the buffer lives until its last handle is gone.
  // For caches of read-only data (a layer's training input); see the contract at the top of the file.
  Tensor share() const {
    Tensor t;
    t.shape_ = shape_;
    t.numel_ = numel_;
    t.data_ = data_;
    t.buffer_ = buffer_;
    return t;
  }
  // Whether both handles point at the same buffer (what share() makes).
  bool shares_buffer_with(const Tensor& o) const { return data_ != nullptr && data_ == o.data_; }
  // Whether another handle shares this buffer.
  bool buffer_is_shared() const { return buffer_.use_count() > 1; }

  const Shape& shape() const { return shape_; }
  int64_t numel() const { return numel_; }
  std::size_t bytes() const { return static_cast<std::size_t>(numel_) * sizeof(float); }
  bool empty() const { return numel_ == 0; }
  float* data() { return data_; }
  const float* data() const { return data_; }

  // Same elements, new shape (numel must match).
  void reshape(const Shape& s) {
    SKN_REQUIRE(s.numel() == numel_, ShapeError, "Tensor::reshape: cannot view ", shape_.str(), " as ",
                s.str());
    shape_ = s;
  }
  Tensor reshaped(const Shape& s) && {
    reshape(s);
    return std::move(*this);
  }

  void fill_zero() { DeviceMemory<D>::zero(data_, bytes()); }

  // Contents as a host vector (a device -> host copy on Cuda).
  std::vector<float> to_vector() const {
    std::vector<float> v(static_cast<size_t>(numel_));
    DeviceMemory<D>::to_host(v.data(), data_, bytes());
    return v;
  }

  // Element access, host tensors only.
  float& operator[](int64_t i) requires std::is_same_v<D, Cpu> { return data_[i]; }
  float operator[](int64_t i) const requires std::is_same_v<D, Cpu> { return data_[i]; }
  float& at(int64_t n, int64_t h, int64_t w, int64_t c) requires std::is_same_v<D, Cpu> {
    return data_[((n * shape_.h() + h) * shape_.w() + w) * shape_.c() + c];
  }
  float at(int64_t n, int64_t h, int64_t w, int64_t c) const requires std::is_same_v<D, Cpu> {
    return data_[((n * shape_.h() + h) * shape_.w() + w) * shape_.c() + c];
  }

 private:
  void swap(Tensor& o) noexcept {
    std::swap(shape_, o.shape_);
    std::swap(numel_, o.numel_);
    std::swap(data_, o.data_);
    std::swap(buffer_, o.buffer_);
  }
  Shape shape_;
  int64_t numel_ = 0;
  float* data_ = nullptr;          // buffer_.get(), kept for speed of access
  std::shared_ptr<float> buffer_;  // owns data_; shared by share() handles
};

// Explicit transfers between devices.
template <class To, class From>
Tensor<To> transfer(const Tensor<From>& src) {
  if constexpr (std::is_same_v<To, From>) {
    return src.clone();
  } else if constexpr (std::is_same_v<From, Cpu>) {
    return Tensor<To>::from_host(src.shape(), src.data());
  } else {
    Tensor<To> dst(src.shape());
    DeviceMemory<From>::to_host(dst.data(), src.data(), src.bytes());
    return dst;
  }
}
template <class From>
Tensor<Cpu> to_host(const Tensor<From>& t) { return transfer<Cpu>(t); }
template <class To>
Tensor<To> to_device(const Tensor<Cpu>& t) { return transfer<To>(t); }

}  // namespace skinnet
