#pragma once
// Batch normalisation on the CPU, NHWC, per channel, with an optional fused activation.
//
// Conventions (the BatchNorm layer documents them for users):
//   * x is viewed as M = numel / C rows of C channels (C = last dimension), so the same ops serve
//     NHWC feature maps and [N, C] dense activations.
//   * Training normalises with the batch mean and the *biased* batch variance (divide by M);
//     running_var is updated with the *unbiased* variance (divide by M - 1), as PyTorch does.
//   * Running averages use PyTorch's momentum: running = (1 - momentum) * running + momentum * batch
//     (Keras' momentum 0.99 is momentum 0.01 here).
//
// Memory traffic is what limits BN, so each phase is one fused pass over the big tensors:
//   forward (train)   pass 1 reads x -> per-channel sum and sum of squares (double accumulators)
//                     pass 2 reads x -> writes y = act(gamma * xhat + beta)
//   backward          pass 1 reads dy, x -> sum(dz), sum(dz * xhat), dz = dy * act'(gamma*xhat+beta)
//                     pass 2 reads dy, x -> writes dx
// with xhat = x * invstd - mean * invstd recomputed wherever it is needed (one multiply-add). The
// layer keeps its input x for backward (a shared handle, Tensor::share) instead of writing xhat: that
// saved a tensor write, and the cache traffic of a freshly written buffer, in every training forward
// (16x64x112x112: forward 6.7 -> 4.8 ms on the Zen 5 VM; whole training steps measured the same).
//
// Determinism: reductions split the rows into a fixed number of chunks that depends only on the
// tensor's shape (not on the thread count), each chunk sums in a fixed order, and chunks are combined
// in index order. Results are therefore bit-identical across runs *and* thread counts.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "skinnet/core/error.hpp"
#include "skinnet/core/parallel.hpp"
#include "skinnet/core/tensor.hpp"
#include "skinnet/cpu/activation.hpp"
#include "skinnet/cpu/elementwise.hpp"

