#pragma once
// Float64 reference optimizers for tests: plain loops written from the papers' textbook formulas,
// sharing no code with include/skinnet/train/ or cpu/optim.hpp. Each holds its own copy of the weights
// and state in double and is fed the same gradients as the optimizer under test.
#include <cmath>
#include <cstddef>
#include <vector>

namespace skinnet::ref {

// SGD with momentum / Nesterov / L2, PyTorch semantics: the buffer starts as the first gradient.
struct SgdRef {
  double lr = 0.01, momentum = 0.0, dampening = 0.0, weight_decay = 0.0;
  bool nesterov = false;
  std::vector<double> w, buf;
  bool started = false;

  void step(const std::vector<double>& grad) {
    if (buf.empty()) buf.assign(w.size(), 0.0);
    for (size_t i = 0; i < w.size(); ++i) {
      double d = grad[i] + weight_decay * w[i];
      if (momentum != 0.0) {
        buf[i] = started ? momentum * buf[i] + (1.0 - dampening) * d : d;
        d = nesterov ? d + momentum * buf[i] : buf[i];
      }
      w[i] -= lr * d;
    }
    started = true;
  }
};

// Adam (Kingma & Ba, Algorithm 1) with bias-corrected moments; L2 decay added to the gradient, or
// AdamW's decoupled decay (Loshchilov & Hutter, Algorithm 2 with schedule multiplier = lr).
struct AdamRef {
  double lr = 1e-3, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, weight_decay = 0.0;
  bool decoupled = false;
  std::vector<double> w, m, v;
  int t = 0;

  void step(const std::vector<double>& grad) {
    if (m.empty()) {
      m.assign(w.size(), 0.0);
      v.assign(w.size(), 0.0);
    }
    ++t;
    for (size_t i = 0; i < w.size(); ++i) {
      double g = grad[i];
      if (decoupled) {
        w[i] = w[i] - lr * weight_decay * w[i];
      } else {
        g += weight_decay * w[i];
      }
      m[i] = beta1 * m[i] + (1.0 - beta1) * g;
      v[i] = beta2 * v[i] + (1.0 - beta2) * g * g;
      const double m_hat = m[i] / (1.0 - std::pow(beta1, t));
      const double v_hat = v[i] / (1.0 - std::pow(beta2, t));
      w[i] -= lr * m_hat / (std::sqrt(v_hat) + eps);
    }
  }
};

}  // namespace skinnet::ref
