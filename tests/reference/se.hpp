#pragma once
// float64 reference squeeze-and-excitation block on an NHWC map [N][HW][C]:
//   s = mean_hw x;  pre1 = s W1 + b1;  r = act(pre1);  pre2 = r W2 + b2;  g = sigmoid(pre2);  y = x * g
// W1 is [C][Cr], W2 is [Cr][C] (dense [in][out], the memory of a 1x1 HWIO kernel).
#include <cmath>
#include <cstdint>
#include <vector>

#include "reference/activation.hpp"

namespace skinnet::ref {

struct SEParams {
  int64_t C, Cr;
  RefAct inner;
  std::vector<double> w1, b1, w2, b2;
};

struct SEForward {
  std::vector<double> y, s, pre1, r, pre2, g;
};

inline SEForward se_forward(const std::vector<double>& x, int64_t N, int64_t HW, const SEParams& p) {
  const int64_t C = p.C, Cr = p.Cr;
  SEForward f;
  f.s.assign(N * C, 0.0);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t q = 0; q < HW; ++q)
      for (int64_t c = 0; c < C; ++c) f.s[n * C + c] += x[(n * HW + q) * C + c] / static_cast<double>(HW);
  f.pre1.assign(N * Cr, 0.0);
  f.r.assign(N * Cr, 0.0);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t j = 0; j < Cr; ++j) {
      double a = p.b1[j];
      for (int64_t c = 0; c < C; ++c) a += f.s[n * C + c] * p.w1[c * Cr + j];
      f.pre1[n * Cr + j] = a;
      f.r[n * Cr + j] = act_forward(p.inner, a);
    }
  f.pre2.assign(N * C, 0.0);
  f.g.assign(N * C, 0.0);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t c = 0; c < C; ++c) {
      double a = p.b2[c];
      for (int64_t j = 0; j < Cr; ++j) a += f.r[n * Cr + j] * p.w2[j * C + c];
      f.pre2[n * C + c] = a;
      f.g[n * C + c] = 1.0 / (1.0 + std::exp(-a));
    }
  f.y.resize(x.size());
  for (int64_t n = 0; n < N; ++n)
    for (int64_t q = 0; q < HW; ++q)
      for (int64_t c = 0; c < C; ++c) f.y[(n * HW + q) * C + c] = x[(n * HW + q) * C + c] * f.g[n * C + c];
  return f;
}

struct SEGrads {
  std::vector<double> dx, dw1, db1, dw2, db2;
};

inline SEGrads se_backward(const std::vector<double>& x, int64_t N, int64_t HW, const SEParams& p,
                           const std::vector<double>& dy) {
  const int64_t C = p.C, Cr = p.Cr;
  const SEForward f = se_forward(x, N, HW, p);
  SEGrads g;
  g.dx.assign(x.size(), 0.0);
  g.dw1.assign(C * Cr, 0.0);
  g.db1.assign(Cr, 0.0);
  g.dw2.assign(Cr * C, 0.0);
  g.db2.assign(C, 0.0);
  for (int64_t n = 0; n < N; ++n) {
    // y = x * g: direct path and the gate's gradient.
    std::vector<double> dgate(C, 0.0);
    for (int64_t q = 0; q < HW; ++q)
      for (int64_t c = 0; c < C; ++c) {
        const int64_t i = (n * HW + q) * C + c;
        g.dx[i] += dy[i] * f.g[n * C + c];
        dgate[c] += dy[i] * x[i];
      }
    // g = sigmoid(pre2), pre2 = r W2 + b2
    std::vector<double> dr(Cr, 0.0);
    for (int64_t c = 0; c < C; ++c) {
      const double gc = f.g[n * C + c];
      const double dpre2 = dgate[c] * gc * (1.0 - gc);
      g.db2[c] += dpre2;
      for (int64_t j = 0; j < Cr; ++j) {
        g.dw2[j * C + c] += f.r[n * Cr + j] * dpre2;
        dr[j] += p.w2[j * C + c] * dpre2;
      }
    }
    // r = act(pre1), pre1 = s W1 + b1, s = mean x
    for (int64_t j = 0; j < Cr; ++j) {
      const double dpre1 = dr[j] * act_derivative(p.inner, f.pre1[n * Cr + j]);
      g.db1[j] += dpre1;
      for (int64_t c = 0; c < C; ++c) {
        g.dw1[c * Cr + j] += f.s[n * C + c] * dpre1;
        const double ds = p.w1[c * Cr + j] * dpre1;
        for (int64_t q = 0; q < HW; ++q) g.dx[(n * HW + q) * C + c] += ds / static_cast<double>(HW);
      }
    }
  }
  return g;
}

}  // namespace skinnet::ref
