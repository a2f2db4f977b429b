#pragma once
// float64 reference activations: textbook formulas, plain loops.
#include <cmath>
#include <vector>

namespace skinnet::ref {

enum class RefAct { None, ReLU, Swish, Mish, Sigmoid };

inline double act_forward(RefAct a, double x) {
  switch (a) {
    case RefAct::None: return x;
    case RefAct::ReLU: return x > 0 ? x : 0.0;
    case RefAct::Sigmoid: return 1.0 / (1.0 + std::exp(-x));
    case RefAct::Swish: return x / (1.0 + std::exp(-x));
    case RefAct::Mish: {
      const double softplus = x > 30 ? x : std::log1p(std::exp(x));
      return x * std::tanh(softplus);
    }
  }
  return 0.0;
}

inline double act_derivative(RefAct a, double x) {
  switch (a) {
    case RefAct::None: return 1.0;
    case RefAct::ReLU: return x > 0 ? 1.0 : 0.0;
    case RefAct::Sigmoid: {
      const double s = 1.0 / (1.0 + std::exp(-x));
      return s * (1.0 - s);
    }
    case RefAct::Swish: {
      const double s = 1.0 / (1.0 + std::exp(-x));
      return s + x * s * (1.0 - s);
    }
    case RefAct::Mish: {
      // d/dx [x tanh(sp(x))] = tanh(sp) + x (1 - tanh^2(sp)) sp'(x), sp' = sigmoid
      const double softplus = x > 30 ? x : std::log1p(std::exp(x));
      const double t = std::tanh(softplus);
      return t + x * (1.0 - t * t) / (1.0 + std::exp(-x));
    }
  }
  return 0.0;
}

inline std::vector<double> activation_forward(RefAct a, const std::vector<double>& x) {
  std::vector<double> y(x.size());
  for (size_t i = 0; i < x.size(); ++i) y[i] = act_forward(a, x[i]);
  return y;
}

inline std::vector<double> activation_backward(RefAct a, const std::vector<double>& x,
                                               const std::vector<double>& dy) {
  std::vector<double> dx(x.size());
  for (size_t i = 0; i < x.size(); ++i) dx[i] = dy[i] * act_derivative(a, x[i]);
  return dx;
}

}  // namespace skinnet::ref
