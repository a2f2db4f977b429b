#pragma once
// Helpers of the emulated tests of the Cuda ops (tests/emu/test_*_cuda.cpp): the shared test helpers
// (tests/test_util.hpp: conversions between the float64 reference's vectors and tensors on either
// device, random inputs), and running one computation in the emulator's thread orders with a bitwise
// comparison of the results.
#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "reference/activation.hpp"
#include "reference/gradcheck.hpp"
#include "skinnet/cpu/activation.hpp"
#include "skinnet/cuda/device_memory.hpp"
#include "skinnet/cuda/runtime.hpp"
#include "test_util.hpp"

namespace skinnet::cuda_test {

// rounded, tensor_of, random_floats, widen, padding_of, ref_act: see tests/test_util.hpp.
using namespace skinnet::test;

// n uniform values in [lo, hi) from the reference's generator, rounded to float.
inline std::vector<double> random_rounded(int64_t n, uint64_t seed, double lo = -1.0, double hi = 1.0) {
  return rounded(ref::random_vector(static_cast<size_t>(n), seed, lo, hi));
}

// Whether two float vectors are equal bit for bit (NaNs included).
inline bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && (a.empty() || std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0);
}

// The thread orders the conv, depthwise and pool tests run every kernel in; the results must agree
// bit for bit. Under ThreadSanitizer the race detector itself sees unsynchronised shared-memory
// accesses in any order, and every emulated switch costs about 100x more, so one order keeps the TSan
// stage of CI short. (in_all_thread_orders below always runs all three.)
#if defined(__SANITIZE_THREAD__)
#define SKN_TEST_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define SKN_TEST_TSAN 1
#endif
#endif
#if defined(SKN_TEST_TSAN)
inline const std::pair<emu::ThreadOrder, const char*> kThreadOrders[] = {{emu::ThreadOrder::Random, "random"}};
#else
inline const std::pair<emu::ThreadOrder, const char*> kThreadOrders[] = {
    {emu::ThreadOrder::Forward, "forward"}, {emu::ThreadOrder::Reverse, "reverse"}, {emu::ThreadOrder::Random, "random"}};
#endif

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
