// CPU SGEMM (skinnet/cpu/gemm.hpp) against the float64 reference (tests/reference/gemm.hpp): every
// transpose combination, alpha/beta (beta == 0 with a NaN-filled C), padded leading dimensions, edge
// shapes around the micro-kernel tile and the cache blocks, thread-count determinism, and argument
// errors.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "reference/check.hpp"
#include "reference/gemm.hpp"
#include "skinnet/core/parallel.hpp"
#include "skinnet/cpu/gemm.hpp"
#include "skinnet/cpu/gemm_kernel_generic.hpp"
#if defined(__AVX2__) && defined(__FMA__)
#include "skinnet/cpu/gemm_kernel_avx2.hpp"
#endif

using skinnet::cpu::Trans;

namespace {

struct Case {
  bool ta = false, tb = false;
  int64_t M = 1, N = 1, K = 1;
  float alpha = 1.f, beta = 0.f;
  int64_t pad_a = 0, pad_b = 0, pad_c = 0;  // leading dimension = minimum + pad
  bool nan_c = false;                       // fill C (with its padding) with NaN before the call

  std::string str() const {
    return std::string(ta ? "T" : "N") + (tb ? "T" : "N") + " " + std::to_string(M) + "x" +
           std::to_string(N) + "x" + std::to_string(K) + " alpha=" + std::to_string(alpha) +
           " beta=" + std::to_string(beta) + " pads=" + std::to_string(pad_a) + "/" + std::to_string(pad_b) +
           "/" + std::to_string(pad_c) + (nan_c ? " NaN-C" : "");
  }
};

std::vector<float> random_floats(size_t n, uint32_t seed) {
  std::mt19937 gen(seed);
  std::uniform_real_distribution<float> dist(-1.f, 1.f);
  std::vector<float> v(n);
  for (float& x : v) x = dist(gen);
  return v;
}

// The public entry point; the kernel test below swaps in gemm_block with another micro-kernel.
void run_public(const Case& c, const float* A, int64_t lda, const float* B, int64_t ldb, float* C,
                int64_t ldc) {
  skinnet::cpu::gemm(c.ta ? Trans::Yes : Trans::No, c.tb ? Trans::Yes : Trans::No, c.M, c.N, c.K, c.alpha, A,
                     lda, B, ldb, c.beta, C, ldc);
}

// Runs one case through skinnet and the reference and checks the result, including that the padding
// columns of C (between N and ldc) are left exactly as they were.
template <class Run = decltype(run_public)>
void check_case(const Case& c, Run&& run = run_public) {
  INFO(c.str());
  const int64_t a_rows = c.ta ? c.K : c.M, a_cols = c.ta ? c.M : c.K;
  const int64_t b_rows = c.tb ? c.N : c.K, b_cols = c.tb ? c.K : c.N;
  const int64_t lda = a_cols + c.pad_a, ldb = b_cols + c.pad_b, ldc = c.N + c.pad_c;
  const auto A = random_floats(static_cast<size_t>(a_rows * lda), 1);
  const auto B = random_floats(static_cast<size_t>(b_rows * ldb), 2);
  auto C = c.nan_c
               ? std::vector<float>(static_cast<size_t>(c.M * ldc), std::numeric_limits<float>::quiet_NaN())
               : random_floats(static_cast<size_t>(c.M * ldc), 3);
  const std::vector<float> C_before = C;

  std::vector<double> Ad(A.begin(), A.end()), Bd(B.begin(), B.end()), Cd(C.begin(), C.end());
  skinnet::ref::gemm(c.ta, c.tb, c.M, c.N, c.K, c.alpha, Ad, lda, Bd, ldb, c.beta, Cd, ldc);
  run(c, A.data(), lda, B.data(), ldb, C.data(), ldc);

  // Compare the M x N result; padding columns must be bit-for-bit untouched (NaN included).
  std::vector<float> got;
  std::vector<double> want;
  bool padding_intact = true;
  for (int64_t i = 0; i < c.M; ++i) {
    for (int64_t j = 0; j < c.N; ++j) {
      got.push_back(C[static_cast<size_t>(i * ldc + j)]);
      want.push_back(Cd[static_cast<size_t>(i * ldc + j)]);
    }
    for (int64_t j = c.N; j < ldc; ++j)
      padding_intact &= std::memcmp(&C[static_cast<size_t>(i * ldc + j)],
                                    &C_before[static_cast<size_t>(i * ldc + j)], sizeof(float)) == 0;
  }
  CHECK(padding_intact);
  // A float32 dot product of length K is off by at most about K * 2^-24 * sum|a_k b_k| (entries are in
  // [-1, 1]); the error of random-sign sums grows more like sqrt(K), so 1e-6 * K absolute leaves a
  // wide margin, while one dropped or doubled term (~0.25 on average) is far outside it.
  const double atol = 1e-6 * static_cast<double>(std::max<int64_t>(c.K, 8));
  SKN_CHECK_CLOSE(got, want, atol, 1e-5);
}

const bool kTrans[2] = {false, true};

}  // namespace

