#pragma once
// float64 reference pooling, NHWC, using WindowDims from reference/conv.hpp (oc == c).
//   max: the largest input in the window; padded positions never take part (TF "same"). The gradient
//        goes to the FIRST maximum in (row, column) scan order.
//   avg: the mean over the window's positions inside the input (padding is not counted, as TF does).
#include <cstdint>
#include <vector>

#include "reference/conv.hpp"

namespace skinnet::ref {

namespace pool_detail {
// Calls fn(iy, ix) for every tap of output (oy, ox) that lies inside the input, in scan order.
template <class Fn>
void for_window(const WindowDims& d, int64_t oy, int64_t ox, Fn&& fn) {
  for (int64_t i = 0; i < d.kh; ++i)
    for (int64_t j = 0; j < d.kw; ++j) {
      const int64_t iy = oy * d.sh - d.pt + i, ix = ox * d.sw - d.pl + j;
      if (iy >= 0 && iy < d.h && ix >= 0 && ix < d.w) fn(iy, ix);
    }
}
}  // namespace pool_detail

inline std::vector<double> maxpool_forward(const WindowDims& d, const std::vector<double>& x) {
  std::vector<double> y(static_cast<size_t>(d.out_size()), 0.0);
  for (int64_t b = 0; b < d.n; ++b)
    for (int64_t oy = 0; oy < d.oh; ++oy)
      for (int64_t ox = 0; ox < d.ow; ++ox)
        for (int64_t ch = 0; ch < d.c; ++ch) {
          bool any = false;
          double best = 0.0;
          pool_detail::for_window(d, oy, ox, [&](int64_t iy, int64_t ix) {
            const double v = x[d.xi(b, iy, ix, ch)];
            if (!any || v > best) best = v, any = true;
          });
          y[d.yi(b, oy, ox, ch)] = best;
        }
  return y;
}

inline std::vector<double> maxpool_backward(const WindowDims& d, const std::vector<double>& x,
                                            const std::vector<double>& dy) {
  std::vector<double> dx(static_cast<size_t>(d.in_size()), 0.0);
  for (int64_t b = 0; b < d.n; ++b)
    for (int64_t oy = 0; oy < d.oh; ++oy)
      for (int64_t ox = 0; ox < d.ow; ++ox)
        for (int64_t ch = 0; ch < d.c; ++ch) {
          bool any = false;
          double best = 0.0;
          size_t arg = 0;
          pool_detail::for_window(d, oy, ox, [&](int64_t iy, int64_t ix) {
            const double v = x[d.xi(b, iy, ix, ch)];
            if (!any || v > best) best = v, any = true, arg = d.xi(b, iy, ix, ch);
          });
          if (any) dx[arg] += dy[d.yi(b, oy, ox, ch)];
        }
  return dx;
}

inline std::vector<double> avgpool_forward(const WindowDims& d, const std::vector<double>& x) {
  std::vector<double> y(static_cast<size_t>(d.out_size()), 0.0);
  for (int64_t b = 0; b < d.n; ++b)
    for (int64_t oy = 0; oy < d.oh; ++oy)
      for (int64_t ox = 0; ox < d.ow; ++ox)
        for (int64_t ch = 0; ch < d.c; ++ch) {
          double sum = 0.0;
          int64_t count = 0;
          pool_detail::for_window(d, oy, ox, [&](int64_t iy, int64_t ix) {
            sum += x[d.xi(b, iy, ix, ch)];
            ++count;
          });
          y[d.yi(b, oy, ox, ch)] = count ? sum / static_cast<double>(count) : 0.0;
        }
  return y;
}

inline std::vector<double> avgpool_backward(const WindowDims& d, const std::vector<double>& dy) {
  std::vector<double> dx(static_cast<size_t>(d.in_size()), 0.0);
  for (int64_t b = 0; b < d.n; ++b)
    for (int64_t oy = 0; oy < d.oh; ++oy)
      for (int64_t ox = 0; ox < d.ow; ++ox)
        for (int64_t ch = 0; ch < d.c; ++ch) {
          int64_t count = 0;
          pool_detail::for_window(d, oy, ox, [&](int64_t, int64_t) { ++count; });
          if (count == 0) continue;
          const double g = dy[d.yi(b, oy, ox, ch)] / static_cast<double>(count);
          pool_detail::for_window(d, oy, ox, [&](int64_t iy, int64_t ix) { dx[d.xi(b, iy, ix, ch)] += g; });
        }
  return dx;
}

}  // namespace skinnet::ref
