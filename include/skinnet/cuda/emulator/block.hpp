#pragma once
// The block scheduler: runs the threads of one CUDA block as fibers on the current OS thread.
//
// Every emulated thread runs until it must wait — at a block barrier (__syncthreads and friends), at a
// warp collective (shuffles, votes, __syncwarp) — or until it returns. The scheduler resumes the ready
// threads in the launch's ThreadOrder; when none is ready it looks at why:
//   - every live thread waits at the SAME block barrier and none has exited: the barrier opens, a new
//     "phase" begins (with a fresh order under ThreadOrder::Random);
//   - anything else is a kernel bug that would hang or misbehave on a GPU (threads at different
//     barriers, a barrier some threads skipped by returning early, a shuffle whose member lanes never
//     all arrive): the block is aborted and the launch fails with a CudaError that says who waits
//     where. A bug in the kernel never hangs the emulator.
// A warp collective completes as soon as every existing lane named in its mask has arrived; the
// last lane to arrive computes everybody's result and carries on without a switch.
//
// Aborting: the threads still suspended are resumed one last time and throw KernelAbort from their
// wait, which unwinds their stacks (running destructors) before they finish.
#include <array>
#include <bit>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <source_location>
#include <version>
#include <string>
#include <vector>

#include "skinnet/core/error.hpp"
#include "skinnet/cuda/emulator/config.hpp"
#include "skinnet/cuda/emulator/fiber.hpp"
#include "skinnet/cuda/emulator/sanitizer.hpp"
#include "skinnet/cuda/emulator/thread_order.hpp"
#include "skinnet/cuda/emulator/vector_types.hpp"

namespace skinnet::emu::detail {

using ::skinnet::detail::concat;

// Thrown inside an emulated thread to unwind it when its block is aborted. Not an std::exception, so
// kernel code that catches std::exception cannot swallow it.
struct KernelAbort {};

// The bit pattern of never-written device memory and of undefined shuffle results: a quiet NaN as a
// float (0x7FFFFFFF) and as a double (0x7FFFFFFF7FFFFFFF), INT_MAX as an int.
inline constexpr std::uint64_t kPoison64 = 0x7FFFFFFF7FFFFFFFull;
inline constexpr unsigned char kPoisonBytes[4] = {0xFF, 0xFF, 0xFF, 0x7F};

inline void poison(void* p, std::size_t bytes) {
  auto* b = static_cast<unsigned char*>(p);
  for (std::size_t i = 0; i < bytes; ++i) b[i] = kPoisonBytes[i & 3];
}

// A source location that identifies a barrier or warp intrinsic call. As a default argument,
// Site::current() is the location of the intrinsic's caller (std::source_location where the standard
// library supports it; the compiler builtins, without the column, otherwise, e.g. clang 14).
struct Site {
  const char* file = "?";
  unsigned line = 0;
  unsigned column = 0;
#if defined(__cpp_lib_source_location)
  static constexpr Site current(std::source_location l = std::source_location::current()) {
    return Site{l.file_name(), l.line(), l.column()};
  }
#else
  static constexpr Site current(const char* file = __builtin_FILE(), unsigned line = __builtin_LINE()) {
    return Site{file, line, 0};
  }
#endif
  bool operator==(const Site& o) const {
    return line == o.line && column == o.column && (file == o.file || std::strcmp(file, o.file) == 0);
  }
  std::string str() const { return concat(file, ":", line); }
};

enum class BarrierOp : std::uint8_t { Sync, Count, And, Or };
enum class WarpOp : std::uint8_t { SyncWarp, ShflIdx, ShflUp, ShflDown, ShflXor, Ballot, Any, All };

inline const char* name_of(BarrierOp op) {
  switch (op) {
    case BarrierOp::Sync: return "__syncthreads";
    case BarrierOp::Count: return "__syncthreads_count";
    case BarrierOp::And: return "__syncthreads_and";
    case BarrierOp::Or: return "__syncthreads_or";
  }
  return "?";
}
inline const char* name_of(WarpOp op) {
  switch (op) {
    case WarpOp::SyncWarp: return "__syncwarp";
    case WarpOp::ShflIdx: return "__shfl_sync";
    case WarpOp::ShflUp: return "__shfl_up_sync";
    case WarpOp::ShflDown: return "__shfl_down_sync";
    case WarpOp::ShflXor: return "__shfl_xor_sync";
    case WarpOp::Ballot: return "__ballot_sync";
    case WarpOp::Any: return "__any_sync";
    case WarpOp::All: return "__all_sync";
  }
  return "?";
}

inline std::string hex32(std::uint32_t v) {
  static const char* digits = "0123456789abcdef";
  std::string s = "0x";
  for (int shift = 28; shift >= 0; shift -= 4) s += digits[(v >> shift) & 15];
  return s;
}

// Everything the blocks of one launch share (filled in by launch.hpp).
struct LaunchInfo {
  const char* kernel_name = "?";
  const char* file = "?";
  int line = 0;
  dim3 grid, block;
  std::size_t dynamic_smem = 0;
  void (*invoke)(const void* args) = nullptr;  // calls the kernel with the launch's arguments
  const void* args = nullptr;
  ThreadOrder order = ThreadOrder::Forward;
  std::uint64_t seed = 0;
  std::uint64_t launch_number = 0;
};

// What blockIdx, blockDim, gridDim and dynamic shared memory read: fixed for the whole block, and a
// block never leaves its OS thread, so a thread_local serves all its fibers.
struct BlockInfo {
  uint3 block_idx{0, 0, 0};
  dim3 block_dim{1, 1, 1};
  dim3 grid_dim{1, 1, 1};
  unsigned char* dynamic_smem = nullptr;
  std::size_t dynamic_smem_bytes = 0;
};

struct EmuThread {
  enum class State : std::uint8_t { Ready, Running, Waiting, Exited };
  enum class Wait : std::uint8_t { None, Barrier, Warp };

