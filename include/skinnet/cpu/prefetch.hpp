#pragma once
// Software prefetch for CPU kernels that read several streams at once.
//
// The hardware prefetchers follow one sequential stream well, but a depthwise pass reads three or
// more rows at a time and a 1x1 convolution tile reads twelve pixels at a time; on the Zen 5 VM those
// kernels stalled on their own loads (their time halved from one thread to two, so the shared memory
// bandwidth was not the limit). The kernels therefore ask for the data their NEXT step reads first,
// a few dozen cache lines at a time while the current step computes: one request per line of a whole
// 43 KB row at once stalled the core until most of them had arrived.
#include <cstdint>

#if defined(__SSE__)
#include <immintrin.h>
#endif

namespace skinnet::cpu {

// Asks for `floats` floats from p to be brought into L2 (a hint: nothing is read or faulted in, and
// p need not be valid memory; callers still keep it inside their tensor).
inline void prefetch_to_l2(const float* p, int64_t floats) {
#if defined(__SSE__)
  const char* c = reinterpret_cast<const char*>(p);
  for (int64_t b = 0; b < floats * int64_t{sizeof(float)}; b += 64) _mm_prefetch(c + b, _MM_HINT_T1);
#else
  (void)p;
  (void)floats;
#endif
}

}  // namespace skinnet::cpu
