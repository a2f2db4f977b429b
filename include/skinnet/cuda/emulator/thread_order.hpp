#pragma once
// The order in which the emulator resumes the threads of a block between two barriers.
//
// On a GPU the threads of a block run concurrently, so a kernel that reads shared memory another thread
// writes without a __syncthreads in between gives timing-dependent results. In the emulator each thread
// runs until it waits (a barrier, a warp collective) or exits, so the order is fully deterministic —
// and changing it changes what a racy kernel computes. Running a kernel test in Forward, Reverse and
// Random order and requiring identical results therefore exposes a missing barrier at once.
//
//   skinnet::emu::ScopedThreadOrder guard(skinnet::emu::ThreadOrder::Random, /*seed=*/42);
//
// The default comes from SKINNET_EMU_ORDER=forward|reverse|random[:seed] (forward when unset).
#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace skinnet::emu {

enum class ThreadOrder { Forward, Reverse, Random };

inline const char* to_string(ThreadOrder o) {
  switch (o) {
    case ThreadOrder::Forward: return "forward";
    case ThreadOrder::Reverse: return "reverse";
    case ThreadOrder::Random: return "random";
  }
  return "?";
}

namespace detail {

struct OrderSetting {
  ThreadOrder order = ThreadOrder::Forward;
  std::uint64_t seed = 0;
};

inline OrderSetting order_from_environment() {
  OrderSetting s;
  const char* v = std::getenv("SKINNET_EMU_ORDER");
  if (!v) return s;
  const std::string text(v);
  if (text.rfind("reverse", 0) == 0) s.order = ThreadOrder::Reverse;
  if (text.rfind("random", 0) == 0) {
    s.order = ThreadOrder::Random;
    const auto colon = text.find(':');
    if (colon != std::string::npos) s.seed = std::strtoull(text.c_str() + colon + 1, nullptr, 10);
  }
  return s;
}

// Process-wide: a launch from any host thread uses the order in force when it starts.
inline OrderSetting& order_setting() {
  static OrderSetting s = order_from_environment();
  return s;
}

// splitmix64: a tiny, well-mixed generator; enough to shuffle thread orders reproducibly.
inline std::uint64_t mix64(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}

// Fill `order` with the resume order of n threads for one barrier phase of one block. The random
// order depends only on (seed, launch number, block, phase), never on which worker runs the block.
inline void make_order(std::vector<unsigned>& order, unsigned n, ThreadOrder kind, std::uint64_t seed,
                       std::uint64_t launch, std::uint64_t block, std::uint64_t phase) {
  order.resize(n);
  for (unsigned i = 0; i < n; ++i) order[i] = kind == ThreadOrder::Reverse ? n - 1 - i : i;
  if (kind != ThreadOrder::Random) return;
  std::uint64_t state = mix64(seed ^ mix64(launch ^ mix64(block ^ mix64(phase))));
  for (unsigned i = n; i > 1; --i) {  // Fisher-Yates
    state = mix64(state);
    const unsigned j = static_cast<unsigned>(state % i);
    std::swap(order[i - 1], order[j]);
  }
}

}  // namespace detail

inline void set_thread_order(ThreadOrder order, std::uint64_t seed = 0) {
  detail::order_setting() = detail::OrderSetting{order, seed};
}
inline ThreadOrder thread_order() { return detail::order_setting().order; }

// RAII: use `order` (and `seed` for Random) for launches until the guard goes out of scope.
class ScopedThreadOrder {
 public:
  explicit ScopedThreadOrder(ThreadOrder order, std::uint64_t seed = 0) : saved_(detail::order_setting()) {
    set_thread_order(order, seed);
  }
  ~ScopedThreadOrder() { detail::order_setting() = saved_; }
  ScopedThreadOrder(const ScopedThreadOrder&) = delete;
  ScopedThreadOrder& operator=(const ScopedThreadOrder&) = delete;

 private:
  detail::OrderSetting saved_;
};

}  // namespace skinnet::emu
