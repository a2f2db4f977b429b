#pragma once
// Streaming (non-temporal) stores for outputs too large to stay in cache.
//
// A normal store first reads the destination line into the cache (read-for-ownership) and later
// writes it back, evicting useful data on the way; a streaming store writes the line to memory
// directly. For an output much larger than the caches — a 16 x 112 x 112 x 96 activation is 77 MB —
// the read is pure waste: measured on this project's Xeon VM, a depthwise 3x3 forward went from 6.9 to
// 4.0 ms and a BatchNorm training forward from 9.1 to 5.4 ms. For outputs of 19 MB and less it made no
// difference, and a small output is better left in cache for the next layer to read, hence the
// threshold. (An AMD VM measured streaming stores 10-20% slower on BatchNorm: re-measure on new
// hardware before lowering it.)
//
// Streaming stores are weakly ordered: whoever streams ends with stream_fence() before another thread
// may read the data (StreamingRows does it when it closes; users of OutputBlock after each work item).
#include <cstdint>
#include <cstring>
#include <vector>

#if defined(__SSE__)
#include <immintrin.h>
#endif

namespace skinnet::cpu {

// Outputs of at least this many bytes are streamed. A variable so that tests can force streaming on
// small tensors (set it to 0) and check that the results do not change.
inline int64_t streaming_store_min_bytes = int64_t{32} << 20;

inline bool streams(int64_t output_bytes) { return output_bytes >= streaming_store_min_bytes; }

inline void stream_fence() {
#if defined(__SSE__)
  _mm_sfence();
#endif
}

// dst[0, n) = src[0, n), streaming the vector-aligned middle (plain stores for the ragged ends).
inline void stream_copy(float* dst, const float* src, int64_t n) {
  int64_t i = 0;
#if defined(__AVX512F__)
  for (; i < n && (reinterpret_cast<uintptr_t>(dst + i) & 63) != 0; ++i) dst[i] = src[i];
  for (; i + 16 <= n; i += 16) _mm512_stream_ps(dst + i, _mm512_loadu_ps(src + i));
#elif defined(__AVX__)
  for (; i < n && (reinterpret_cast<uintptr_t>(dst + i) & 31) != 0; ++i) dst[i] = src[i];
  for (; i + 8 <= n; i += 8) _mm256_stream_ps(dst + i, _mm256_loadu_ps(src + i));
#endif
  for (; i < n; ++i) dst[i] = src[i];
}

// A short contiguous piece of an output (one row of C channels), as an elementwise pass writes it:
// data() is the destination itself, or, when the output streams, a per-thread buffer (slot 0 or 1,
// for passes with two outputs) that is streamed to the destination when the piece closes. Either way
// the pass's loop is the same. Keep pieces small (they stay in L1: buffering whole 16 KB blocks
// measured 25% slower), and call stream_fence() after the last piece of a parallel work item.
class OutputBlock {
 public:
  OutputBlock(float* dst, int64_t n, bool stream, int slot) : dst_(dst), n_(n) {
    if (!stream) return;
    thread_local std::vector<float> buffers[2];
    std::vector<float>& b = buffers[slot];
    if (b.size() < static_cast<size_t>(n)) b.resize(static_cast<size_t>(n));
    buf_ = b.data();
  }
  ~OutputBlock() {
    if (buf_) stream_copy(dst_, buf_, n_);
  }
  OutputBlock(const OutputBlock&) = delete;
  OutputBlock& operator=(const OutputBlock&) = delete;

  float* data() const { return buf_ ? buf_ : dst_; }

 private:
  float* dst_;
  int64_t n_;
  float* buf_ = nullptr;
};

// For kernels that store output vectors themselves (cpu/depthwise.hpp): whether this thread is
// currently writing rows of a streamed output.
inline bool& streaming_outputs() {
  thread_local bool on = false;
  return on;
}

// Marks the rows written in its scope as streamed when the whole output has at least
// streaming_store_min_bytes; fences on exit.
class StreamingRows {
 public:
  explicit StreamingRows(int64_t output_bytes) : prev_(streaming_outputs()) {
    streaming_outputs() = streams(output_bytes);
  }
  ~StreamingRows() {
    if (streaming_outputs()) stream_fence();
    streaming_outputs() = prev_;
  }
  StreamingRows(const StreamingRows&) = delete;
  StreamingRows& operator=(const StreamingRows&) = delete;

 private:
  bool prev_;
};

}  // namespace skinnet::cpu
