#pragma once
// A parallel-for over OpenMP. Work is split into contiguous static chunks, so which thread computes an
// element never changes the result: every parallel loop in skinnet writes disjoint outputs, and
// reductions are done per chunk in a fixed order and then combined in index order.
#include <cstdint>

#if defined(_OPENMP)
#include <omp.h>
#endif

// `SKN_OMP_SIMD` before a loop asks for vectorisation (OpenMP's `simd`), and is nothing without OpenMP,
// so builds without -fopenmp (the TSan preset, nvcc's host pass) see no unknown pragma.
#if defined(_OPENMP)
#define SKN_OMP_SIMD _Pragma("omp simd")
#else
#define SKN_OMP_SIMD
#endif

namespace skinnet {

inline int max_threads() {
#if defined(_OPENMP)
  return omp_get_max_threads();
#else
  return 1;
#endif
}

inline void set_num_threads(int n) {
#if defined(_OPENMP)
  if (n > 0) omp_set_num_threads(n);
#else
  (void)n;
#endif
}

inline int thread_index() {
#if defined(_OPENMP)
  return omp_get_thread_num();
#else
  return 0;
#endif
}

// Calls fn(i) for every i in [begin, end). Falls back to a serial loop for tiny ranges or when
// already inside a parallel region (nested parallelism would oversubscribe the cores).
template <class Fn>
void parallel_for(int64_t begin, int64_t end, Fn&& fn, int64_t min_per_thread = 1) {
  const int64_t n = end - begin;
  (void)min_per_thread;
  if (n <= 0) return;
#if defined(_OPENMP)
  if (n >= 2 * min_per_thread && !omp_in_parallel() && omp_get_max_threads() > 1) {
#pragma omp parallel for schedule(static)
    for (int64_t i = begin; i < end; ++i) fn(i);
    return;
  }
#endif
  for (int64_t i = begin; i < end; ++i) fn(i);
}

// Calls fn(chunk_begin, chunk_end) on `parts` contiguous pieces of [begin, end) in parallel.
template <class Fn>
void parallel_chunks(int64_t begin, int64_t end, int parts, Fn&& fn) {
  const int64_t n = end - begin;
  if (n <= 0) return;
  if (parts < 1) parts = 1;
  if (parts > n) parts = static_cast<int>(n);
  parallel_for(0, parts, [&](int64_t p) {
    const int64_t lo = begin + n * p / parts;
    const int64_t hi = begin + n * (p + 1) / parts;
    fn(lo, hi);
  });
}

}  // namespace skinnet
