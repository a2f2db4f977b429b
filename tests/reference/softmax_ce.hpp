#pragma once
// float64 reference softmax cross-entropy with label smoothing and class weights, written from the
// definition of PyTorch's CrossEntropyLoss(weight, label_smoothing) with mean reduction:
//   target distribution q_n = (1 - eps) onehot(y_n) + eps / K
//   loss = [ (1 - eps) sum_n w_{y_n} (-log p_{n y_n}) + (eps / K) sum_n sum_k w_k (-log p_nk) ] / sum_n w_{y_n}
// The gradient is derived here term by term: d(-log p_nk)/dz_nj = p_nj - [j == k].
#include <cmath>
#include <cstdint>
#include <vector>

namespace skinnet::ref {

struct SoftmaxCE {
  double loss = 0;
  std::vector<double> dlogits;
};

inline SoftmaxCE softmax_cross_entropy(const std::vector<double>& z, int64_t N, int64_t K,
                                       const std::vector<int>& labels, const std::vector<double>& weights,
                                       double eps) {
  auto w = [&](int64_t k) { return weights.empty() ? 1.0 : weights[k]; };
  double norm = 0.0;
  for (int64_t n = 0; n < N; ++n) norm += w(labels[n]);
  SoftmaxCE r;
  r.dlogits.assign(N * K, 0.0);
  for (int64_t n = 0; n < N; ++n) {
    double mx = z[n * K];
    for (int64_t k = 1; k < K; ++k) mx = std::max(mx, z[n * K + k]);
    double denom = 0.0;
    for (int64_t k = 0; k < K; ++k) denom += std::exp(z[n * K + k] - mx);
    std::vector<double> p(K), nlp(K);
    for (int64_t k = 0; k < K; ++k) {
      p[k] = std::exp(z[n * K + k] - mx) / denom;
      nlp[k] = -(z[n * K + k] - mx - std::log(denom));
    }
    const int64_t y = labels[n];
    // nll term
    r.loss += (1.0 - eps) * w(y) * nlp[y] / norm;
    for (int64_t j = 0; j < K; ++j) r.dlogits[n * K + j] += (1.0 - eps) * w(y) * (p[j] - (j == y)) / norm;
    // smoothing term
    for (int64_t k = 0; k < K; ++k) {
      r.loss += eps / K * w(k) * nlp[k] / norm;
      for (int64_t j = 0; j < K; ++j) r.dlogits[n * K + j] += eps / K * w(k) * (p[j] - (j == k)) / norm;
    }
  }
  return r;
}

}  // namespace skinnet::ref
