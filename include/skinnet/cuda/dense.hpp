#pragma once
// Fully connected layer on the Cuda backend, y = x W + b with W stored [in][out], with the signatures
// of include/skinnet/cpu/dense.hpp: x may have any rank (its last dimension is the feature dimension),
// W may be [in, out] or a 1x1 conv kernel [1, 1, in, out]. The products go through skinnet::cuda::gemm
// (kernels/gemm.cuh; called qualified: Trans lives in skinnet::cpu, so ADL would also find
// cpu::gemm); the bias is added by a broadcast kernel, and the bias gradient is a
// deterministic column sum (kernels/reduce.cuh).
#include <cstdint>

#include "kernels/elementwise.cuh"
#include "kernels/reduce.cuh"
#include "skinnet/core/error.hpp"
#include "skinnet/core/tensor.hpp"
#include "skinnet/cpu/dense.hpp"  // (the CPU twin; with_last_dim)
#include "skinnet/cuda/elementwise.hpp"
#include "skinnet/cuda/gemm.hpp"
#include "skinnet/cuda/reduce.hpp"
#include "skinnet/cuda/runtime.hpp"

namespace skinnet::cuda {

namespace detail {
struct DenseDims {
  int64_t rows, in, out;
};
inline DenseDims dense_dims(const char* op, const Shape& x, const Tensor<Cuda>& w, const Tensor<Cuda>& b) {
  const int64_t in = x[x.rank() - 1];
  const int64_t out = w.shape()[w.shape().rank() - 1];
  SKN_REQUIRE(w.numel() == in * out, ShapeError, op, ": weight ", w.shape().str(), " is not [", in, "][", out,
              "] for input ", x.str());
  SKN_REQUIRE(b.empty() || b.numel() == out, ShapeError, op, ": bias ", b.shape().str(), " has not ", out, " elements");
  return {in > 0 ? x.numel() / in : 0, in, out};
}
}  // namespace detail

// y = x W (+ b). bias may be an empty tensor (no bias).
inline Tensor<Cuda> dense_forward(const Tensor<Cuda>& x, const Tensor<Cuda>& weight, const Tensor<Cuda>& bias) {
  const auto d = detail::dense_dims("dense_forward", x.shape(), weight, bias);
  Tensor<Cuda> y(cpu::detail::with_last_dim(x.shape(), d.out));
  cuda::gemm(Trans::No, Trans::No, d.rows, d.out, d.in, 1.0f, x.data(), d.in, weight.data(), d.out, 0.0f, y.data(),
             d.out);
  if (!bias.empty() && !y.empty())
    SKN_LAUNCH(kernels::add_bias_rows<kernels::kElementwiseThreads>, detail::elementwise_grid(y.numel()),
               kernels::kElementwiseThreads, 0, 0, y.data(), bias.data(), static_cast<int>(d.out), y.numel());
  return y;
}

// Returns dx = dy W^T; ADDS dW += x^T dy and (when bias is used, i.e. dbias non-empty) db += sum_rows dy.
inline Tensor<Cuda> dense_backward(const Tensor<Cuda>& dy, const Tensor<Cuda>& x, const Tensor<Cuda>& weight,
                                   Tensor<Cuda>& dweight, Tensor<Cuda>& dbias) {
  const auto d = detail::dense_dims("dense_backward", x.shape(), weight, dbias);
  SKN_REQUIRE(dy.numel() == d.rows * d.out, ShapeError, "dense_backward: gradient ", dy.shape().str(),
              " does not match output rows ", d.rows, " x ", d.out);
  SKN_REQUIRE(dweight.numel() == weight.numel(), ShapeError, "dense_backward: weight gradient ", dweight.shape().str(),
              " does not match weight ", weight.shape().str());
  Tensor<Cuda> dx(x.shape());
  cuda::gemm(Trans::No, Trans::Yes, d.rows, d.in, d.out, 1.0f, dy.data(), d.out, weight.data(), d.out, 0.0f, dx.data(),
             d.in);
  cuda::gemm(Trans::Yes, Trans::No, d.in, d.out, d.rows, 1.0f, x.data(), d.in, dy.data(), d.out, 1.0f, dweight.data(),
             d.out);
  if (!dbias.empty())
    detail::column_sums<kernels::SumOutput::Accumulate>("dense_backward (bias gradient)",
                                                        kernels::ValueTerm{dy.data(), static_cast<int>(d.out)}, 1,
                                                        d.rows, d.out, dbias.data());
  return dx;
}

}  // namespace skinnet::cuda
