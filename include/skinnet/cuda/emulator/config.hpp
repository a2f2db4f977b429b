#pragma once
// Compile-time facts the emulator adapts to: which sanitizer (if any) instruments this build, and
// the tunables that can be overridden from the environment.
//
//   SKINNET_EMU_WORKERS=<n>        OS threads that run blocks (default: hardware threads, at most 16)
//   SKINNET_EMU_STACK_KB=<n>       stack of each emulated thread (default 64 KiB, 256 KiB under sanitizers)
//   SKINNET_EMU_ORDER=forward|reverse|random[:seed]   default thread order (tests may override it)
//   SKINNET_EMU_LAUNCH_LOG=<file>  append one line per distinct (kernel, block size, dynamic smem)
#include <cstddef>
#include <cstdlib>

#if defined(__SANITIZE_ADDRESS__)
#define SKINNET_EMU_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SKINNET_EMU_ASAN 1
#endif
#endif

#if defined(__SANITIZE_THREAD__)
#define SKINNET_EMU_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define SKINNET_EMU_TSAN 1
#endif
#endif

#ifndef SKINNET_EMU_ASAN
#define SKINNET_EMU_ASAN 0
#endif
#ifndef SKINNET_EMU_TSAN
#define SKINNET_EMU_TSAN 0
#endif

namespace skinnet::emu::detail {

inline std::size_t env_size(const char* name, std::size_t fallback) {
  const char* v = std::getenv(name);
  if (!v || !*v) return fallback;
  char* end = nullptr;
  const unsigned long long n = std::strtoull(v, &end, 10);
  return (end && *end == '\0' && n > 0) ? static_cast<std::size_t>(n) : fallback;
}

// Sanitizers put redzones and bookkeeping on the stack, so emulated threads need more of it there.
inline constexpr std::size_t kDefaultStackBytes =
    (SKINNET_EMU_ASAN || SKINNET_EMU_TSAN) ? 256 * 1024 : 64 * 1024;

}  // namespace skinnet::emu::detail
