#pragma once
// float64 reference global average pooling over H and W of an NHWC map: [N][H*W][C] -> [N][C].
#include <cstdint>
#include <vector>

namespace skinnet::ref {

inline std::vector<double> global_avg_pool(const std::vector<double>& x, int64_t N, int64_t HW, int64_t C) {
  std::vector<double> y(N * C, 0.0);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t p = 0; p < HW; ++p)
      for (int64_t c = 0; c < C; ++c) y[n * C + c] += x[(n * HW + p) * C + c] / static_cast<double>(HW);
  return y;
}

inline std::vector<double> global_avg_pool_backward(const std::vector<double>& dy, int64_t N, int64_t HW,
                                                    int64_t C) {
  std::vector<double> dx(N * HW * C);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t p = 0; p < HW; ++p)
      for (int64_t c = 0; c < C; ++c) dx[(n * HW + p) * C + c] = dy[n * C + c] / static_cast<double>(HW);
  return dx;
}

}  // namespace skinnet::ref
