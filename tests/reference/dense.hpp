#pragma once
// float64 reference fully connected layer: y[r][j] = sum_i x[r][i] W[i][j] + b[j].
#include <cstdint>
#include <vector>

namespace skinnet::ref {

inline std::vector<double> dense_forward(const std::vector<double>& x, int64_t rows, int64_t in, int64_t out,
                                         const std::vector<double>& w, const std::vector<double>& b) {
  std::vector<double> y(rows * out, 0.0);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < out; ++j) {
      double acc = b.empty() ? 0.0 : b[j];
      for (int64_t i = 0; i < in; ++i) acc += x[r * in + i] * w[i * out + j];
      y[r * out + j] = acc;
    }
  return y;
}

struct DenseGrads {
  std::vector<double> dx, dw, db;
};

inline DenseGrads dense_backward(const std::vector<double>& x, int64_t rows, int64_t in, int64_t out,
                                 const std::vector<double>& w, const std::vector<double>& dy) {
  DenseGrads g;
  g.dx.assign(rows * in, 0.0);
  g.dw.assign(in * out, 0.0);
  g.db.assign(out, 0.0);
  for (int64_t r = 0; r < rows; ++r)
    for (int64_t j = 0; j < out; ++j) {
      const double d = dy[r * out + j];
      g.db[j] += d;
      for (int64_t i = 0; i < in; ++i) {
        g.dx[r * in + i] += d * w[i * out + j];
        g.dw[i * out + j] += d * x[r * in + i];
      }
    }
  return g;
}

}  // namespace skinnet::ref