  Fiber fiber;
  uint3 idx{0, 0, 0};
  unsigned tid = 0, lane = 0, warp = 0;
  State state = State::Ready;
  Wait wait = Wait::None;
  Site site;
  // At a block barrier:
  BarrierOp barrier_op = BarrierOp::Sync;
  int pred = 0;
  int barrier_result = 0;
  // In a warp collective:
  WarpOp warp_op = WarpOp::SyncWarp;
  std::uint32_t mask = 0;
  std::uint64_t value = 0;
  int param = 0;
  int width = 32;
  std::uint64_t result = 0;
};

struct WarpCollective {
  bool used = false;
  WarpOp op = WarpOp::SyncWarp;
  std::uint32_t mask = 0;
  std::uint32_t arrived = 0;
  Site site;
  unsigned sync_slot = 0;
};

struct WarpState {
  std::uint32_t existing = 0;  // lanes that exist (the last warp of a block may be partial)
  std::uint32_t exited = 0;
  std::array<WarpCollective, 32> pending{};  // a lane waits in at most one collective
  std::uint32_t used = 0;                     // which entries of `pending` are open
  unsigned next_sync = 0;
  // TSan synchronisation addresses, handed out round-robin to collectives (see sanitizer.hpp).
  std::array<char, 64> sync{};
};

inline thread_local EmuThread* tl_thread = nullptr;
inline thread_local BlockInfo tl_block{};

[[noreturn]] inline void outside_kernel(const char* what) {
  throw CudaError(concat("CUDA emulator: ", what,
                         " used outside a kernel launched through SKN_LAUNCH (no emulated thread is running)"));
}
inline EmuThread& current_thread(const char* what) {
  EmuThread* t = tl_thread;
  if (!t) outside_kernel(what);
  return *t;
}

class BlockRunner {
 public:
  // The runner of the calling OS thread (each worker has its own, with its own stack pool).
  static BlockRunner& this_thread() {
    thread_local BlockRunner runner;
    return runner;
  }

