#pragma once
// The OS threads that run a launch's blocks. Blocks are handed out one at a time from an atomic
// counter; the launching thread works too, so a one-block launch never touches another thread. A
// block runs start to finish on the thread that took it (its fibers, its __shared__ thread_locals).
// Launches are serialised: the emulated device runs one kernel at a time, like a single stream.
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "skinnet/cuda/emulator/limits.hpp"

namespace skinnet::emu::detail {

class WorkerPool {
 public:
  using BlockFn = void (*)(const void* ctx, std::uint64_t block);

  static WorkerPool& instance() {
    static WorkerPool pool(worker_count() - 1);
    return pool;
  }

  // Calls fn(ctx, b) for every b in [0, count), spread over the workers; rethrows the first failure
  // (after which no further block is started).
  void run(std::uint64_t count, BlockFn fn, const void* ctx) {
    std::lock_guard serial(launch_mutex_);
    Job job;
    job.count = count;
    job.fn = fn;
    job.ctx = ctx;
    const bool share = !threads_.empty() && count > 1;
    if (share) {
      {
        std::lock_guard lock(m_);
        job_ = &job;
        ++generation_;
      }
      wake_.notify_all();
    }
    work(job);
    if (share) {
      std::unique_lock lock(m_);
      job_ = nullptr;  // no worker joins from now on
      done_.wait(lock, [&] { return job.active == 0; });
    }
    if (job.error) std::rethrow_exception(job.error);
  }

  ~WorkerPool() {
    {
      std::lock_guard lock(m_);
      stop_ = true;
    }
    wake_.notify_all();
    for (std::thread& t : threads_) t.join();
  }

 private:
  struct Job {
    std::uint64_t count = 0;
    BlockFn fn = nullptr;
    const void* ctx = nullptr;
    std::atomic<std::uint64_t> next{0};
    std::atomic<bool> failed{false};
    std::mutex error_mutex;
    std::exception_ptr error;
    unsigned active = 0;  // workers inside work(), guarded by the pool mutex
  };

  explicit WorkerPool(unsigned helpers) {
    for (unsigned i = 0; i < helpers; ++i) threads_.emplace_back([this] { loop(); });
  }

  void loop() {
    std::uint64_t seen = 0;
    for (;;) {
      Job* job = nullptr;
      {
        std::unique_lock lock(m_);
        wake_.wait(lock, [&] { return stop_ || (job_ != nullptr && generation_ != seen); });
        if (stop_) return;
        seen = generation_;
        job = job_;
        ++job->active;
      }
      work(*job);
      {
        std::lock_guard lock(m_);
        --job->active;
      }
      done_.notify_all();
    }
  }

  static void work(Job& job) {
    while (!job.failed.load(std::memory_order_relaxed)) {
      const std::uint64_t b = job.next.fetch_add(1, std::memory_order_relaxed);
      if (b >= job.count) return;
      try {
        job.fn(job.ctx, b);
      } catch (...) {
        std::lock_guard lock(job.error_mutex);
        if (!job.error) job.error = std::current_exception();
        job.failed.store(true, std::memory_order_relaxed);
      }
    }
  }

  std::mutex launch_mutex_;
  std::mutex m_;
  std::condition_variable wake_, done_;
  Job* job_ = nullptr;
  std::uint64_t generation_ = 0;
  bool stop_ = false;
  std::vector<std::thread> threads_;
};

}  // namespace skinnet::emu::detail
