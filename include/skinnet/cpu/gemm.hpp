#pragma once
// CPU SGEMM: C = alpha * op(A) * op(B) + beta * C, row-major, op = identity or transpose.
// (Placeholder: straightforward blocked loops. The packed SIMD version replaces this file.)
#include <cstdint>

#include "skinnet/core/error.hpp"
#include "skinnet/core/parallel.hpp"

namespace skinnet::cpu {

enum class Trans { No, Yes };

inline void gemm(Trans ta, Trans tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                 int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  parallel_for(0, M, [&](int64_t i) {
    for (int64_t j = 0; j < N; ++j) {
      float acc = 0.f;
      for (int64_t k = 0; k < K; ++k) {
        const float a = ta == Trans::No ? A[i * lda + k] : A[k * lda + i];
        const float b = tb == Trans::No ? B[k * ldb + j] : B[j * ldb + k];
        acc += a * b;
      }
      C[i * ldc + j] = alpha * acc + (beta == 0.f ? 0.f : beta * C[i * ldc + j]);
    }
  });
}

}  // namespace skinnet::cpu
