#pragma once
// Streams and events. Emulated launches and copies complete before they return, so a stream is only a
// validated handle and synchronising is a no-op; events record host time so cudaEventElapsedTime
// measures the emulated work between two records (useful for relative timings only).
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>

#include "skinnet/cuda/emulator/error.hpp"

struct CUstream_st {
  unsigned flags = 0;
};
struct CUevent_st {
  std::chrono::steady_clock::time_point when{};
  bool recorded = false;
  unsigned flags = 0;
};
using cudaStream_t = CUstream_st*;
using cudaEvent_t = CUevent_st*;

inline constexpr unsigned cudaStreamDefault = 0x0;
inline constexpr unsigned cudaStreamNonBlocking = 0x1;
inline constexpr unsigned cudaEventDefault = 0x0;
inline constexpr unsigned cudaEventBlockingSync = 0x1;
inline constexpr unsigned cudaEventDisableTiming = 0x2;

namespace skinnet::emu::detail {

// Owns the live handles, so that using a destroyed (or never created) stream or event is reported as
// cudaErrorInvalidResourceHandle instead of touching freed memory.
template <class T>
class HandleRegistry {
 public:
  static HandleRegistry& instance() {
    static HandleRegistry r;
    return r;
  }
  T* create() {
    auto h = std::make_unique<T>();
    T* raw = h.get();
    std::lock_guard lock(m_);
    live_.emplace(raw, std::move(h));
    return raw;
  }
  bool destroy(T* h) {
    std::lock_guard lock(m_);
    return live_.erase(h) == 1;
  }
  bool contains(T* h) const {
    std::lock_guard lock(m_);
    return live_.count(h) == 1;
  }

 private:
  mutable std::mutex m_;
  std::map<T*, std::unique_ptr<T>> live_;
};

// The legacy default stream (nullptr) and cudaStreamPerThread are always valid.
inline bool valid_stream(cudaStream_t s) {
  return s == nullptr || reinterpret_cast<std::uintptr_t>(s) == 0x2 ||
         HandleRegistry<CUstream_st>::instance().contains(s);
}

}  // namespace skinnet::emu::detail

#define cudaStreamPerThread (reinterpret_cast<cudaStream_t>(0x2))

inline cudaError_t cudaStreamCreateWithFlags(cudaStream_t* s, unsigned flags) {
  if (!s) return skinnet::emu::detail::fail(cudaErrorInvalidValue);
  *s = skinnet::emu::detail::HandleRegistry<CUstream_st>::instance().create();
  (*s)->flags = flags;
  return cudaSuccess;
}
inline cudaError_t cudaStreamCreate(cudaStream_t* s) { return cudaStreamCreateWithFlags(s, cudaStreamDefault); }
inline cudaError_t cudaStreamDestroy(cudaStream_t s) {
  if (!s || !skinnet::emu::detail::HandleRegistry<CUstream_st>::instance().destroy(s))
    return skinnet::emu::detail::fail(cudaErrorInvalidResourceHandle);
  return cudaSuccess;
}
inline cudaError_t cudaStreamSynchronize(cudaStream_t s) {
  return skinnet::emu::detail::valid_stream(s) ? cudaSuccess
                                               : skinnet::emu::detail::fail(cudaErrorInvalidResourceHandle);
}
inline cudaError_t cudaStreamQuery(cudaStream_t s) { return cudaStreamSynchronize(s); }

inline cudaError_t cudaEventCreateWithFlags(cudaEvent_t* e, unsigned flags) {
  if (!e) return skinnet::emu::detail::fail(cudaErrorInvalidValue);
  *e = skinnet::emu::detail::HandleRegistry<CUevent_st>::instance().create();
  (*e)->flags = flags;
  return cudaSuccess;
}
inline cudaError_t cudaEventCreate(cudaEvent_t* e) { return cudaEventCreateWithFlags(e, cudaEventDefault); }
inline cudaError_t cudaEventDestroy(cudaEvent_t e) {
  if (!e || !skinnet::emu::detail::HandleRegistry<CUevent_st>::instance().destroy(e))
    return skinnet::emu::detail::fail(cudaErrorInvalidResourceHandle);
  return cudaSuccess;
}
inline cudaError_t cudaEventRecord(cudaEvent_t e, cudaStream_t s = nullptr) {
  using namespace skinnet::emu::detail;
  if (!e || !HandleRegistry<CUevent_st>::instance().contains(e) || !valid_stream(s))
    return fail(cudaErrorInvalidResourceHandle);
  e->when = std::chrono::steady_clock::now();
  e->recorded = true;
  return cudaSuccess;
}
inline cudaError_t cudaEventSynchronize(cudaEvent_t e) {
  if (!e || !skinnet::emu::detail::HandleRegistry<CUevent_st>::instance().contains(e))
    return skinnet::emu::detail::fail(cudaErrorInvalidResourceHandle);
  return cudaSuccess;
}
inline cudaError_t cudaEventQuery(cudaEvent_t e) { return cudaEventSynchronize(e); }
inline cudaError_t cudaStreamWaitEvent(cudaStream_t s, cudaEvent_t e, unsigned /*flags*/ = 0) {
  using namespace skinnet::emu::detail;
  if (!valid_stream(s) || !e || !HandleRegistry<CUevent_st>::instance().contains(e))
    return fail(cudaErrorInvalidResourceHandle);
  return cudaSuccess;
}
// Milliseconds between two recorded events, as CUDA reports it.
inline cudaError_t cudaEventElapsedTime(float* ms, cudaEvent_t start, cudaEvent_t stop) {
  using namespace skinnet::emu::detail;
  if (!ms) return fail(cudaErrorInvalidValue);
  auto& reg = HandleRegistry<CUevent_st>::instance();
  if (!start || !stop || !reg.contains(start) || !reg.contains(stop)) return fail(cudaErrorInvalidResourceHandle);
  if ((start->flags | stop->flags) & cudaEventDisableTiming) return fail(cudaErrorInvalidResourceHandle);
  if (!start->recorded || !stop->recorded) return fail(cudaErrorNotReady);
  *ms = std::chrono::duration<float, std::milli>(stop->when - start->when).count();
  return cudaSuccess;
}

inline cudaError_t cudaDeviceSynchronize() { return cudaSuccess; }