TEST_CASE("gemm: every transpose combination on edge shapes") {
  // Tile edges in both directions (below, at and just past a tile), primes, tall-skinny, K = 1.
  const int64_t shapes[][3] = {{1, 1, 1},   {37, 53, 71}, {7, 5, 100},  {12, 32, 16}, {13, 33, 17},
                               {25, 65, 3}, {64, 48, 1},  {500, 3, 19}, {2, 700, 23}, {3, 5, 900}};
  for (bool ta : kTrans)
    for (bool tb : kTrans)
      for (const auto& s : shapes) {
        Case c;
        c.ta = ta;
        c.tb = tb;
        c.M = s[0];
        c.N = s[1];
        c.K = s[2];
        check_case(c);
      }
}

TEST_CASE("gemm: alpha, beta, NaN-filled C with beta 0, padded leading dimensions") {
  const float alphas[] = {1.f, -0.5f, 2.f};
  const float betas[] = {0.f, 1.f, -1.5f};
  for (bool ta : kTrans)
    for (bool tb : kTrans)
      for (float alpha : alphas)
        for (float beta : betas) {
          Case c;
          c.ta = ta;
          c.tb = tb;
          c.M = 29;
          c.N = 41;
          c.K = 19;
          c.alpha = alpha;
          c.beta = beta;
          c.pad_a = 3;
          c.pad_b = 5;
          c.pad_c = 7;
          c.nan_c = beta == 0.f;
          check_case(c);
        }
}

TEST_CASE("gemm: large-ish shapes crossing the cache blocks") {
  // 300x257x513 spans two K slices (KC = 384); 3100x20x8 spans two row blocks (MC = 3072). (N blocks of
  // NC columns are crossed by the 2x700 shape above.)
  Case c;
  c.M = 300;
  c.N = 257;
  c.K = 513;
  for (bool ta : kTrans)
    for (bool tb : kTrans) {
      c.ta = ta;
      c.tb = tb;
      c.alpha = ta ? 0.75f : 1.f;
      c.beta = tb ? 0.5f : 0.f;
      c.nan_c = c.beta == 0.f;
      c.pad_a = ta ? 0 : 2;
      c.pad_c = 1;
      check_case(c);
    }
  Case tall;
  tall.M = 3100;
  tall.N = 20;
  tall.K = 8;
  tall.beta = 1.f;
  check_case(tall);
}

// CI machines build with -march=native, which selects one kernel. The other kernels are plain headers
// usable on any CPU that has their instructions, so run each available one through the blocked driver
// too; otherwise the AVX2 and portable paths could rot unnoticed.
template <class Kern>
void check_kernel() {
  INFO("kernel ", Kern::name);
  const auto run = [](const Case& c, const float* A, int64_t lda, const float* B, int64_t ldb, float* C,
                      int64_t ldc) {
    skinnet::cpu::gemm_detail::gemm_block<Kern>(c.ta, c.tb, c.M, c.N, c.K, c.alpha, A, lda, B, ldb, c.beta, C,
                                                ldc);
  };
  // M mod 12 and M mod 6 cover every row-count variant of the kernels (full, and each short form).
  const int64_t shapes[][3] = {{1, 1, 1},   {37, 53, 71}, {9, 40, 33},
                               {5, 700, 9}, {70, 3, 400}, {61, 275, 390}};
  for (bool ta : kTrans)
    for (bool tb : kTrans)
      for (const auto& s : shapes) {
        Case c;
        c.ta = ta;
        c.tb = tb;
        c.M = s[0];
        c.N = s[1];
        c.K = s[2];
        c.alpha = ta ? -0.5f : 1.f;
        c.beta = tb ? 1.5f : 0.f;
        c.nan_c = c.beta == 0.f;
        c.pad_a = 1;
        c.pad_c = 2;
        check_case(c, run);
      }
}

TEST_CASE("gemm: every micro-kernel this CPU can run agrees with the reference") {
  check_kernel<skinnet::cpu::gemm_detail::generic::Kernel>();
#if defined(__AVX2__) && defined(__FMA__)
  check_kernel<skinnet::cpu::gemm_detail::avx2::DefaultKernel>();
#endif
#if defined(__AVX512F__) && defined(__FMA__)
  check_kernel<skinnet::cpu::gemm_detail::avx512::DefaultKernel>();
#endif
}

TEST_CASE("gemm: alpha 0 or K 0 only scales C and never reads A or B") {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const std::vector<float> A(6, nan), B(6, nan);
  std::vector<float> C = {1.f, 2.f, 3.f, 4.f};
  skinnet::cpu::gemm(Trans::No, Trans::No, 2, 2, 3, 0.f, A.data(), 3, B.data(), 2, 2.f, C.data(), 2);
  CHECK(C == std::vector<float>{2.f, 4.f, 6.f, 8.f});
  skinnet::cpu::gemm(Trans::No, Trans::No, 2, 2, 0, 1.f, A.data(), 1, B.data(), 2, -1.f, C.data(), 2);
  CHECK(C == std::vector<float>{-2.f, -4.f, -6.f, -8.f});
  std::vector<float> Cn(4, nan);
  skinnet::cpu::gemm(Trans::Yes, Trans::Yes, 2, 2, 0, 1.f, nullptr, 2, nullptr, 1, 0.f, Cn.data(), 2);
  CHECK(Cn == std::vector<float>(4, 0.f));
}