namespace skinnet::cpu {

namespace detail {

inline int64_t channels_of(const Tensor<Cpu>& x) { return x.shape()[x.shape().rank() - 1]; }

inline void check_channel_vector(const char* op, const char* what, const Tensor<Cpu>& t, int64_t C) {
  SKN_REQUIRE(t.numel() == C, ShapeError, op, ": ", what, " has ", t.numel(), " elements (shape ",
              t.shape().str(), ") but the input has ", C, " channels");
}

// Fixed partition of M rows (of C channels) into chunks for reductions: about 8K floats a chunk,
// at most 256 chunks. A pure function of (M, C), so sums do not depend on the thread count.
struct RowChunks {
  int64_t M, count;
  RowChunks(int64_t rows, int64_t C) : M(rows) {
    const int64_t per = std::max<int64_t>(1, 8192 / std::max<int64_t>(C, 1));
    count = std::clamp<int64_t>((M + per - 1) / per, 1, 256);
  }
  int64_t begin(int64_t k) const { return M * k / count; }
  int64_t end(int64_t k) const { return M * (k + 1) / count; }
};

// Sums partial[k * C + c] over k in index order into out[c].
inline void combine_chunks(const std::vector<double>& partial, int64_t chunks, int64_t C, double* out) {
  for (int64_t c = 0; c < C; ++c) out[c] = 0.0;
  for (int64_t k = 0; k < chunks; ++k) {
    const double* p = partial.data() + k * C;
    for (int64_t c = 0; c < C; ++c) out[c] += p[c];
  }
}

// Per-channel sums of u and of u * w in double over rows [r0, r1), ADDED into s[c] and q[c]; (u, w)
// are the values of one row and channel: (x, x) for the statistics, (dz, xhat) for the backward.
// The accumulators of 64 channels at a time stay in registers while the rows stream by. (Summing
// into s[c] and q[c] in memory row after row made every row wait for the previous row's stores: the
// reductions ran at a third of the read bandwidth on the Zen 5 VM.) Same additions in the same row
// order as that loop, so the same sums.
//   vec(r, c, u, w): the 16 channels c .. c + 15 of row r as float vectors; scalar(r, c, u, w): one.
using Floats16 = float __attribute__((vector_size(64)));
using Doubles8 = double __attribute__((vector_size(64)));

inline Floats16 load16(const float* p) {
  Floats16 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline void store16(float* p, Floats16 v) { std::memcpy(p, &v, sizeof v); }

template <int G, class VecFn>
void channel_sums_block(int64_t r0, int64_t r1, int64_t c0, const VecFn& vec, double* s, double* q) {
  Doubles8 s_lo[G] = {}, s_hi[G] = {}, q_lo[G] = {}, q_hi[G] = {};
  for (int64_t r = r0; r < r1; ++r)
    for (int g = 0; g < G; ++g) {
      Floats16 u, w;
      vec(r, c0 + 16 * g, u, w);
      const Doubles8 ul = __builtin_convertvector(__builtin_shufflevector(u, u, 0, 1, 2, 3, 4, 5, 6, 7), Doubles8);
      const Doubles8 uh = __builtin_convertvector(__builtin_shufflevector(u, u, 8, 9, 10, 11, 12, 13, 14, 15), Doubles8);
      const Doubles8 wl = __builtin_convertvector(__builtin_shufflevector(w, w, 0, 1, 2, 3, 4, 5, 6, 7), Doubles8);
      const Doubles8 wh = __builtin_convertvector(__builtin_shufflevector(w, w, 8, 9, 10, 11, 12, 13, 14, 15), Doubles8);
      s_lo[g] += ul;
      s_hi[g] += uh;
      q_lo[g] += ul * wl;
      q_hi[g] += uh * wh;
    }
  for (int g = 0; g < G; ++g)
    for (int i = 0; i < 8; ++i) {
      s[c0 + 16 * g + i] += s_lo[g][i];
      s[c0 + 16 * g + 8 + i] += s_hi[g][i];
      q[c0 + 16 * g + i] += q_lo[g][i];
      q[c0 + 16 * g + 8 + i] += q_hi[g][i];
    }
}

template <class VecFn, class ScalarFn>
void channel_sums(int64_t r0, int64_t r1, int64_t C, const VecFn& vec, const ScalarFn& scalar, double* s,
                  double* q) {
  int64_t c0 = 0;
  for (; c0 + 64 <= C; c0 += 64) channel_sums_block<4>(r0, r1, c0, vec, s, q);
  switch ((C - c0) / 16) {
    case 3: channel_sums_block<3>(r0, r1, c0, vec, s, q); break;
    case 2: channel_sums_block<2>(r0, r1, c0, vec, s, q); break;
    case 1: channel_sums_block<1>(r0, r1, c0, vec, s, q); break;
    default: break;
  }
  c0 += (C - c0) / 16 * 16;
  for (int64_t r = r0; r < r1 && c0 < C; ++r)
    for (int64_t c = c0; c < C; ++c) {
      float u, w;
      scalar(r, c, u, w);
      s[c] += static_cast<double>(u);
      q[c] += static_cast<double>(u) * static_cast<double>(w);
    }
}

// xhat = x * scale + shift per channel, from the batch statistics: one definition for forward and
// backward, so backward recomputes exactly the values forward normalised with.
struct SavedAffine {
  std::vector<float> scale, shift;
  SavedAffine(const Tensor<Cpu>& mean, const Tensor<Cpu>& invstd)
      : scale(static_cast<size_t>(mean.numel())), shift(scale.size()) {
    for (size_t c = 0; c < scale.size(); ++c) {
      scale[c] = invstd.data()[c];
      shift[c] = -mean.data()[c] * invstd.data()[c];
    }
  }
};

}  // namespace detail

// Training forward. Writes y (same shape as x), batch_mean and batch_invstd ([C]: the statistics
// used, 1/sqrt(biased var + eps), which backward needs with x), and updates running_mean /
// running_var in place. Output tensors are (re)allocated as needed.
inline void batchnorm_forward_train(const Tensor<Cpu>& x, const Tensor<Cpu>& gamma, const Tensor<Cpu>& beta,
                                    Tensor<Cpu>& running_mean, Tensor<Cpu>& running_var, float momentum,
                                    float eps, Act act, Tensor<Cpu>& y, Tensor<Cpu>& batch_mean,
                                    Tensor<Cpu>& batch_invstd) {
  const char* op = "batchnorm_forward_train";
  SKN_REQUIRE(!x.empty(), ShapeError, op, ": empty input");
  const int64_t C = detail::channels_of(x);
  const int64_t M = x.numel() / C;
  detail::check_channel_vector(op, "weight (gamma)", gamma, C);
  detail::check_channel_vector(op, "bias (beta)", beta, C);
  detail::check_channel_vector(op, "running_mean", running_mean, C);
  detail::check_channel_vector(op, "running_var", running_var, C);
  // As in PyTorch: with one value per channel the variance is undefined (and the unbiased running
  // update would divide by zero).
  SKN_REQUIRE(M > 1, ValueError, op, ": training needs more than one value per channel, input ",
              x.shape().str());
  detail::ensure_shape(y, x.shape());
  detail::ensure_shape(batch_mean, Shape{C});
  detail::ensure_shape(batch_invstd, Shape{C});

  // Pass 1: per-chunk sums and sums of squares in double. E[x^2] - E[x]^2 in double loses nothing
  // that matters unless |mean| / std exceeds ~1e6. (Summing 32-row tiles in float first, which would
  // lose that margin, measured no faster on a Xeon VM; the double accumulators in registers of
  // channel_sums made this pass ~2x faster on the Zen 5 VM.)
  const detail::RowChunks chunks(M, C);
  std::vector<double> psum(static_cast<size_t>(chunks.count * C)), psq(psum.size());
  const float* __restrict xp = x.data();
  parallel_for(0, chunks.count, [&](int64_t k) {
    double* s = psum.data() + k * C;
    double* q = psq.data() + k * C;
    for (int64_t c = 0; c < C; ++c) s[c] = q[c] = 0.0;
    detail::channel_sums(
        chunks.begin(k), chunks.end(k), C,
        [&](int64_t r, int64_t c, detail::Floats16& u, detail::Floats16& w) { u = w = detail::load16(xp + r * C + c); },
        [&](int64_t r, int64_t c, float& u, float& w) { u = w = xp[r * C + c]; }, s, q);
  });
  std::vector<double> sum(static_cast<size_t>(C)), sq(static_cast<size_t>(C));
  detail::combine_chunks(psum, chunks.count, C, sum.data());
  detail::combine_chunks(psq, chunks.count, C, sq.data());

  // Statistics, running averages, and the per-channel affine map of pass 2.
  const float* g = gamma.data();
  const float* b = beta.data();
  float* rm = running_mean.data();
  float* rv = running_var.data();
  for (int64_t c = 0; c < C; ++c) {
    const double mean = sum[c] / static_cast<double>(M);
    const double var = std::max(0.0, sq[c] / static_cast<double>(M) - mean * mean);
    const double unbiased = var * static_cast<double>(M) / static_cast<double>(M - 1);
    const float invstd = static_cast<float>(1.0 / std::sqrt(var + static_cast<double>(eps)));
    batch_mean.data()[c] = static_cast<float>(mean);
    batch_invstd.data()[c] = invstd;
    rm[c] = (1.0f - momentum) * rm[c] + momentum * static_cast<float>(mean);
    rv[c] = (1.0f - momentum) * rv[c] + momentum * static_cast<float>(unbiased);
  }
  const detail::SavedAffine affine(batch_mean, batch_invstd);

  // Pass 2: y.
  float* __restrict yp = y.data();
  const float* __restrict sc = affine.scale.data();
  const float* __restrict sh = affine.shift.data();
  act::dispatch(act, [&]<Act A>() {
    detail::for_each_row_block(M, C, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const float* __restrict xr = xp + r * C;
        float* __restrict yr = yp + r * C;
SKN_OMP_SIMD
        for (int64_t c = 0; c < C; ++c) {
          const float h = xr[c] * sc[c] + sh[c];
          yr[c] = act::forward<A>(g[c] * h + b[c]);
        }
      }
    });
  });
}