  // Runs every thread of block `block_idx` to completion. Throws CudaError if the block fails.
  void run(const LaunchInfo& launch, uint3 block_idx) {
    TsanIgnore ignore;  // the scheduler's bookkeeping is invisible to TSan (see sanitizer.hpp)
    launch_ = &launch;
    const dim3 bd = launch.block;
    const unsigned n = bd.x * bd.y * bd.z;
    if (threads_.size() < n) threads_.resize(n);
    const unsigned nwarps = (n + 31) / 32;
    if (warps_.size() < nwarps) warps_.resize(nwarps);

    void* smem = nullptr;
    if (launch.dynamic_smem > 0) {
      // A buffer of exactly the requested size, so ASan reports any access past its end.
      if (::posix_memalign(&smem, 16, launch.dynamic_smem) != 0)
        throw CudaError(concat("CUDA emulator: cannot allocate ", launch.dynamic_smem,
                               " bytes of dynamic shared memory for kernel '", launch.kernel_name, "'"));
      poison(smem, launch.dynamic_smem);
    }
    tl_block = BlockInfo{block_idx, bd, launch.grid, static_cast<unsigned char*>(smem), launch.dynamic_smem};
    scheduler_.tsan_fiber = tsan_current_fiber();

    live_ = n;
    ready_ = n;
    at_barrier_ = 0;
    exited_ = 0;
    phase_ = 0;
    aborting_ = false;
    error_.clear();
    for (unsigned w = 0; w < nwarps; ++w) {
      WarpState& ws = warps_[w];
      const unsigned lanes = (w + 1) * 32 <= n ? 32 : n - w * 32;
      ws.existing = lanes == 32 ? 0xFFFFFFFFu : ((1u << lanes) - 1);
      ws.exited = 0;
      ws.used = 0;
      for (WarpCollective& c : ws.pending) c.used = false;
    }
    for (unsigned i = 0; i < n; ++i) {
      EmuThread& t = threads_[i];
      t.idx = uint3{i % bd.x, (i / bd.x) % bd.y, i / (bd.x * bd.y)};
      t.tid = i;
      t.lane = i % 32;
      t.warp = i / 32;
      t.state = EmuThread::State::Ready;
      t.wait = EmuThread::Wait::None;
      t.fiber.start(stacks_.acquire(), &thread_main, &t);
    }

    const std::uint64_t block_linear =
        block_idx.x + std::uint64_t(launch.grid.x) * (block_idx.y + std::uint64_t(launch.grid.y) * block_idx.z);
    make_order(order_, n, launch.order, launch.seed, launch.launch_number, block_linear, phase_);
    for (;;) {
      while (ready_ > 0) {
        for (const unsigned i : order_) {
          EmuThread& t = threads_[i];
          if (t.state == EmuThread::State::Ready) resume(t);
        }
      }
      if (live_ == 0) break;
      if (release_barrier()) {
        ++phase_;
        if (launch.order == ThreadOrder::Random)
          make_order(order_, n, launch.order, launch.seed, launch.launch_number, block_linear, phase_);
      } else {
        abort_block(diagnose_deadlock());
      }
    }

    for (unsigned i = 0; i < n; ++i) stacks_.release(threads_[i].fiber.stack());
    tsan_acquire(&block_end_sync_);  // everything the block's threads did happens before what follows
    std::free(smem);
    tl_block = BlockInfo{};
    if (!error_.empty()) {
      throw CudaError(concat("CUDA emulator: kernel '", launch.kernel_name, "' launched at ", launch.file, ":",
                             launch.line, " failed in block (", block_idx.x, ",", block_idx.y, ",", block_idx.z,
                             ") of grid (", launch.grid.x, ",", launch.grid.y, ",", launch.grid.z, "), block (",
                             bd.x, ",", bd.y, ",", bd.z, "): ", error_));
    }
  }

  // ---- called from emulated threads ----------------------------------------------------------------

  int barrier(BarrierOp op, int pred, Site site) {
    EmuThread& t = current_thread(name_of(op));
    unsigned phase;
    {
      TsanIgnore ignore;
      t.state = EmuThread::State::Waiting;
      t.wait = EmuThread::Wait::Barrier;
      t.site = site;
      t.barrier_op = op;
      t.pred = pred != 0;
      ++at_barrier_;
      phase = phase_;
    }
    tsan_release(&barrier_sync_[phase & 1]);  // my writes before the barrier ...
    {
      TsanIgnore ignore;
      t.fiber.yield();
      if (aborting_) throw KernelAbort{};
    }
    tsan_acquire(&barrier_sync_[phase & 1]);  // ... are visible to everyone after it
    return t.barrier_result;
  }

