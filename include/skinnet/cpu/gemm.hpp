#pragma once
// CPU SGEMM: C = alpha * op(A) * op(B) + beta * C, row-major, op = identity or transpose.
//
// The classic BLIS structure, mirrored for row-major C (so the SIMD lanes run along N, the contiguous
// direction of C and of non-transposed B):
//
//   for ic in M by MC            A block  MC x KC, packed once per (ic, pc)   -> lives in L3
//     for pc in K by KC
//       pack A(ic.., pc..)
//       for jc in N by NC        B block  KC x NC, packed once per (ic, pc, jc) -> lives in L2
//         pack B(pc.., jc..)
//         for ir in MC by MR     A micro-panel MR x KC                       -> stays in L1
//           for jr in NC by NR   micro-kernel: MR x NR tile of C += A panel * B panel
//
// The micro-kernel is chosen by the compile target (gemm_kernel_avx512.hpp with __AVX512F__ and
// __FMA__, gemm_kernel_avx2.hpp with __AVX2__ and __FMA__, else gemm_kernel_generic.hpp); packing
// (gemm_pack.hpp) absorbs both transposes and the edge padding.
//
// Threads and determinism: the output is cut into at most one rectangle per OpenMP thread along tile
// boundaries and each thread runs the whole blocked algorithm on its rectangle with its own packing
// buffers. Every element of C is thus computed by exactly one thread, summing K in the same fixed
// order (KC slices in order, k in order within a slice), and full and edge tiles round identically
// (gemm_tile.hpp): the result is bit-identical for any thread count.
//
// Note for header-only use: the kernel is picked per translation unit by its compiler flags; build
// every TU that calls gemm with the same -march so they agree (the project's programs use
// -march=native when SKINNET_NATIVE is on).
#include <algorithm>
#include <cstdint>

#include "skinnet/core/error.hpp"
#include "skinnet/core/parallel.hpp"
#include "skinnet/cpu/gemm_pack.hpp"

#if defined(__AVX512F__) && defined(__FMA__)
#include "skinnet/cpu/gemm_kernel_avx512.hpp"
#elif defined(__AVX2__) && defined(__FMA__)
#include "skinnet/cpu/gemm_kernel_avx2.hpp"
#else
#include "skinnet/cpu/gemm_kernel_generic.hpp"
#endif

