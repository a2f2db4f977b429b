#pragma once
// float64 reference batch normalisation over rows x channels ([M][C], M = N*H*W for NHWC), with an
// optional activation after it. Backward uses the classic chain rule through mean and variance
// (Ioffe & Szegedy 2015, Algorithm 1 differentiated step by step), not the compact form the backends
// use, so the two derivations check each other.
#include <cmath>
#include <cstdint>
#include <vector>

#include "reference/activation.hpp"

namespace skinnet::ref {

struct BatchNormTrain {
  std::vector<double> y, mean, var;              // var: biased (divide by M)
  std::vector<double> running_mean, running_var;  // after the update (unbiased variance, PyTorch momentum)
};

inline BatchNormTrain batchnorm_train(const std::vector<double>& x, int64_t M, int64_t C,
                                      const std::vector<double>& gamma, const std::vector<double>& beta,
                                      std::vector<double> running_mean, std::vector<double> running_var,
                                      double momentum, double eps, RefAct act) {
  BatchNormTrain r;
  r.mean.assign(C, 0.0);
  r.var.assign(C, 0.0);
  for (int64_t m = 0; m < M; ++m)
    for (int64_t c = 0; c < C; ++c) r.mean[c] += x[m * C + c];
  for (int64_t c = 0; c < C; ++c) r.mean[c] /= static_cast<double>(M);
  for (int64_t m = 0; m < M; ++m)
    for (int64_t c = 0; c < C; ++c) {
      const double d = x[m * C + c] - r.mean[c];
      r.var[c] += d * d;
    }
  for (int64_t c = 0; c < C; ++c) r.var[c] /= static_cast<double>(M);
  r.y.resize(x.size());
  for (int64_t m = 0; m < M; ++m)
    for (int64_t c = 0; c < C; ++c) {
      const double xh = (x[m * C + c] - r.mean[c]) / std::sqrt(r.var[c] + eps);
      r.y[m * C + c] = act_forward(act, gamma[c] * xh + beta[c]);
    }
  for (int64_t c = 0; c < C; ++c) {
    running_mean[c] = (1.0 - momentum) * running_mean[c] + momentum * r.mean[c];
    running_var[c] = (1.0 - momentum) * running_var[c] + momentum * r.var[c] * M / (M - 1.0);
  }
  r.running_mean = std::move(running_mean);
  r.running_var = std::move(running_var);
  return r;
}

inline std::vector<double> batchnorm_infer(const std::vector<double>& x, int64_t M, int64_t C,
                                           const std::vector<double>& gamma, const std::vector<double>& beta,
                                           const std::vector<double>& running_mean,
                                           const std::vector<double>& running_var, double eps, RefAct act) {
  std::vector<double> y(x.size());
  for (int64_t m = 0; m < M; ++m)
    for (int64_t c = 0; c < C; ++c)
      y[m * C + c] = act_forward(
          act, gamma[c] * (x[m * C + c] - running_mean[c]) / std::sqrt(running_var[c] + eps) + beta[c]);
  return y;
}

struct BatchNormGrads {
  std::vector<double> dx, dgamma, dbeta;
};

// Gradients of a training-mode forward at x (batch statistics recomputed here).
inline BatchNormGrads batchnorm_train_backward(const std::vector<double>& x, int64_t M, int64_t C,
                                               const std::vector<double>& gamma, const std::vector<double>& beta,
                                               double eps, RefAct act, const std::vector<double>& dy) {
  std::vector<double> mean(C, 0.0), var(C, 0.0);
  for (int64_t m = 0; m < M; ++m)
    for (int64_t c = 0; c < C; ++c) mean[c] += x[m * C + c] / static_cast<double>(M);
  for (int64_t m = 0; m < M; ++m)
    for (int64_t c = 0; c < C; ++c) var[c] += std::pow(x[m * C + c] - mean[c], 2) / static_cast<double>(M);

  BatchNormGrads g;
  g.dx.assign(x.size(), 0.0);
  g.dgamma.assign(C, 0.0);
  g.dbeta.assign(C, 0.0);
  for (int64_t c = 0; c < C; ++c) {
    const double sd = std::sqrt(var[c] + eps);
    std::vector<double> xh(M), dxh(M);
    double dvar = 0.0, dmean = 0.0, sum_centered = 0.0;
    for (int64_t m = 0; m < M; ++m) {
      xh[m] = (x[m * C + c] - mean[c]) / sd;
      const double dz = dy[m * C + c] * act_derivative(act, gamma[c] * xh[m] + beta[c]);
      g.dbeta[c] += dz;
      g.dgamma[c] += dz * xh[m];
      dxh[m] = dz * gamma[c];
    }
    for (int64_t m = 0; m < M; ++m) {
      const double centered = x[m * C + c] - mean[c];
      dvar += dxh[m] * centered * -0.5 * std::pow(var[c] + eps, -1.5);
      dmean += -dxh[m] / sd;
      sum_centered += -2.0 * centered;
    }
    dmean += dvar * sum_centered / static_cast<double>(M);
    for (int64_t m = 0; m < M; ++m) {
      const double centered = x[m * C + c] - mean[c];
      g.dx[m * C + c] = dxh[m] / sd + dvar * 2.0 * centered / static_cast<double>(M) + dmean / static_cast<double>(M);
    }
  }
  return g;
}

}  // namespace skinnet::ref
