#pragma once
// CUDA atomics over std::atomic_ref, with the overloads CUDA offers (so code that compiles here also
// compiles with nvcc). CUDA atomics are relaxed: they order nothing but themselves. Threads of a block
// share one OS thread, but blocks run on different workers, so the operations are truly atomic.
// Floating-point atomicAdd is a compare-and-swap loop, as on GPUs without a native instruction.
#include <atomic>
#include <cstdint>
#include <type_traits>

namespace skinnet::emu::detail {

template <class T>
inline std::atomic_ref<T> aref(T* p) {
  return std::atomic_ref<T>(*p);
}

template <class T, class F>
inline T atomic_update(T* address, F f) {  // returns the old value; f(old) is the new one
  auto a = aref(address);
  T old = a.load(std::memory_order_relaxed);
  while (!a.compare_exchange_weak(old, f(old), std::memory_order_relaxed)) {
  }
  return old;
}

}  // namespace skinnet::emu::detail

#define SKN_EMU_ATOMIC_ARITH(T)                                                                               \
  inline T atomicAdd(T* a, T v) { return skinnet::emu::detail::aref(a).fetch_add(v, std::memory_order_relaxed); } \
  inline T atomicExch(T* a, T v) { return skinnet::emu::detail::aref(a).exchange(v, std::memory_order_relaxed); } \
  inline T atomicAnd(T* a, T v) { return skinnet::emu::detail::aref(a).fetch_and(v, std::memory_order_relaxed); } \
  inline T atomicOr(T* a, T v) { return skinnet::emu::detail::aref(a).fetch_or(v, std::memory_order_relaxed); }   \
  inline T atomicXor(T* a, T v) { return skinnet::emu::detail::aref(a).fetch_xor(v, std::memory_order_relaxed); } \
  inline T atomicCAS(T* a, T compare, T v) {                                                                 \
    skinnet::emu::detail::aref(a).compare_exchange_strong(compare, v, std::memory_order_relaxed);           \
    return compare;                                                                                          \
  }
#define SKN_EMU_ATOMIC_MINMAX(T)                                                                             \
  inline T atomicMin(T* a, T v) {                                                                            \
    return skinnet::emu::detail::atomic_update(a, [v](T old) { return v < old ? v : old; });               \
  }                                                                                                          \
  inline T atomicMax(T* a, T v) {                                                                            \
    return skinnet::emu::detail::atomic_update(a, [v](T old) { return v > old ? v : old; });               \
  }
#define SKN_EMU_ATOMIC_SUB(T) \
  inline T atomicSub(T* a, T v) { return skinnet::emu::detail::aref(a).fetch_sub(v, std::memory_order_relaxed); }

// The integer overloads CUDA declares (sm_80): no atomicSub on 64 bits, only min/max for long long.
SKN_EMU_ATOMIC_ARITH(int)
SKN_EMU_ATOMIC_ARITH(unsigned int)
SKN_EMU_ATOMIC_ARITH(unsigned long long int)
SKN_EMU_ATOMIC_MINMAX(int)
SKN_EMU_ATOMIC_MINMAX(unsigned int)
SKN_EMU_ATOMIC_MINMAX(unsigned long long int)
SKN_EMU_ATOMIC_MINMAX(long long int)
SKN_EMU_ATOMIC_SUB(int)
SKN_EMU_ATOMIC_SUB(unsigned int)
#undef SKN_EMU_ATOMIC_ARITH
#undef SKN_EMU_ATOMIC_MINMAX
#undef SKN_EMU_ATOMIC_SUB

inline unsigned short atomicCAS(unsigned short* a, unsigned short compare, unsigned short v) {
  skinnet::emu::detail::aref(a).compare_exchange_strong(compare, v, std::memory_order_relaxed);
  return compare;
}

inline float atomicAdd(float* a, float v) {
  return skinnet::emu::detail::atomic_update(a, [v](float old) { return old + v; });
}
inline double atomicAdd(double* a, double v) {
  return skinnet::emu::detail::atomic_update(a, [v](double old) { return old + v; });
}
inline float atomicExch(float* a, float v) { return skinnet::emu::detail::aref(a).exchange(v, std::memory_order_relaxed); }

// atomicInc/atomicDec wrap around as CUDA defines them.
inline unsigned int atomicInc(unsigned int* a, unsigned int limit) {
  return skinnet::emu::detail::atomic_update(a, [limit](unsigned old) { return old >= limit ? 0u : old + 1; });
}
inline unsigned int atomicDec(unsigned int* a, unsigned int limit) {
  return skinnet::emu::detail::atomic_update(
      a, [limit](unsigned old) { return (old == 0 || old > limit) ? limit : old - 1; });
}