namespace skinnet::cpu {

enum class Trans { No, Yes };

namespace gemm_detail {

#if defined(__AVX512F__) && defined(__FMA__)
using Kernel = avx512::DefaultKernel;
#elif defined(__AVX2__) && defined(__FMA__)
using Kernel = avx2::DefaultKernel;
#else
using Kernel = generic::DefaultKernel;
#endif

inline int64_t ceil_div(int64_t x, int64_t d) { return (x + d - 1) / d; }
inline int64_t round_up(int64_t x, int64_t m) { return ceil_div(x, m) * m; }

// The blocked algorithm on one rectangle of C, run by one thread. A and B point at op(A)(0, 0) and
// op(B)(0, 0) of the rectangle's rows / columns; M, N, K > 0 and alpha != 0.
template <class Kern>
void gemm_block(bool ta, bool tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  constexpr int MR = Kern::MR, NR = Kern::NR;
  float* pa = thread_pack_buffer_a().get(round_up(std::min(M, Kern::MC), MR) * std::min(K, Kern::KC));
  float* pb = thread_pack_buffer_b().get(round_up(std::min(N, Kern::NC), NR) * std::min(K, Kern::KC));
  // Equal row blocks (a last block of a few rows would still pay for packing all of B).
  const int64_t mc_step = round_up(ceil_div(M, ceil_div(M, Kern::MC)), MR);
  for (int64_t ic = 0; ic < M; ic += mc_step) {
    const int64_t mc = std::min(mc_step, M - ic);
    for (int64_t pc = 0; pc < K; pc += Kern::KC) {
      const int64_t kc = std::min(Kern::KC, K - pc);
      pack_a<MR>(ta, ta ? A + pc * lda + ic : A + ic * lda + pc, lda, mc, kc, pa);
      // The first K slice applies the caller's beta; later slices accumulate onto it.
      const float beta_k = pc == 0 ? beta : 1.f;
      for (int64_t jc = 0; jc < N; jc += Kern::NC) {
        const int64_t nc = std::min(Kern::NC, N - jc);
        pack_b<NR>(tb, tb ? B + jc * ldb + pc : B + pc * ldb + jc, ldb, kc, nc, pb);
        for (int64_t ir = 0; ir < mc; ir += MR) {
          const int mr = static_cast<int>(std::min<int64_t>(MR, mc - ir));
          const float* a_panel = pa + ir * kc;
          float* c_row = C + (ic + ir) * ldc + jc;
          for (int64_t jr = 0; jr < nc; jr += NR) {
            const int nr = static_cast<int>(std::min<int64_t>(NR, nc - jr));
            Kern::run(kc, a_panel, pb + jr * kc, c_row + jr, ldc, alpha, beta_k, mr, nr);
          }
        }
      }
    }
  }
}

// How to cut C between `threads` threads: a grid of tm x tn rectangles (tm * tn == threads) chosen to
// minimise one thread's estimated time: its padded multiply-adds plus its packing. Splitting N makes
// every thread pack all of A, splitting M makes every thread pack all of B (once per row block), and
// a panel whose source runs along k (A not transposed, B transposed) packs ~4x slower than a plain
// row copy.
struct Split {
  int tm = 1, tn = 1;
};

template <class Kern>
Split choose_split(bool ta, bool tb, int64_t M, int64_t N, int64_t K, int threads) {
  const int64_t mt = ceil_div(M, Kern::MR), nt = ceil_div(N, Kern::NR);
  // Cycles per packed element (~1 for a register transpose, ~0.25 for a copy) against ~32
  // multiply-adds per cycle (two 16-lane FMA pipes).
  const double pack_a_cost = ta ? 0.25 : 1.0, pack_b_cost = tb ? 1.0 : 0.25;
  Split best;
  double best_cost = -1.0;
  for (int tm = 1; tm <= threads; ++tm) {
    if (threads % tm != 0) continue;
    const int tn = threads / tm;
    const int64_t m = ceil_div(mt, tm) * Kern::MR, n = ceil_div(nt, tn) * Kern::NR;
    const double fma = static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(K);
    const double pack =
        static_cast<double>(K) *
        (pack_a_cost * static_cast<double>(m) + pack_b_cost * static_cast<double>(n * ceil_div(m, Kern::MC)));
    const double cost = fma / 32.0 + pack;
    if (best_cost < 0 || cost < best_cost) {
      best_cost = cost;
      best = {tm, tn};
    }
  }
  return best;
}

// C = beta * C (alpha == 0 or K == 0: A and B are not read). beta == 0 writes zeros without reading C.
inline void scale_c(int64_t M, int64_t N, float beta, float* C, int64_t ldc) {
  parallel_for(
      0, M,
      [&](int64_t i) {
        float* row = C + i * ldc;
        if (beta == 0.f)
          std::fill(row, row + N, 0.f);
        else if (beta != 1.f)
          for (int64_t j = 0; j < N; ++j) row[j] *= beta;
      },
      64);
}

}  // namespace gemm_detail

// C (M x N) = alpha * op(A) * op(B) + beta * C, all row-major with leading dimensions lda/ldb/ldc.
// op(A) is M x K: A is stored M x K (ta == No) or K x M (ta == Yes); op(B) is K x N: B is stored
// K x N (tb == No) or N x K (tb == Yes). beta == 0 means C is write-only (it may hold NaN or garbage).
inline void gemm(Trans ta, Trans tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                 int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  using gemm_detail::Kernel;
  const bool trans_a = ta == Trans::Yes, trans_b = tb == Trans::Yes;
  SKN_REQUIRE(M >= 0 && N >= 0 && K >= 0, ValueError, "skinnet::cpu::gemm: negative size M=", M, " N=", N,
              " K=", K);
  const int64_t a_cols = trans_a ? M : K, b_cols = trans_b ? K : N;
  SKN_REQUIRE(lda >= std::max<int64_t>(1, a_cols), ValueError, "skinnet::cpu::gemm: lda=", lda,
              " is smaller than the ", a_cols, " columns of A as stored (", trans_a ? "K x M" : "M x K",
              ", M=", M, " K=", K, ")");
  SKN_REQUIRE(ldb >= std::max<int64_t>(1, b_cols), ValueError, "skinnet::cpu::gemm: ldb=", ldb,
              " is smaller than the ", b_cols, " columns of B as stored (", trans_b ? "N x K" : "K x N",
              ", K=", K, " N=", N, ")");
  SKN_REQUIRE(ldc >= std::max<int64_t>(1, N), ValueError, "skinnet::cpu::gemm: ldc=", ldc,
              " is smaller than the N=", N, " columns of C");
  if (M == 0 || N == 0) return;
  SKN_REQUIRE(C != nullptr, ValueError, "skinnet::cpu::gemm: C is null for a ", M, "x", N, " result");
  if (K == 0 || alpha == 0.f) {
    gemm_detail::scale_c(M, N, beta, C, ldc);
    return;
  }
  SKN_REQUIRE(A != nullptr && B != nullptr, ValueError, "skinnet::cpu::gemm: A or B is null (M=", M, " N=", N,
              " K=", K, ")");

  // Below about a million multiply-adds, starting threads costs more than it saves.
  // Inside a parallel region parallel_for runs serially, so plan for one thread there.
  bool nested = false;
#if defined(_OPENMP)
  nested = omp_in_parallel();
#endif
  const int threads = (nested || M * N * K < (int64_t{1} << 20)) ? 1 : max_threads();
  const gemm_detail::Split split = gemm_detail::choose_split<Kernel>(trans_a, trans_b, M, N, K, threads);
  const int64_t mt = gemm_detail::ceil_div(M, Kernel::MR), nt = gemm_detail::ceil_div(N, Kernel::NR);
  const auto part = [&](int64_t p) {
    const int64_t pm = p / split.tn, pn = p % split.tn;
    const int64_t m0 = std::min(M, mt * pm / split.tm * Kernel::MR);
    const int64_t m1 = std::min(M, mt * (pm + 1) / split.tm * Kernel::MR);
    const int64_t n0 = std::min(N, nt * pn / split.tn * Kernel::NR);
    const int64_t n1 = std::min(N, nt * (pn + 1) / split.tn * Kernel::NR);
    if (m1 <= m0 || n1 <= n0) return;
    gemm_detail::gemm_block<Kernel>(trans_a, trans_b, m1 - m0, n1 - n0, K, alpha,
                                    trans_a ? A + m0 : A + m0 * lda, lda, trans_b ? B + n0 * ldb : B + n0,
                                    ldb, beta, C + m0 * ldc + n0, ldc);
  };
  if (threads == 1)
    part(0);
  else
    parallel_for(0, int64_t{split.tm} * split.tn, part);
}

}  // namespace skinnet::cpu
