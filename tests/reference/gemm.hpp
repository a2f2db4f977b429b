#pragma once
// float64 reference GEMM: plain triple loop, row-major, shares no code with either backend.
#include <cstdint>
#include <vector>

namespace skinnet::ref {

// C = alpha * op(A) * op(B) + beta * C, with op(A) MxK and op(B) KxN, all row-major.
inline void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, double alpha,
                 const std::vector<double>& A, int64_t lda, const std::vector<double>& B, int64_t ldb,
                 double beta, std::vector<double>& C, int64_t ldc) {
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) {
      double acc = 0.0;
      for (int64_t k = 0; k < K; ++k) {
        const double a = trans_a ? A[static_cast<size_t>(k * lda + i)] : A[static_cast<size_t>(i * lda + k)];
        const double b = trans_b ? B[static_cast<size_t>(j * ldb + k)] : B[static_cast<size_t>(k * ldb + j)];
        acc += a * b;
      }
      double& c = C[static_cast<size_t>(i * ldc + j)];
      c = alpha * acc + (beta == 0.0 ? 0.0 : beta * c);
    }
}

}  // namespace skinnet::ref
