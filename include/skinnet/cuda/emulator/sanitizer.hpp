#pragma once
// Telling the sanitizers about fiber switches.
//
// The emulator switches stacks behind the compiler's back (Boost.Context's assembly), which neither
// AddressSanitizer nor ThreadSanitizer can see on their own:
//  - ASan must know which stack is current, or it reports false stack-buffer errors and unwinds
//    exceptions over the wrong stack: every switch is bracketed by
//    __sanitizer_start_switch_fiber (before) and __sanitizer_finish_switch_fiber (after).
//  - TSan keeps one shadow call stack and one vector clock per fiber: each emulated thread gets a TSan
//    fiber, and every switch is announced with __tsan_switch_to_fiber. Switches do NOT synchronise
//    (flag no_sync): otherwise every emulated thread would happen-after every other one through the
//    scheduler and no race could ever be reported. Instead the emulator adds exactly the edges CUDA
//    guarantees (tsan_release / tsan_acquire at barriers and warp collectives, block start and end),
//    and hides its own bookkeeping from TSan (TsanIgnore) because that bookkeeping is ordered by the
//    switches themselves, which TSan is told not to count.
#include <cstddef>

#include "skinnet/cuda/emulator/config.hpp"

#if SKINNET_EMU_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif
#if SKINNET_EMU_TSAN
#include <sanitizer/tsan_interface.h>
extern "C" void __tsan_ignore_thread_begin();
extern "C" void __tsan_ignore_thread_end();
#endif

// Functions that run when an emulated thread is entered for the first time or left for good are not
// instrumented by TSan: their call frames never return, which would otherwise unbalance the shadow call
// stack of a TSan fiber that is reused for the next block.
#if defined(__GNUC__) || defined(__clang__)
#define SKN_EMU_NO_TSAN __attribute__((no_sanitize("thread")))
#else
#define SKN_EMU_NO_TSAN
#endif

namespace skinnet::emu::detail {

// The stack an emulated thread (or the scheduler) runs on, and the sanitizers' per-fiber state.
struct SanitizerFiber {
  const void* stack_bottom = nullptr;  // lowest address
  std::size_t stack_size = 0;
  void* asan_fake_stack = nullptr;     // ASan's fake stack of the fiber being left
  void* tsan_fiber = nullptr;          // TSan's context for this fiber
};

// Called on the stack being left, right before jumping to `to`. `leaving_for_good` means `from` will
// never run again (its fake stack can be freed). Not instrumented by TSan: it returns after TSan has
// already switched to the target fiber, and an instrumented return would pop the target's shadow stack.
SKN_EMU_NO_TSAN inline void before_switch(SanitizerFiber& from, SanitizerFiber& to, bool leaving_for_good, bool sync) {
#if SKINNET_EMU_ASAN
  __sanitizer_start_switch_fiber(leaving_for_good ? nullptr : &from.asan_fake_stack, to.stack_bottom,
                                 to.stack_size);
#else
  (void)from;
  (void)leaving_for_good;
#endif
#if SKINNET_EMU_TSAN
  __tsan_switch_to_fiber(to.tsan_fiber, sync ? 0u : __tsan_switch_to_fiber_no_sync);
#else
  (void)to;
  (void)sync;
#endif
}

// Called on the stack just entered. Records the bounds of the stack we came from in `from` (ASan
// tells us; the scheduler learns its own stack bounds this way).
inline void after_switch(SanitizerFiber& self, SanitizerFiber& from) {
#if SKINNET_EMU_ASAN
  __sanitizer_finish_switch_fiber(self.asan_fake_stack, &from.stack_bottom, &from.stack_size);
#else
  (void)self;
  (void)from;
#endif
}

inline void* tsan_create_fiber() {
#if SKINNET_EMU_TSAN
  return __tsan_create_fiber(0);
#else
  return nullptr;
#endif
}
inline void tsan_destroy_fiber(void* f) {
#if SKINNET_EMU_TSAN
  if (f) __tsan_destroy_fiber(f);
#else
  (void)f;
#endif
}
inline void* tsan_current_fiber() {
#if SKINNET_EMU_TSAN
  return __tsan_get_current_fiber();
#else
  return nullptr;
#endif
}

// Happens-before edges that CUDA guarantees (barrier arrival -> departure, block end -> next block).
inline void tsan_release(const void* addr) {
#if SKINNET_EMU_TSAN
  __tsan_release(const_cast<void*>(addr));
#else
  (void)addr;
#endif
}
inline void tsan_acquire(const void* addr) {
#if SKINNET_EMU_TSAN
  __tsan_acquire(const_cast<void*>(addr));
#else
  (void)addr;
#endif
}

// While alive, the current fiber's memory accesses are invisible to TSan (used for the emulator's own
// bookkeeping, never around kernel code).
struct TsanIgnore {
#if SKINNET_EMU_TSAN
  TsanIgnore() { __tsan_ignore_thread_begin(); }
  ~TsanIgnore() { __tsan_ignore_thread_end(); }
#else
  TsanIgnore() {}  // user-provided so that `TsanIgnore guard;` is not an unused-variable warning
#endif
  TsanIgnore(const TsanIgnore&) = delete;
  TsanIgnore& operator=(const TsanIgnore&) = delete;
};

// A reused fiber stack may carry ASan poison from frames that never returned (a thread aborted by an
// exception, or the entry frame): clear it before the stack runs a new thread.
inline void asan_unpoison(void* p, std::size_t n) {
#if SKINNET_EMU_ASAN
  __asan_unpoison_memory_region(p, n);
#else
  (void)p;
  (void)n;
#endif
}

}  // namespace skinnet::emu::detail
