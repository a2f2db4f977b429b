#pragma once
// Helpers shared by the CPU tests (tests/cpu/) and the emulated Cuda tests (tests/emu/): conversions
// between the float64 reference's vectors and float tensors, random inputs, the padding of a test
// case given by name, and a self-deleting temporary directory.
#include <doctest/doctest.h>
#include <unistd.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <system_error>
#include <vector>

#include "reference/activation.hpp"
#include "reference/gradcheck.hpp"
#include "skinnet/core/conv_geometry.hpp"
#include "skinnet/core/tensor.hpp"
#include "skinnet/cpu/activation.hpp"

namespace skinnet::test {

// The values as the float tensors hold them (the reference must see the rounded inputs).
inline std::vector<double> rounded(const std::vector<double>& v) {
  std::vector<double> r(v.size());
  for (size_t i = 0; i < v.size(); ++i) r[i] = static_cast<float>(v[i]);
  return r;
}

// A float tensor on device D holding the reference's values (each rounded to float).
template <class D>
Tensor<D> tensor_of(const Shape& s, const std::vector<double>& v) {
  const std::vector<float> f(v.begin(), v.end());
  return Tensor<D>::from_vector(s, f);
}

// tensor_of<Cpu>, under the short name the CPU tests use.
inline Tensor<Cpu> to_tensor(const Shape& s, const std::vector<double>& v) { return tensor_of<Cpu>(s, v); }

// n uniform values in [-1, 1) from the reference's generator, as floats.
inline std::vector<float> random_floats(size_t n, uint64_t seed) {
  auto d = ref::random_vector(n, seed);
  return std::vector<float>(d.begin(), d.end());
}

// A float vector as the reference's doubles (exact).
inline std::vector<double> widen(const std::vector<float>& v) { return std::vector<double>(v.begin(), v.end()); }

// The Padding of a window test case: "same", "valid", or else explicit pads (top, bottom, left, right).
inline Padding padding_of(const std::string& pad, int64_t pt, int64_t pb, int64_t pl, int64_t pr) {
  if (pad == "same") return Padding::same();
  if (pad == "valid") return Padding::valid();
  return Padding::explicit_pads(pt, pb, pl, pr);
}

// The reference's name for an activation.
inline ref::RefAct ref_act(Act a) {
  switch (a) {
    case Act::None:
      return ref::RefAct::None;
    case Act::ReLU:
      return ref::RefAct::ReLU;
    case Act::Swish:
      return ref::RefAct::Swish;
    case Act::Mish:
      return ref::RefAct::Mish;
    case Act::Sigmoid:
      return ref::RefAct::Sigmoid;
  }
  return ref::RefAct::None;
}

// A fresh directory under the system's temporary directory (named prefix + 6 random characters),
// removed with everything in it at the end of the scope.
struct TempDir {
  std::filesystem::path path;
  explicit TempDir(const std::string& prefix) {
    std::string tmpl = (std::filesystem::temp_directory_path() / (prefix + "XXXXXX")).string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
};

}  // namespace skinnet::test