// Inference forward with the running statistics: y = act(x * s + t), s = gamma / sqrt(var + eps),
// t = beta - mean * s. Caches nothing.
inline Tensor<Cpu> batchnorm_forward_infer(const Tensor<Cpu>& x, const Tensor<Cpu>& gamma,
                                           const Tensor<Cpu>& beta, const Tensor<Cpu>& running_mean,
                                           const Tensor<Cpu>& running_var, float eps, Act act) {
  const char* op = "batchnorm_forward_infer";
  SKN_REQUIRE(!x.empty(), ShapeError, op, ": empty input");
  const int64_t C = detail::channels_of(x);
  const int64_t M = x.numel() / C;
  detail::check_channel_vector(op, "weight (gamma)", gamma, C);
  detail::check_channel_vector(op, "bias (beta)", beta, C);
  detail::check_channel_vector(op, "running_mean", running_mean, C);
  detail::check_channel_vector(op, "running_var", running_var, C);
  std::vector<float> scale(static_cast<size_t>(C)), shift(static_cast<size_t>(C));
  for (int64_t c = 0; c < C; ++c) {
    const double s = gamma.data()[c] / std::sqrt(static_cast<double>(running_var.data()[c]) + eps);
    scale[c] = static_cast<float>(s);
    shift[c] = static_cast<float>(beta.data()[c] - running_mean.data()[c] * s);
  }
  Tensor<Cpu> y(x.shape());
  const float* __restrict xp = x.data();
  float* __restrict yp = y.data();
  const float* __restrict sc = scale.data();
  const float* __restrict sh = shift.data();
  act::dispatch(act, [&]<Act A>() {
    detail::for_each_row_block(M, C, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const float* __restrict xr = xp + r * C;
        float* __restrict yr = yp + r * C;
SKN_OMP_SIMD
        for (int64_t c = 0; c < C; ++c) yr[c] = act::forward<A>(xr[c] * sc[c] + sh[c]);
      }
    });
  });
  return y;
}

