#pragma once
// Pointwise activations on the CPU: ReLU, Swish (SiLU), Mish, Sigmoid, forward and backward.
//
// `Act` names an activation everywhere in skinnet (layers, fused BN+activation, the SE block's inner
// activation, Residual's post-activation). The scalar formulas below are SKN_HD_INLINE so the CUDA
// kernels evaluate exactly the same expressions.
//
// Backward takes the activation's *input* x (not its output): Swish and Mish need x, and recomputing
// the cheap forward inside the backward pass costs less memory traffic than caching two tensors.
#include <bit>
#include <cmath>
#include <cstdint>

#include "skinnet/core/error.hpp"
#include "skinnet/core/hd.hpp"
#include "skinnet/core/parallel.hpp"
#include "skinnet/core/tensor.hpp"
#include "skinnet/cpu/elementwise.hpp"

namespace skinnet {

enum class Act { None, ReLU, Swish, Mish, Sigmoid };

inline const char* act_name(Act a) {
  switch (a) {
    case Act::None: return "none";
    case Act::ReLU: return "relu";
    case Act::Swish: return "swish";
    case Act::Mish: return "mish";
    case Act::Sigmoid: return "sigmoid";
  }
  return "?";
}

namespace act {

// exp(x) in plain float arithmetic, so the activation loops vectorise (a call to expf does not) and
// every device evaluates the same expression. Cody-Waite reduction x = n ln2 + r, |r| <= ln2/2, a
// degree-6 Taylor polynomial for e^r (truncation error < 2e-7 relative, about 1 ulp) and 2^n built
// from its exponent bits. Saturates like expf: 0 below -87.34 (no denormals), +inf above 88.72.
SKN_HD_INLINE float float_from_bits(int32_t bits) {
#if defined(__CUDA_ARCH__)
  return __int_as_float(bits);
#else
  return std::bit_cast<float>(bits);
#endif
}
SKN_HD_INLINE float exp(float x) {
  const float xc = x < -87.33654f ? -87.33654f : (x > 88.72283f ? 88.72283f : x);
  // Round x / ln2 to the nearest integer with the 1.5 * 2^23 trick (exact for |value| < 2^22).
  const float n = (xc * 1.44269504f + 12582912.0f) - 12582912.0f;
  // ln2 split into a part with few mantissa bits (n * hi is exact) and the remainder.
  const float r = (xc - n * 0.693359375f) - n * -2.12194440e-4f;
  float p = 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  // 2^n for n in [-126, 128]: 2^128 is not a float, so positive n use 2 * 2^(n-1).
  const int32_t ni = static_cast<int32_t>(n);
  const int32_t k = ni > 0 ? ni - 1 : ni;
  const float e = (ni > 0 ? p * 2.0f : p) * float_from_bits((k + 127) << 23);
  return x < -87.33654f ? 0.0f : (x > 88.72283f ? INFINITY : e);
}

SKN_HD_INLINE float sigmoid(float x) {
  // exp(-x) saturates to +inf for x < -88.7, giving exactly 0: no NaN at either end.
  return 1.0f / (1.0f + act::exp(-x));
}

// tanh(softplus(x)) without forming softplus: with e = exp(x), (1+e)^2 = e(e+2) + 1, so
// tanh(log(1+e)) = e(e+2) / (e(e+2) + 2). For x > 20 this is 1 to float precision (and e(e+2)
// would overflow), for very negative x it tends to 0 smoothly.
SKN_HD_INLINE float tanh_softplus(float x) {
  const float e = act::exp(x < 20.0f ? x : 20.0f);
  const float n = e * (e + 2.0f);
  return x > 20.0f ? 1.0f : n / (n + 2.0f);
}

template <Act A>
SKN_HD_INLINE float forward(float x) {
  if constexpr (A == Act::None) {
    return x;
  } else if constexpr (A == Act::ReLU) {
    return x > 0.0f ? x : 0.0f;
  } else if constexpr (A == Act::Sigmoid) {
    return sigmoid(x);
  } else if constexpr (A == Act::Swish) {
    return x * sigmoid(x);
  } else {  // Mish
    return x * tanh_softplus(x);
  }
}

// d act(x) / dx
template <Act A>
SKN_HD_INLINE float derivative(float x) {
  if constexpr (A == Act::None) {
    return 1.0f;
  } else if constexpr (A == Act::ReLU) {
    return x > 0.0f ? 1.0f : 0.0f;  // the subgradient at 0 is taken as 0, as PyTorch does
  } else if constexpr (A == Act::Sigmoid) {
    const float s = sigmoid(x);
    return s * (1.0f - s);
  } else if constexpr (A == Act::Swish) {
    const float s = sigmoid(x);
    return s * (1.0f + x * (1.0f - s));
  } else {  // Mish: tanh(sp) + x * sech^2(sp) * sigmoid(x), sp = softplus(x)
    const float t = tanh_softplus(x);
    return t + x * (1.0f - t * t) * sigmoid(x);
  }
}

// Calls f.template operator()<A>() with A the runtime activation, so inner loops are compiled once
// per activation instead of switching per element.
template <class F>
decltype(auto) dispatch(Act a, F&& f) {
  switch (a) {
    case Act::None: return f.template operator()<Act::None>();
    case Act::ReLU: return f.template operator()<Act::ReLU>();
    case Act::Swish: return f.template operator()<Act::Swish>();
    case Act::Mish: return f.template operator()<Act::Mish>();
    case Act::Sigmoid: return f.template operator()<Act::Sigmoid>();
  }
  throw ValueError(detail::concat("unknown activation id ", static_cast<int>(a)));
}

}  // namespace act

namespace cpu {

// y = act(x), any shape.
inline Tensor<Cpu> activation_forward(Act a, const Tensor<Cpu>& x) {
  Tensor<Cpu> y(x.shape());
  const float* __restrict xp = x.data();
  float* __restrict yp = y.data();
  act::dispatch(a, [&]<Act A>() {
    detail::for_each_block(x.numel(), [&](int64_t lo, int64_t hi) {
SKN_OMP_SIMD
      for (int64_t i = lo; i < hi; ++i) yp[i] = act::forward<A>(xp[i]);
    });
  });
  return y;
}

// dx = dy * act'(x), where x is the input the forward pass saw.
inline Tensor<Cpu> activation_backward(Act a, const Tensor<Cpu>& x, const Tensor<Cpu>& dy) {
  SKN_REQUIRE(x.shape() == dy.shape(), ShapeError, "activation_backward(", act_name(a), "): input ",
              x.shape().str(), " and gradient ", dy.shape().str(), " differ");
  Tensor<Cpu> dx(x.shape());
  const float* __restrict xp = x.data();
  const float* __restrict gp = dy.data();
  float* __restrict dp = dx.data();
  act::dispatch(a, [&]<Act A>() {
    detail::for_each_block(x.numel(), [&](int64_t lo, int64_t hi) {
SKN_OMP_SIMD
      for (int64_t i = lo; i < hi; ++i) dp[i] = gp[i] * act::derivative<A>(xp[i]);
    });
  });
  return dx;
}

}  // namespace cpu
}  // namespace skinnet
