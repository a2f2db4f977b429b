#pragma once
// Host side of the deterministic per-channel column sums of kernels/reduce.cuh: the chunking rule
// (a function of the shape only, so the order of every sum is fixed) and the first launch. Callers
// pick the term and then launch a finalize kernel over the partial sums.
#include <algorithm>
#include <cstdint>
#include <limits>

#include "skinnet/core/error.hpp"
#include "skinnet/cuda/elementwise.hpp"
#include "skinnet/cuda/runtime.hpp"
#include "kernels/reduce.cuh"

namespace skinnet::cuda::detail {

// Rows handled by one chunk (one block per 32 channels): 8 row-threads x 64 rows each. Enough work
// per thread to amortise the block's reduction, and enough chunks for a large batch to fill a GPU.
inline constexpr int64_t kReduceRowsPerChunk = 512;
// At most this many chunks per segment (grid y <= 65535; bounds the finalize loop and the scratch).
inline constexpr int64_t kReduceMaxChunks = 1024;

inline int reduce_chunks(int64_t rows) {
  return static_cast<int>(std::clamp<int64_t>((rows + kReduceRowsPerChunk - 1) / kReduceRowsPerChunk, 1,
                                              kReduceMaxChunks));
}

// Column sums of `term` over `segments` x `rows` rows of C channels into partial
// [segments][chunks][C]; returns the number of chunks. `partial` must hold
// segments * reduce_chunks(rows) * C elements.
template <class Term>
int launch_column_partial_sums(const char* op, const Term& term, int64_t segments, int64_t rows, int64_t C,
                               kernels::Sum2* partial) {
  SKN_REQUIRE(C > 0 && C <= std::numeric_limits<int32_t>::max() / 2, ValueError, op, ": ", C,
              " channels are outside the kernels' range");
  SKN_REQUIRE(segments >= 1 && segments <= 65535, ValueError, op, ": ", segments,
              " samples exceed the 65535 grid rows of the per-sample reduction");
  const int chunks = reduce_chunks(rows);
  const dim3 grid(static_cast<unsigned>((C + kernels::kReduceLanes - 1) / kernels::kReduceLanes),
                  static_cast<unsigned>(chunks), static_cast<unsigned>(segments));
  const dim3 block(kernels::kReduceLanes, kernels::kReduceRowThreads);
  SKN_LAUNCH(kernels::column_partial_sums<Term>, grid, block, 0, 0, term, rows, static_cast<int>(C), chunks,
             partial);
  return chunks;
}

// Grid of the one-thread-per-(segment, channel) finalize kernels.
inline dim3 finalize_grid(int64_t n) {
  return dim3(static_cast<unsigned>((n + kernels::kFinalizeThreads - 1) / kernels::kFinalizeThreads));
}

// out[s * C + c] (stored, accumulated or averaged, see SumOutput) = sum over the rows of segment s of
// term(row, c).
template <kernels::SumOutput Out, class Term>
void column_sums(const char* op, const Term& term, int64_t segments, int64_t rows, int64_t C, float* out) {
  DeviceScratch<kernels::Sum2> partial(segments * reduce_chunks(rows) * C);
  const int chunks = launch_column_partial_sums(op, term, segments, rows, C, partial.get());
  SKN_LAUNCH(kernels::finalize_column_sums<Out>, finalize_grid(segments * C), kernels::kFinalizeThreads, 0, 0,
             partial.get(), chunks, static_cast<int>(C), segments, rows, out);
}

}  // namespace skinnet::cuda::detail