TEST_CASE("gemm: results are bit-identical for 1, 2 and 3 threads") {
  // Shapes big enough to be split between threads: a square one, a tall one (split along M) and a
  // wide one (split along N), with beta != 0 so the accumulation onto C is covered too.
  const int64_t shapes[][3] = {{301, 263, 517}, {2000, 40, 64}, {40, 2000, 64}};
  const int saved = skinnet::max_threads();
  for (const auto& s : shapes) {
    const int64_t M = s[0], N = s[1], K = s[2];
    INFO("shape ", M, "x", N, "x", K);
    const auto A = random_floats(static_cast<size_t>(M * K), 4);
    const auto B = random_floats(static_cast<size_t>(K * N), 5);
    const auto C0 = random_floats(static_cast<size_t>(M * N), 6);
    std::vector<std::vector<float>> results;
    for (int threads : {1, 2, 3}) {
      skinnet::set_num_threads(threads);
      std::vector<float> C = C0;
      skinnet::cpu::gemm(Trans::No, Trans::Yes, M, N, K, 1.25f, A.data(), K, B.data(), K, 0.5f, C.data(), N);
      results.push_back(std::move(C));
    }
    skinnet::set_num_threads(saved);
    for (size_t t = 1; t < results.size(); ++t) {
      INFO("thread count ", t + 1, " vs 1");
      CHECK(std::memcmp(results[t].data(), results[0].data(), results[0].size() * sizeof(float)) == 0);
    }
  }
  skinnet::set_num_threads(saved);
}

TEST_CASE("gemm: concurrent calls from inside a parallel loop match serial calls") {
  // Callers (e.g. a per-image loop) may run gemm on several threads at once: each call then runs
  // serially on its thread with that thread's own packing buffers. Shared buffers would make these
  // results differ (or crash) whenever two calls actually overlap, which on an idle 2-core machine
  // is almost every run; on a loaded one the check can miss, so it complements, not replaces, review.
  constexpr int kCalls = 32;
  const int64_t M = 70, N = 90, K = 400;  // 2.5M multiply-adds: threaded when called alone
  std::vector<std::vector<float>> A, B, serial(kCalls), parallel(kCalls);
  for (int i = 0; i < kCalls; ++i) {
    A.push_back(random_floats(static_cast<size_t>(M * K), 10 + i));
    B.push_back(random_floats(static_cast<size_t>(K * N), 20 + i));
  }
  const auto call = [&](int i, std::vector<float>& C) {
    C.assign(static_cast<size_t>(M * N), std::numeric_limits<float>::quiet_NaN());
    skinnet::cpu::gemm(Trans::Yes, Trans::No, M, N, K, 1.f, A[i].data(), M, B[i].data(), N, 0.f, C.data(), N);
  };
  for (int i = 0; i < kCalls; ++i) call(i, serial[i]);
  skinnet::parallel_for(0, kCalls, [&](int64_t i) { call(static_cast<int>(i), parallel[i]); });
  for (int i = 0; i < kCalls; ++i) {
    INFO("call ", i);
    CHECK(std::memcmp(parallel[i].data(), serial[i].data(), serial[i].size() * sizeof(float)) == 0);
  }
}

TEST_CASE("gemm: invalid sizes and leading dimensions are rejected with the culprit named") {
  std::vector<float> A(64), B(64), C(64);
  using skinnet::ValueError;
  CHECK_THROWS_WITH_AS(
      skinnet::cpu::gemm(Trans::No, Trans::No, -1, 2, 2, 1.f, A.data(), 2, B.data(), 2, 0.f, C.data(), 2),
      doctest::Contains("negative size"), ValueError);
  CHECK_THROWS_WITH_AS(
      skinnet::cpu::gemm(Trans::No, Trans::No, 4, 4, 5, 1.f, A.data(), 4, B.data(), 4, 0.f, C.data(), 4),
      doctest::Contains("lda=4"), ValueError);
  CHECK_THROWS_WITH_AS(
      skinnet::cpu::gemm(Trans::No, Trans::Yes, 4, 4, 5, 1.f, A.data(), 5, B.data(), 4, 0.f, C.data(), 4),
      doctest::Contains("ldb=4"), ValueError);
  CHECK_THROWS_WITH_AS(
      skinnet::cpu::gemm(Trans::Yes, Trans::No, 4, 6, 2, 1.f, A.data(), 4, B.data(), 6, 0.f, C.data(), 5),
      doctest::Contains("ldc=5"), ValueError);
}