  // A warp-level barrier among the lanes of `mask`; returns this lane's result (shuffles: the source
  // lane's value bits; votes: the ballot). `param` is the shuffle's lane or delta.
  std::uint64_t warp_collective(WarpOp op, std::uint32_t mask, std::uint64_t value, int param, int width,
                                Site site) {
    EmuThread& t = current_thread(name_of(op));
    WarpState& w = warps_[t.warp];
    unsigned slot = 0;
    bool complete = false;
    int index = -1;
    {
      TsanIgnore ignore;
      const std::uint32_t me = 1u << t.lane;
      if (!(mask & me))
        throw CudaError(concat(name_of(op), " at ", site.str(), ": thread (", t.idx.x, ",", t.idx.y, ",", t.idx.z,
                               ") is lane ", t.lane, ", which is not in the member mask ", hex32(mask),
                               " (undefined behaviour in CUDA: a lane must name itself)"));
      for (std::uint32_t used = w.used; used != 0 && index < 0; used &= used - 1) {
        const int i = std::countr_zero(used);
        if (w.pending[i].mask == mask && !(w.pending[i].arrived & me)) index = i;
      }
      if (index < 0) {  // the first lane to arrive opens the collective
        index = std::countr_zero(~w.used);
        w.used |= 1u << index;
        w.pending[index] = WarpCollective{true, op, mask, 0, site, w.next_sync};
        w.next_sync = (w.next_sync + 1) % w.sync.size();
      }
      WarpCollective& c = w.pending[index];
      if (c.op != op)
        throw CudaError(concat("warp divergence in warp ", t.warp, ": lane ", t.lane, " calls ", name_of(op), " at ",
                               site.str(), " while other lanes of mask ", hex32(mask), " wait in ", name_of(c.op),
                               " at ", c.site.str()));
      t.warp_op = op;
      t.mask = mask;
      t.value = value;
      t.param = param;
      t.width = width;
      t.site = site;
      c.arrived |= me;
      slot = c.sync_slot;
      complete = c.arrived == (c.mask & w.existing);
    }
    tsan_release(&w.sync[slot]);
    {
      TsanIgnore ignore;
      if (complete) {
        complete_collective(w, index);
      } else {
        t.state = EmuThread::State::Waiting;
        t.wait = EmuThread::Wait::Warp;
        t.fiber.yield();
        if (aborting_) throw KernelAbort{};
      }
    }
    tsan_acquire(&w.sync[slot]);
    return t.result;
  }

  // Lanes of the caller's warp that exist and have not returned.
  std::uint32_t active_mask() {
    EmuThread& t = current_thread("__activemask");
    TsanIgnore ignore;
    const WarpState& w = warps_[t.warp];
    return w.existing & ~w.exited;
  }

 private:
  BlockRunner() : stacks_(env_size("SKINNET_EMU_STACK_KB", kDefaultStackBytes / 1024) * 1024) {}
  ~BlockRunner() {
    for (EmuThread& t : threads_) t.fiber.destroy();
  }

  SKN_EMU_NO_TSAN static void thread_main(void* arg) {
    EmuThread& t = *static_cast<EmuThread*>(arg);
    this_thread().run_thread(t);
    t.fiber.finish();
  }

  void run_thread(EmuThread& t) {
    bool skip;
    {
      TsanIgnore ignore;
      skip = aborting_;  // the block already failed: do not start running kernel code
    }
    if (!skip) {
      try {
        launch_->invoke(launch_->args);
      } catch (const KernelAbort&) {
      } catch (const std::exception& e) {
        fail(t, e.what());
      } catch (...) {
        fail(t, "an exception that is not a std::exception escaped the kernel");
      }
    }
    tsan_release(&block_end_sync_);
    TsanIgnore ignore;
    t.state = EmuThread::State::Exited;
    t.wait = EmuThread::Wait::None;
    --live_;
    ++exited_;
    warps_[t.warp].exited |= 1u << t.lane;
  }

  void resume(EmuThread& t) {
    t.state = EmuThread::State::Running;
    --ready_;
    tl_thread = &t;
    t.fiber.resume(scheduler_);
    tl_thread = nullptr;
  }

