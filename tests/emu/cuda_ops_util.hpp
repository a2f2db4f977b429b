#pragma once
// Helpers of the emulated tests of the non-convolution Cuda ops (tests/emu/test_*_cuda.cpp):
// conversions between the float64 reference's vectors and tensors on either device, and running one
// computation in the emulator's three thread orders with a bitwise comparison of the results.
#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "reference/activation.hpp"
#include "reference/gradcheck.hpp"
#include "skinnet/cpu/activation.hpp"
#include "skinnet/cuda/device_memory.hpp"
#include "skinnet/cuda/runtime.hpp"

namespace skinnet::cuda_test {

// The values as the float tensors hold them (the reference must see the rounded inputs).
inline std::vector<double> rounded(const std::vector<double>& v) {
  std::vector<double> r(v.size());
  for (size_t i = 0; i < v.size(); ++i) r[i] = static_cast<float>(v[i]);
  return r;
}
inline std::vector<double> random_rounded(int64_t n, uint64_t seed, double lo = -1.0, double hi = 1.0) {
  return rounded(ref::random_vector(static_cast<size_t>(n), seed, lo, hi));
}

template <class D>
Tensor<D> tensor_of(const Shape& s, const std::vector<double>& v) {
  const std::vector<float> f(v.begin(), v.end());
  return Tensor<D>::from_vector(s, f);
}

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

inline bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

using Outputs = std::vector<std::vector<float>>;

// Runs `run` (which computes on fresh inputs and returns every output it wants compared, downloaded
// to the host) in forward, reverse and random thread order. Every order's outputs must be bitwise
// identical to the forward order's: a missing barrier or an order-dependent reduction changes them.
// Returns the forward-order outputs for the comparison with the reference.
inline Outputs in_all_thread_orders(const std::function<Outputs()>& run, uint32_t seed = 1) {
  const std::pair<emu::ThreadOrder, const char*> orders[] = {{emu::ThreadOrder::Forward, "forward"},
                                                             {emu::ThreadOrder::Reverse, "reverse"},
                                                             {emu::ThreadOrder::Random, "random"}};
  Outputs first;
  for (const auto& entry : orders) {
    Outputs got;
    {
      emu::ScopedThreadOrder guard(entry.first, seed);
      got = run();
    }
    if (entry.first == emu::ThreadOrder::Forward) {
      first = std::move(got);
      continue;
    }
    REQUIRE(got.size() == first.size());
    for (size_t k = 0; k < got.size(); ++k) {
      INFO("thread order " << entry.second << ", output " << k);
      CHECK_MESSAGE(same_bits(got[k], first[k]),
                    "differs from the forward-order run: a race or an order-dependent sum");
    }
  }
  return first;
}

}  // namespace skinnet::cuda_test
