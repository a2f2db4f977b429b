#pragma once
// Host launcher for the SGEMM kernel (kernels/gemm.cuh):
//   C = alpha * op(A) * op(B) + beta * C,  op(A) is M x K, op(B) is K x N, C is M x N,
// all row-major on the device, op = identity (Trans::No) or transpose (Trans::Yes), with the same
// argument order and semantics as skinnet::cpu::gemm (include/skinnet/cpu/gemm.hpp): lda / ldb / ldc
// are the row strides of A, B, C as stored; when beta == 0, C is not read (it may be uninitialised).
// The launch is asynchronous on `stream`, like every CUDA launch.
#include <cstdint>
#include <limits>

#include "skinnet/core/error.hpp"
#include "skinnet/cpu/gemm.hpp"  // skinnet::cpu::Trans, shared by both backends
// The runtime layer and the kernel last: the emulator defines CUDA keywords (__noinline__, ...)
// as macros, which must not leak into the standard-library headers pulled in above.
#include "skinnet/cuda/runtime.hpp"
#include "kernels/gemm.cuh"

namespace skinnet::cuda {

using Trans = ::skinnet::cpu::Trans;

namespace detail {

enum class GemmTileChoice { Small, Large };

// Large tiles do 4x the work per block and reuse each loaded value twice as often, but give 4x fewer
// blocks. Below about one block per multiprocessor of a current GPU (A100: 108, H100: 132) the small
// tiles win because more of the machine works. A heuristic, not yet tuned on a real GPU.
inline constexpr int64_t kGemmLargeTileMinBlocks = 128;

inline GemmTileChoice choose_gemm_tile(int64_t M, int64_t N) {
  using L = kernels::GemmTileLarge;
  const int64_t large_blocks = ((M + L::BM - 1) / L::BM) * ((N + L::BN - 1) / L::BN);
  return large_blocks >= kGemmLargeTileMinBlocks ? GemmTileChoice::Large : GemmTileChoice::Small;
}

// Launches one specialisation; arguments already validated by gemm(). Tests call this directly to
// run every tile shape on every problem.
template <class Tile, bool TransA, bool TransB>
void launch_sgemm(int M, int N, int K, float alpha, const float* A, int64_t lda, const float* B,
                  int64_t ldb, float beta, float* C, int64_t ldc, cudaStream_t stream) {
  const int64_t blocks = ((M + int64_t{Tile::BM} - 1) / Tile::BM) * ((N + int64_t{Tile::BN} - 1) / Tile::BN);
  SKN_REQUIRE(blocks <= std::numeric_limits<int32_t>::max(), ValueError, "skinnet::cuda::gemm: ", M, " x ",
              N, " output needs ", blocks, " blocks, more than a 1-D grid can hold");
  const dim3 grid(static_cast<unsigned>(blocks));
  const dim3 block(Tile::kThreads);
  SKN_LAUNCH((kernels::sgemm<Tile, TransA, TransB>), grid, block, 0, stream, M, N, K, alpha, A, lda, B,
             ldb, beta, C, ldc);
}

template <class Tile>
void launch_sgemm(Trans ta, Trans tb, int M, int N, int K, float alpha, const float* A, int64_t lda,
                  const float* B, int64_t ldb, float beta, float* C, int64_t ldc, cudaStream_t stream) {
  // The transposes are template parameters (each combination indexes memory differently), so the
  // runtime flags pick one of four kernels.
  const bool a = ta == Trans::Yes, b = tb == Trans::Yes;
  if (!a && !b)
    launch_sgemm<Tile, false, false>(M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, stream);
  else if (!a && b)
    launch_sgemm<Tile, false, true>(M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, stream);
  else if (a && !b)
    launch_sgemm<Tile, true, false>(M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, stream);
  else
    launch_sgemm<Tile, true, true>(M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, stream);
}

// Checks the arguments as BLAS would, with messages that say which one is wrong.
inline void check_gemm_args(Trans ta, Trans tb, int64_t M, int64_t N, int64_t K, const float* A,
                            int64_t lda, const float* B, int64_t ldb, const float* C, int64_t ldc) {
  constexpr int64_t kMax = std::numeric_limits<int32_t>::max();
  SKN_REQUIRE(M >= 0 && N >= 0 && K >= 0, ValueError, "skinnet::cuda::gemm: negative size M=", M, " N=", N,
              " K=", K);
  SKN_REQUIRE(M <= kMax && N <= kMax && K <= kMax, ValueError, "skinnet::cuda::gemm: M=", M, " N=", N,
              " K=", K, " exceeds the kernel's 32-bit index range");
  // Stored shapes: A is M x K (K x M if transposed), B is K x N (N x K if transposed).
  const int64_t a_cols = ta == Trans::No ? K : M;
  const int64_t b_cols = tb == Trans::No ? N : K;
  SKN_REQUIRE(lda >= (a_cols > 1 ? a_cols : 1), ValueError, "skinnet::cuda::gemm: lda=", lda,
              " is smaller than A's row length ", a_cols, ta == Trans::No ? " (K)" : " (M, A transposed)");
  SKN_REQUIRE(ldb >= (b_cols > 1 ? b_cols : 1), ValueError, "skinnet::cuda::gemm: ldb=", ldb,
              " is smaller than B's row length ", b_cols, tb == Trans::No ? " (N)" : " (K, B transposed)");
  SKN_REQUIRE(ldc >= (N > 1 ? N : 1), ValueError, "skinnet::cuda::gemm: ldc=", ldc,
              " is smaller than C's row length N=", N);
  if (M > 0 && N > 0) {
    SKN_REQUIRE(C != nullptr, ValueError, "skinnet::cuda::gemm: C is null for a ", M, " x ", N, " output");
    SKN_REQUIRE(K == 0 || (A != nullptr && B != nullptr), ValueError,
                "skinnet::cuda::gemm: A or B is null with K=", K);
  }
}

}  // namespace detail

inline void gemm(Trans ta, Trans tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                 int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc,
                 cudaStream_t stream = 0) {
  detail::check_gemm_args(ta, tb, M, N, K, A, lda, B, ldb, C, ldc);
  if (M == 0 || N == 0) return;
  const int m = static_cast<int>(M), n = static_cast<int>(N), k = static_cast<int>(K);
  if (detail::choose_gemm_tile(M, N) == detail::GemmTileChoice::Large)
    detail::launch_sgemm<kernels::GemmTileLarge>(ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc, stream);
  else
    detail::launch_sgemm<kernels::GemmTileSmall>(ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc, stream);
}

}  // namespace skinnet::cuda
