#pragma once
// Fully connected layer on the CPU: y = x W + b with W stored [in][out] (DESIGN.md §2).
//
// x may have any rank: its last dimension is the feature dimension and the leading ones are rows, so
// the same op serves [N, in] logits and a 1x1 convolution over NHWC maps. W may be [in, out] or a 1x1
// conv kernel [1, 1, in, out] (same memory), which is how the SE block stores its weights.
// The matrix products go through cpu::gemm; the bias gradient is a column sum in a fixed order.
#include <algorithm>
#include <cstdint>
#include <vector>

#include "skinnet/core/error.hpp"
#include "skinnet/core/parallel.hpp"
#include "skinnet/core/tensor.hpp"
#include "skinnet/cpu/gemm.hpp"

namespace skinnet::cpu {

namespace detail {
struct DenseDims {
  int64_t rows, in, out;
};
inline DenseDims dense_dims(const char* op, const Shape& x, const Tensor<Cpu>& w, const Tensor<Cpu>& b) {
  const int64_t in = x[x.rank() - 1];
  const int64_t out = w.shape()[w.shape().rank() - 1];
  SKN_REQUIRE(w.numel() == in * out, ShapeError, op, ": weight ", w.shape().str(), " is not [", in, "][",
              out, "] for input ", x.str());
  SKN_REQUIRE(b.empty() || b.numel() == out, ShapeError, op, ": bias ", b.shape().str(), " has not ", out,
              " elements");
  return {in > 0 ? x.numel() / in : 0, in, out};
}
inline Shape with_last_dim(const Shape& s, int64_t last) {
  switch (s.rank()) {
    case 1: return Shape{last};
    case 2: return Shape{s[0], last};
    case 3: return Shape{s[0], s[1], last};
    default: return Shape{s[0], s[1], s[2], last};
  }
}
}  // namespace detail

// y = x W (+ b). bias may be an empty tensor (no bias).
inline Tensor<Cpu> dense_forward(const Tensor<Cpu>& x, const Tensor<Cpu>& weight, const Tensor<Cpu>& bias) {
  const auto d = detail::dense_dims("dense_forward", x.shape(), weight, bias);
  Tensor<Cpu> y(detail::with_last_dim(x.shape(), d.out));
  gemm(Trans::No, Trans::No, d.rows, d.out, d.in, 1.0f, x.data(), d.in, weight.data(), d.out, 0.0f, y.data(),
       d.out);
  if (!bias.empty()) {
    const float* __restrict bp = bias.data();
    float* __restrict yp = y.data();
    parallel_for(0, d.rows, [&](int64_t r) {
SKN_OMP_SIMD
      for (int64_t j = 0; j < d.out; ++j) yp[r * d.out + j] += bp[j];
    }, 64);
  }
  return y;
}

// Returns dx = dy W^T; ADDS dW += x^T dy and (when bias is used, i.e. dbias non-empty) db += sum_rows dy.
inline Tensor<Cpu> dense_backward(const Tensor<Cpu>& dy, const Tensor<Cpu>& x, const Tensor<Cpu>& weight,
                                  Tensor<Cpu>& dweight, Tensor<Cpu>& dbias) {
  const auto d = detail::dense_dims("dense_backward", x.shape(), weight, dbias);
  SKN_REQUIRE(dy.numel() == d.rows * d.out, ShapeError, "dense_backward: gradient ", dy.shape().str(),
              " does not match output rows ", d.rows, " x ", d.out);
  SKN_REQUIRE(dweight.numel() == weight.numel(), ShapeError, "dense_backward: weight gradient ",
              dweight.shape().str(), " does not match weight ", weight.shape().str());
  Tensor<Cpu> dx(x.shape());
  gemm(Trans::No, Trans::Yes, d.rows, d.in, d.out, 1.0f, dy.data(), d.out, weight.data(), d.out, 0.0f,
       dx.data(), d.in);
  gemm(Trans::Yes, Trans::No, d.in, d.out, d.rows, 1.0f, x.data(), d.in, dy.data(), d.out, 1.0f,
       dweight.data(), d.out);
  if (!dbias.empty()) {
    // Column sums: each thread owns a range of columns and walks the rows in order.
    const float* __restrict gp = dy.data();
    float* __restrict bp = dbias.data();
    parallel_chunks(0, d.out, std::max(1, max_threads()), [&](int64_t j0, int64_t j1) {
      std::vector<double> acc(static_cast<size_t>(j1 - j0), 0.0);
      for (int64_t r = 0; r < d.rows; ++r)
        for (int64_t j = j0; j < j1; ++j) acc[static_cast<size_t>(j - j0)] += gp[r * d.out + j];
      for (int64_t j = j0; j < j1; ++j) bp[j] += static_cast<float>(acc[static_cast<size_t>(j - j0)]);
    });
  }
  return dx;
}

}  // namespace skinnet::cpu