  void make_ready(EmuThread& t) {
    t.state = EmuThread::State::Ready;
    t.wait = EmuThread::Wait::None;
    ++ready_;
  }

  // Opens the block barrier if every live thread waits at the same one; false if that is not the case.
  bool release_barrier() {
    if (at_barrier_ == 0 || at_barrier_ != live_ || exited_ != 0) return false;
    const unsigned n = launch_->block.x * launch_->block.y * launch_->block.z;
    const EmuThread& first = threads_[0];
    int count = 0;
    for (unsigned i = 0; i < n; ++i) {
      const EmuThread& t = threads_[i];
      if (!(t.site == first.site) || t.barrier_op != first.barrier_op) return false;
      count += t.pred;
    }
    int result = 0;
    switch (first.barrier_op) {
      case BarrierOp::Sync: result = 0; break;
      case BarrierOp::Count: result = count; break;
      case BarrierOp::And: result = count == static_cast<int>(n); break;
      case BarrierOp::Or: result = count > 0; break;
    }
    for (unsigned i = 0; i < n; ++i) {
      threads_[i].barrier_result = result;
      make_ready(threads_[i]);
    }
    at_barrier_ = 0;
    return true;
  }

  void complete_collective(WarpState& w, int index) {
    WarpCollective& c = w.pending[index];
    const std::uint32_t members = c.mask & w.existing;
    EmuThread* base = &threads_[(tl_thread->warp) * 32];
    std::uint32_t ballot = 0;
    for (unsigned l = 0; l < 32; ++l)
      if ((members >> l) & 1u) ballot |= (base[l].value != 0 ? 1u : 0u) << l;
    for (unsigned l = 0; l < 32; ++l) {
      if (!((members >> l) & 1u)) continue;
      EmuThread& u = base[l];
      switch (c.op) {
        case WarpOp::SyncWarp: u.result = 0; break;
        case WarpOp::Ballot: u.result = ballot; break;
        case WarpOp::Any: u.result = ballot != 0; break;
        case WarpOp::All: u.result = ballot == members; break;
        default: {
          const int src = shuffle_source(c.op, static_cast<int>(l), u.param, u.width);
          if (src == static_cast<int>(l)) u.result = u.value;
          else if ((members >> src) & 1u) u.result = base[src].value;
          else u.result = kPoison64;  // reading a lane outside the mask: undefined on a GPU
        }
      }
      if (&u != tl_thread) make_ready(u);
    }
    c.used = false;
    w.used &= ~(1u << index);
  }

  // PTX shfl.sync semantics: which lane `lane` reads, with CUDA's encoding of `width` (a power of two
  // splitting the warp into independent segments).
  static int shuffle_source(WarpOp op, int lane, int param, int width) {
    const int segmask = (32 - width) & 31;  // high lane bits that select the segment
    const int b = param & 31;
    const int min_lane = lane & segmask;
    const int max_lane = min_lane | (31 & ~segmask);
    int j = lane;
    bool ok = false;
    switch (op) {
      case WarpOp::ShflUp: j = lane - b; ok = j >= min_lane; break;
      case WarpOp::ShflDown: j = lane + b; ok = j <= max_lane; break;
      case WarpOp::ShflXor: j = lane ^ b; ok = j <= max_lane; break;
      case WarpOp::ShflIdx: j = min_lane | (b & ~segmask); ok = j <= max_lane; break;
      default: break;
    }
    return ok ? j : lane;
  }

  void fail(EmuThread& t, const std::string& what) {
    TsanIgnore ignore;
    if (error_.empty())
      error_ = concat("thread (", t.idx.x, ",", t.idx.y, ",", t.idx.z, "): ", what);
    abort_all();
  }

  void abort_block(const std::string& why) {
    if (error_.empty()) error_ = why;
    abort_all();
  }

  void abort_all() {
    aborting_ = true;
    const unsigned n = launch_->block.x * launch_->block.y * launch_->block.z;
    for (unsigned i = 0; i < n; ++i)
      if (threads_[i].state == EmuThread::State::Waiting) make_ready(threads_[i]);
    at_barrier_ = 0;
  }