// Training backward from the forward's input x and its batch_mean / batch_invstd. Writes dx
// (reallocated as needed); ADDS into dgamma and dbeta.
//   xhat   = x * invstd - mean * invstd   (the forward's own expression)
//   dz     = dy * act'(gamma * xhat + beta)
//   dbeta  = sum(dz),  dgamma = sum(dz * xhat)
//   dx     = gamma * invstd * (dz - sum(dz) / M - xhat * sum(dz * xhat) / M)
inline void batchnorm_backward(const Tensor<Cpu>& dy, const Tensor<Cpu>& x, const Tensor<Cpu>& gamma,
                               const Tensor<Cpu>& beta, const Tensor<Cpu>& batch_mean,
                               const Tensor<Cpu>& batch_invstd, Act act, Tensor<Cpu>& dgamma, Tensor<Cpu>& dbeta,
                               Tensor<Cpu>& dx) {
  const char* op = "batchnorm_backward";
  SKN_REQUIRE(dy.shape() == x.shape(), ShapeError, op, ": gradient ", dy.shape().str(),
              " does not match the saved input ", x.shape().str());
  const int64_t C = detail::channels_of(x);
  const int64_t M = x.numel() / C;
  detail::check_channel_vector(op, "weight (gamma)", gamma, C);
  detail::check_channel_vector(op, "bias (beta)", beta, C);
  detail::check_channel_vector(op, "batch_mean", batch_mean, C);
  detail::check_channel_vector(op, "batch_invstd", batch_invstd, C);
  detail::check_channel_vector(op, "dgamma", dgamma, C);
  detail::check_channel_vector(op, "dbeta", dbeta, C);

  const float* __restrict gp = dy.data();
  const float* __restrict xp = x.data();
  const float* __restrict g = gamma.data();
  const float* __restrict b = beta.data();
  const detail::SavedAffine affine(batch_mean, batch_invstd);
  const float* __restrict sc = affine.scale.data();
  const float* __restrict sh = affine.shift.data();
  const detail::RowChunks chunks(M, C);
  std::vector<double> pdz(static_cast<size_t>(chunks.count * C)), pdzh(pdz.size());
  detail::ensure_shape(dx, x.shape());
  float* __restrict dp = dx.data();

  act::dispatch(act, [&]<Act A>() {
    // Pass 1: the two per-channel reductions.
    parallel_for(0, chunks.count, [&](int64_t k) {
      double* s1 = pdz.data() + k * C;
      double* s2 = pdzh.data() + k * C;
      for (int64_t c = 0; c < C; ++c) s1[c] = s2[c] = 0.0;
      // (u, w) = (dz, xhat) of one element, as a vector of 16 channels and as one channel.
      auto vec = [&](int64_t r, int64_t c, detail::Floats16& dz, detail::Floats16& h) {
        h = detail::load16(xp + r * C + c) * detail::load16(sc + c) + detail::load16(sh + c);
        dz = detail::load16(gp + r * C + c);
        if constexpr (A != Act::None) {
          // Through an array, in a simd loop: GCC vectorises the derivative (exp included) there,
          // not as a loop over the lanes of a vector.
          alignas(64) float z[16];
          detail::store16(z, detail::load16(g + c) * h + detail::load16(b + c));
SKN_OMP_SIMD
          for (int i = 0; i < 16; ++i) z[i] = act::derivative<A>(z[i]);
          dz *= detail::load16(z);
        }
      };
      auto scalar = [&](int64_t r, int64_t c, float& dz, float& h) {
        h = xp[r * C + c] * sc[c] + sh[c];
        dz = gp[r * C + c];
        if constexpr (A != Act::None) dz *= act::derivative<A>(g[c] * h + b[c]);
      };
      detail::channel_sums(chunks.begin(k), chunks.end(k), C, vec, scalar, s1, s2);
    });
    std::vector<double> sdz(static_cast<size_t>(C)), sdzh(static_cast<size_t>(C));
    detail::combine_chunks(pdz, chunks.count, C, sdz.data());
    detail::combine_chunks(pdzh, chunks.count, C, sdzh.data());
    std::vector<float> k(static_cast<size_t>(C)), mdz(static_cast<size_t>(C)), mdzh(static_cast<size_t>(C));
    for (int64_t c = 0; c < C; ++c) {
      dbeta.data()[c] += static_cast<float>(sdz[c]);
      dgamma.data()[c] += static_cast<float>(sdzh[c]);
      k[c] = g[c] * batch_invstd.data()[c];
      mdz[c] = static_cast<float>(sdz[c] / static_cast<double>(M));
      mdzh[c] = static_cast<float>(sdzh[c] / static_cast<double>(M));
    }
    // Pass 2: dx.
    const float* __restrict kp = k.data();
    const float* __restrict ap = mdz.data();
    const float* __restrict bp = mdzh.data();
    detail::for_each_row_block(M, C, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const float* __restrict gr = gp + r * C;
        const float* __restrict xr = xp + r * C;
        float* __restrict dr = dp + r * C;
SKN_OMP_SIMD
        for (int64_t c = 0; c < C; ++c) {
          const float h = xr[c] * sc[c] + sh[c];
          float dz = gr[c];
          if constexpr (A != Act::None) dz *= act::derivative<A>(g[c] * h + b[c]);
          dr[c] = kp[c] * (dz - ap[c] - h * bp[c]);
        }
      }
    });
  });
}

// Same, returning a new dx.
inline Tensor<Cpu> batchnorm_backward(const Tensor<Cpu>& dy, const Tensor<Cpu>& x, const Tensor<Cpu>& gamma,
                                      const Tensor<Cpu>& beta, const Tensor<Cpu>& batch_mean,
                                      const Tensor<Cpu>& batch_invstd, Act act, Tensor<Cpu>& dgamma,
                                      Tensor<Cpu>& dbeta) {
  Tensor<Cpu> dx;
  batchnorm_backward(dy, x, gamma, beta, batch_mean, batch_invstd, act, dgamma, dbeta, dx);
  return dx;
}

}  // namespace skinnet::cpu
