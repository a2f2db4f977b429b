#pragma once
// Fibers: the execution contexts of emulated CUDA threads.
//
// Each emulated thread runs on its own small stack and gives control back to its block's scheduler
// whenever it must wait (a barrier, a warp collective) or finishes. Switching is Boost.Context's
// fcontext (a handful of register saves, a few nanoseconds), used at its lowest level
// (make_fcontext / jump_fcontext) so that the emulator itself performs, and can announce to the
// sanitizers, every single stack switch — the higher-level boost::context::fiber does one extra,
// unannounced switch when a fiber is created.
//
// Stacks come from a per-OS-thread pool: a 1024-thread block needs 1024 stacks, and blocks run one
// after another on the same OS thread, so after the first block no stack is ever mapped again. Each
// stack has an inaccessible guard page below it, so a kernel that overflows its stack crashes at once
// instead of corrupting its neighbour.
#include <sys/mman.h>
#include <unistd.h>

#include <boost/context/detail/fcontext.hpp>
#include <cstddef>
#include <vector>

#include "skinnet/core/error.hpp"
#include "skinnet/cuda/emulator/sanitizer.hpp"

namespace skinnet::emu::detail {

namespace fctx = boost::context::detail;

struct Stack {
  char* base = nullptr;   // lowest usable address (the guard page lies just below)
  std::size_t size = 0;   // usable bytes
};

class StackPool {
 public:
  explicit StackPool(std::size_t bytes) {
    const std::size_t page = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
    size_ = (bytes + page - 1) / page * page;
    page_ = page;
  }
  StackPool(const StackPool&) = delete;
  StackPool& operator=(const StackPool&) = delete;
  ~StackPool() {
    for (const Stack& s : free_) ::munmap(s.base - page_, s.size + page_);
  }

  Stack acquire() {
    if (!free_.empty()) {
      Stack s = free_.back();
      free_.pop_back();
      asan_unpoison(s.base, s.size);
      return s;
    }
    // MAP_NORESERVE: only the pages a thread actually touches cost memory.
    void* p = ::mmap(nullptr, size_ + page_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                     -1, 0);
    if (p == MAP_FAILED)
      throw CudaError(::skinnet::detail::concat("CUDA emulator: cannot map a ", size_ / 1024,
                                                " KiB stack for an emulated thread (out of memory?)"));
    ::mprotect(p, page_, PROT_NONE);  // guard page: a stack overflow faults instead of corrupting memory
    return Stack{static_cast<char*>(p) + page_, size_};
  }
  void release(const Stack& s) { free_.push_back(s); }
  std::size_t stack_bytes() const { return size_; }

 private:
  std::size_t size_ = 0, page_ = 4096;
  std::vector<Stack> free_;
};

// One emulated thread's execution context. The scheduler calls resume(); code running on the fiber
// calls yield() to return to the scheduler and finish() when it is done (a fiber's entry function
// never returns: there is nothing below it on its stack to return to).
class Fiber {
 public:
  using Entry = void (*)(void* arg);

  // Prepares the fiber to run entry(arg) on `stack` the next time it is resumed.
  void start(const Stack& stack, Entry entry, void* arg) {
    stack_ = stack;
    entry_ = entry;
    arg_ = arg;
    finished_ = false;
    started_ = false;
    san_.stack_bottom = stack.base;
    san_.stack_size = stack.size;
    san_.asan_fake_stack = nullptr;
    // One TSan fiber per slot, reused by the threads of successive blocks (creating one per thread
    // and block costs a system call or two each).
    if (!san_.tsan_fiber) san_.tsan_fiber = tsan_create_fiber();
    ctx_ = fctx::make_fcontext(stack.base + stack.size, stack.size, &trampoline);
  }

  // Scheduler side: run the fiber until it yields or finishes. The first switch into a fiber
  // synchronises with the scheduler under TSan (the thread "starts after" its block was set up);
  // later switches do not (see sanitizer.hpp).
  void resume(SanitizerFiber& scheduler) {
    scheduler_ = &scheduler;
    before_switch(scheduler, san_, false, /*sync=*/!started_);
    started_ = true;
    const fctx::transfer_t t = fctx::jump_fcontext(ctx_, this);
    SanitizerFiber ignored_from;
    after_switch(scheduler, ignored_from);
    ctx_ = t.fctx;
  }

  // Fiber side: give control back to the scheduler until it resumes us.
  void yield() {
    before_switch(san_, *scheduler_, false, false);
    const fctx::transfer_t t = fctx::jump_fcontext(scheduler_ctx_, nullptr);
    scheduler_ctx_ = t.fctx;
    after_switch(san_, *scheduler_);
  }

  // Fiber side: leave for good. The stack may be reused as soon as the scheduler runs again.
  [[noreturn]] SKN_EMU_NO_TSAN void finish() {
    finished_ = true;
    before_switch(san_, *scheduler_, true, false);
    fctx::jump_fcontext(scheduler_ctx_, nullptr);
    __builtin_unreachable();
  }

  // Scheduler side, when the slot is no longer needed: release the sanitizers' per-fiber state.
  void destroy() {
    tsan_destroy_fiber(san_.tsan_fiber);
    san_.tsan_fiber = nullptr;
  }

  bool finished() const { return finished_; }
  const Stack& stack() const { return stack_; }

 private:
  SKN_EMU_NO_TSAN static void trampoline(fctx::transfer_t t) {
    Fiber* self = static_cast<Fiber*>(t.data);
    self->scheduler_ctx_ = t.fctx;
    after_switch(self->san_, *self->scheduler_);  // ASan tells us the scheduler's stack bounds here
    self->entry_(self->arg_);
    // entry_ must call finish(); returning here would run off the bottom of the stack.
    __builtin_trap();
  }

  fctx::fcontext_t ctx_ = nullptr;            // where to resume this fiber
  fctx::fcontext_t scheduler_ctx_ = nullptr;  // where to go back to (valid while running)
  SanitizerFiber* scheduler_ = nullptr;
  SanitizerFiber san_;
  Stack stack_;
  Entry entry_ = nullptr;
  void* arg_ = nullptr;
  bool started_ = false;
  bool finished_ = false;
};

}  // namespace skinnet::emu::detail
