#pragma once
// CPU update ops of the optimizers (train/sgd.hpp, train/adam.hpp, train/adamw.hpp) and of gradient
// clipping (train/clip.hpp).
//
// Each op has the signature a CUDA kernel launcher in skinnet::cuda will copy with Tensor<Cuda>
// arguments; the optimizer templates call them unqualified, so argument-dependent lookup picks the
// backend. Everything a kernel needs per step is precomputed on the host, in double, and handed over
// as floats in a small struct (SgdStep, AdamStep): the per-element work is then a few
// multiply-adds that the compiler vectorises (AVX-512 here) and a CUDA thread does verbatim.
//
// The step structs live in namespace skinnet (not skinnet::cpu) because both backends share them.
//
// Determinism: updates are element-wise, so threads never change the result. The sum of squares used
// for clipping is reduced in fixed chunks of kNormChunk elements (in double), and the chunk sums are
// added in index order: the result depends on the tensor's size only, never on the thread count.
#include <cmath>
#include <cstdint>
#include <vector>

#include "skinnet/core/error.hpp"
#include "skinnet/core/parallel.hpp"
#include "skinnet/core/tensor.hpp"

// Asks for vectorisation of the update loops at -O2 as well (GCC only vectorises cheap loops there).
#if defined(_OPENMP)
#define SKN_OPTIM_SIMD _Pragma("omp simd")
#else
#define SKN_OPTIM_SIMD
#endif