  static std::string thread_list(const std::vector<unsigned>& tids) {
    std::string s;
    std::size_t i = 0, shown = 0;
    while (i < tids.size()) {
      std::size_t j = i;
      while (j + 1 < tids.size() && tids[j + 1] == tids[j] + 1) ++j;
      if (shown++ == 8) {
        s += ", ...";
        break;
      }
      if (!s.empty()) s += ", ";
      s += j == i ? concat(tids[i]) : concat(tids[i], "-", tids[j]);
      i = j + 1;
    }
    return s;
  }

  // No thread can run and the block barrier cannot open: explain why, as precisely as possible.
  std::string diagnose_deadlock() const {
    const unsigned n = launch_->block.x * launch_->block.y * launch_->block.z;
    std::vector<Site> sites;
    std::vector<std::vector<unsigned>> at_site;
    std::vector<unsigned> exited, in_warp;
    for (unsigned i = 0; i < n; ++i) {
      const EmuThread& t = threads_[i];
      if (t.state == EmuThread::State::Exited) {
        exited.push_back(i);
      } else if (t.wait == EmuThread::Wait::Barrier) {
        std::size_t k = 0;
        while (k < sites.size() && !(sites[k] == t.site)) ++k;
        if (k == sites.size()) {
          sites.push_back(t.site);
          at_site.emplace_back();
        }
        at_site[k].push_back(i);
      } else {
        in_warp.push_back(i);
      }
    }
    std::string msg;
    if (in_warp.empty() && sites.size() == 1) {
      msg = concat("divergent barrier: ", name_of(threads_[at_site[0][0]].barrier_op), " at ", sites[0].str(),
                   " is reached by threads (linear ids) ", thread_list(at_site[0]), " while threads ",
                   thread_list(exited),
                   " have already returned; every thread of a block must reach each barrier "
                   "(on a GPU this is undefined behaviour and may hang)");
    } else if (in_warp.empty()) {
      msg = "divergent barrier: the threads of the block wait at different barriers:";
      for (std::size_t k = 0; k < sites.size(); ++k)
        msg += concat(" threads ", thread_list(at_site[k]), " at ", name_of(threads_[at_site[k][0]].barrier_op), " (",
                      sites[k].str(), ");");
      if (!exited.empty()) msg += concat(" threads ", thread_list(exited), " have returned;");
      msg += " every thread of a block must reach the same barrier (on a GPU this hangs or corrupts results)";
    } else {
      msg = "deadlock in warp-level code:";
      for (std::size_t k = 0; k < sites.size(); ++k)
        msg += concat(" threads ", thread_list(at_site[k]), " wait at ", name_of(threads_[at_site[k][0]].barrier_op),
                      " (", sites[k].str(), ");");
      for (std::size_t w = 0; w < warps_.size() && w * 32 < n; ++w) {
        for (const WarpCollective& c : warps_[w].pending) {
          if (!c.used) continue;
          const std::uint32_t missing = (c.mask & warps_[w].existing) & ~c.arrived;
          const std::uint32_t gone = missing & warps_[w].exited;
          msg += concat(" warp ", w, ": lanes ", hex32(c.arrived), " wait in ", name_of(c.op), " (", c.site.str(),
                        ") with mask ", hex32(c.mask), " for lanes ", hex32(missing));
          if (gone) msg += concat(" (lanes ", hex32(gone), " have returned)");
          msg += ";";
        }
      }
      msg += " every lane named in a warp intrinsic's mask must call the same intrinsic";
    }
    return msg;
  }

  const LaunchInfo* launch_ = nullptr;
  std::vector<EmuThread> threads_;
  std::vector<WarpState> warps_;
  std::vector<unsigned> order_;
  StackPool stacks_;
  SanitizerFiber scheduler_;
  unsigned live_ = 0, ready_ = 0, at_barrier_ = 0, exited_ = 0, phase_ = 0;
  bool aborting_ = false;
  std::string error_;
  char barrier_sync_[2] = {};  // TSan: barrier arrivals release, departures acquire (by phase parity)
  char block_end_sync_ = 0;    // TSan: thread exits release, the scheduler acquires at block end
};

}  // namespace skinnet::emu::detail