namespace skinnet {

// One SGD step for one tensor, PyTorch's formulation (see train/sgd.hpp for the maths).
struct SgdStep {
  float lr = 0.f;
  float momentum = 0.f;      // 0: plain SGD, no momentum buffer is read or written
  float dampening = 0.f;
  float weight_decay = 0.f;  // L2 (added to the gradient); 0 for parameters excluded from decay
  bool nesterov = false;
  bool first_step = false;   // this parameter's first update: the buffer starts as the gradient itself
};

// One Adam / AdamW step for one tensor, PyTorch's formulation (see train/adam.hpp).
struct AdamStep {
  float beta1 = 0.9f;
  float beta2 = 0.999f;
  float eps = 1e-8f;
  float step_size = 0.f;              // lr / (1 - beta1^t), computed in double on the host
  float bias_correction2_sqrt = 1.f;  // sqrt(1 - beta2^t)
  float l2 = 0.f;                     // Adam's L2: g += l2 * w (0 for AdamW)
  float decay_factor = 1.f;           // AdamW's decoupled decay: w *= 1 - lr * weight_decay (1 for Adam)
};

namespace cpu {

namespace optim_detail {  // (named apart from other ops' helpers in skinnet::cpu)
// Elements per parallel task: large enough to amortise a task, small enough to split big tensors.
inline constexpr int64_t kUpdateChunk = 1 << 14;
// Elements per partial sum of the clipping norm (fixed, so the sum is the same for any thread count).
inline constexpr int64_t kNormChunk = 1 << 14;

inline void require_same_shape(const char* op, const Tensor<Cpu>& a, const char* an, const Tensor<Cpu>& b,
                               const char* bn) {
  SKN_REQUIRE(a.shape() == b.shape(), ShapeError, op, ": ", an, " ", a.shape().str(), " and ", bn, " ",
              b.shape().str(), " differ");
}

// Runs body(lo, hi) over [0, n) in chunks of kUpdateChunk, in parallel when there is more than one.
template <class Body>
void for_chunks(int64_t n, Body&& body) {
  const int64_t chunks = (n + kUpdateChunk - 1) / kUpdateChunk;
  parallel_for(0, chunks, [&](int64_t c) {
    const int64_t lo = c * kUpdateChunk;
    const int64_t hi = lo + kUpdateChunk < n ? lo + kUpdateChunk : n;
    body(lo, hi);
  });
}

// The per-element loops, on raw restrict pointers so the compiler knows the arrays do not overlap and
// vectorises them (a lambda's captured pointers lose that guarantee). The SGD flags are template
// parameters so each variant is a branch-free loop. Adam's sqrt vectorises only without errno
// semantics: build with -fno-math-errno for full speed (otherwise every element goes through sqrtf's
// errno-checking path and the Adam loop stays scalar).
template <bool kMomentum, bool kNesterov, bool kFirst>
inline void sgd_kernel(float* __restrict w, const float* __restrict g, float* __restrict b, int64_t n,
                       const SgdStep& s) {
  const float lr = s.lr, mu = s.momentum, damp = 1.f - s.dampening, wd = s.weight_decay;
  SKN_OPTIM_SIMD
  for (int64_t i = 0; i < n; ++i) {
    const float d = g[i] + wd * w[i];
    if constexpr (!kMomentum) {
      w[i] -= lr * d;
    } else {
      const float bi = kFirst ? d : mu * b[i] + damp * d;
      b[i] = bi;
      w[i] -= lr * (kNesterov ? d + mu * bi : bi);
    }
  }
}

inline void adam_kernel(float* __restrict w, const float* __restrict g, float* __restrict m,
                        float* __restrict v, int64_t n, const AdamStep& s) {
  const float b1 = s.beta1, b2 = s.beta2, c1 = 1.f - s.beta1, c2 = 1.f - s.beta2;
  const float eps = s.eps, step_size = s.step_size, bc2_sqrt = s.bias_correction2_sqrt;
  const float l2 = s.l2, decay = s.decay_factor;
  SKN_OPTIM_SIMD
  for (int64_t i = 0; i < n; ++i) {
    const float wi = w[i] * decay;  // decoupled decay (AdamW) acts on the weight before the step
    const float gi = g[i] + l2 * wi;
    const float mi = b1 * m[i] + c1 * gi;
    const float vi = b2 * v[i] + c2 * gi * gi;
    m[i] = mi;
    v[i] = vi;
    w[i] = wi - step_size * mi / (std::sqrt(vi) / bc2_sqrt + eps);
  }
}

inline void scale_kernel(float* __restrict p, int64_t n, float factor) {
  SKN_OPTIM_SIMD
  for (int64_t i = 0; i < n; ++i) p[i] *= factor;
}
}  // namespace optim_detail

// w -= lr * direction, where direction is the gradient (plus L2) run through the momentum buffer.
// `buf` is the momentum buffer (same shape as w); it is neither read nor written when momentum == 0
// and may then be an empty tensor.
inline void sgd_update(Tensor<Cpu>& w, const Tensor<Cpu>& g, Tensor<Cpu>& buf, const SgdStep& s) {
  optim_detail::require_same_shape("sgd_update", w, "weight", g, "gradient");
  if (s.momentum != 0.f) optim_detail::require_same_shape("sgd_update", w, "weight", buf, "momentum buffer");
  float* wp = w.data();
  const float* gp = g.data();
  float* bp = buf.data();
  optim_detail::for_chunks(w.numel(), [&](int64_t lo, int64_t hi) {
    float* b = bp ? bp + lo : nullptr;
    if (s.momentum == 0.f)
      optim_detail::sgd_kernel<false, false, false>(wp + lo, gp + lo, b, hi - lo, s);
    else if (s.first_step && s.nesterov)
      optim_detail::sgd_kernel<true, true, true>(wp + lo, gp + lo, b, hi - lo, s);
    else if (s.first_step)
      optim_detail::sgd_kernel<true, false, true>(wp + lo, gp + lo, b, hi - lo, s);
    else if (s.nesterov)
      optim_detail::sgd_kernel<true, true, false>(wp + lo, gp + lo, b, hi - lo, s);
    else
      optim_detail::sgd_kernel<true, false, false>(wp + lo, gp + lo, b, hi - lo, s);
  });
}

// Adam / AdamW for one tensor: m and v are the first and second moment estimates (same shape as w).
inline void adam_update(Tensor<Cpu>& w, const Tensor<Cpu>& g, Tensor<Cpu>& m, Tensor<Cpu>& v,
                        const AdamStep& s) {
  optim_detail::require_same_shape("adam_update", w, "weight", g, "gradient");
  optim_detail::require_same_shape("adam_update", w, "weight", m, "first moment");
  optim_detail::require_same_shape("adam_update", w, "weight", v, "second moment");
  float* wp = w.data();
  const float* gp = g.data();
  float* mp = m.data();
  float* vp = v.data();
  optim_detail::for_chunks(w.numel(), [&](int64_t lo, int64_t hi) {
    optim_detail::adam_kernel(wp + lo, gp + lo, mp + lo, vp + lo, hi - lo, s);
  });
}

// Sum of the squares of g's elements, in double (for the global gradient norm).
inline double grad_sum_squares(const Tensor<Cpu>& g) {
  const int64_t n = g.numel();
  const float* __restrict p = g.data();
  const int64_t chunks = (n + optim_detail::kNormChunk - 1) / optim_detail::kNormChunk;
  std::vector<double> partial(static_cast<size_t>(chunks), 0.0);
  parallel_for(0, chunks, [&](int64_t c) {
    const int64_t lo = c * optim_detail::kNormChunk;
    const int64_t hi = lo + optim_detail::kNormChunk < n ? lo + optim_detail::kNormChunk : n;
    // 16 independent accumulators (two AVX-512 vectors of doubles) in a fixed order: a single
    // accumulator is a serial dependency chain the compiler may not reorder (no -ffast-math).
    double acc[16] = {};
    int64_t i = lo;
    for (; i + 16 <= hi; i += 16)
      for (int j = 0; j < 16; ++j) acc[j] += static_cast<double>(p[i + j]) * static_cast<double>(p[i + j]);
    for (; i < hi; ++i) acc[0] += static_cast<double>(p[i]) * static_cast<double>(p[i]);
    double sum = 0.0;
    for (double a : acc) sum += a;
    partial[static_cast<size_t>(c)] = sum;
  });
  double total = 0.0;
  for (double x : partial) total += x;
  return total;
}

// g *= factor (gradient clipping).
inline void grad_scale(Tensor<Cpu>& g, float factor) {
  float* p = g.data();
  optim_detail::for_chunks(g.numel(), [&](int64_t lo, int64_t hi) { optim_detail::scale_kernel(p + lo, hi - lo, factor); });
}

}  // namespace cpu
}  // namespace skinnet

#undef SKN_OPTIM_SIMD
