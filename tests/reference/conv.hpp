#pragma once
// float64 reference convolutions, NHWC: dense Conv2D (weights HWIO) and depthwise (weights [kh][kw][c]),
// forward and backward. Plain loops over every output element and every tap, written from the
// definitions and sharing no code with include/ (it even computes its own TF "same" padding), so a
// mistake in the backends' geometry or index arithmetic cannot hide here too.
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace skinnet::ref {

// Everything a window op needs to know, with its own padding arithmetic.
struct WindowDims {
  int64_t n = 0, h = 0, w = 0, c = 0;  // input NHWC
  int64_t kh = 1, kw = 1, sh = 1, sw = 1;
  int64_t pt = 0, pb = 0, pl = 0, pr = 0;  // padding top, bottom, left, right
  int64_t oh = 0, ow = 0, oc = 0;          // output (oc = c for depthwise and pooling)

  int64_t in_size() const { return n * h * w * c; }
  int64_t out_size() const { return n * oh * ow * oc; }
  size_t xi(int64_t b, int64_t y, int64_t x, int64_t ch) const {
    return static_cast<size_t>(((b * h + y) * w + x) * c + ch);
  }
  size_t yi(int64_t b, int64_t y, int64_t x, int64_t ch) const {
    return static_cast<size_t>(((b * oh + y) * ow + x) * oc + ch);
  }
};

// padding: "same" (TF: pads split with the extra one after), "valid", or "explicit" with pads given.
inline WindowDims window_dims(int64_t n, int64_t h, int64_t w, int64_t c, int64_t kh, int64_t kw, int64_t sh,
                              int64_t sw, const std::string& padding, int64_t oc, int64_t pt = 0,
                              int64_t pb = 0, int64_t pl = 0, int64_t pr = 0) {
  WindowDims d;
  d.n = n, d.h = h, d.w = w, d.c = c, d.kh = kh, d.kw = kw, d.sh = sh, d.sw = sw, d.oc = oc;
  if (padding == "same") {
    // TF: output = ceil(in / stride); the padding that makes the last window fit, more of it after.
    d.oh = h / sh + (h % sh != 0 ? 1 : 0);
    d.ow = w / sw + (w % sw != 0 ? 1 : 0);
    int64_t th = (d.oh - 1) * sh + kh - h, tw = (d.ow - 1) * sw + kw - w;
    if (th < 0) th = 0;
    if (tw < 0) tw = 0;
    d.pt = th / 2, d.pb = th - th / 2, d.pl = tw / 2, d.pr = tw - tw / 2;
  } else {
    if (padding == "explicit") d.pt = pt, d.pb = pb, d.pl = pl, d.pr = pr;
    else if (padding != "valid") throw std::invalid_argument("ref::window_dims: unknown padding " + padding);
    d.oh = (h + d.pt + d.pb - kh) / sh + 1;
    d.ow = (w + d.pl + d.pr - kw) / sw + 1;
  }
  return d;
}

// y[b,oy,ox,o] = bias[o] + sum_{i,j,ci} x[b, oy*sh-pt+i, ox*sw-pl+j, ci] * wt[i][j][ci][o]
inline std::vector<double> conv2d_forward(const WindowDims& d, const std::vector<double>& x,
                                          const std::vector<double>& wt, const std::vector<double>& bias) {
  std::vector<double> y(static_cast<size_t>(d.out_size()), 0.0);
  for (int64_t b = 0; b < d.n; ++b)
    for (int64_t oy = 0; oy < d.oh; ++oy)
      for (int64_t ox = 0; ox < d.ow; ++ox)
        for (int64_t o = 0; o < d.oc; ++o) {
          double acc = bias.empty() ? 0.0 : bias[static_cast<size_t>(o)];
          for (int64_t i = 0; i < d.kh; ++i)
            for (int64_t j = 0; j < d.kw; ++j) {
              const int64_t iy = oy * d.sh - d.pt + i, ix = ox * d.sw - d.pl + j;
              if (iy < 0 || iy >= d.h || ix < 0 || ix >= d.w) continue;  // zero padding
              for (int64_t ci = 0; ci < d.c; ++ci)
                acc += x[d.xi(b, iy, ix, ci)] * wt[static_cast<size_t>(((i * d.kw + j) * d.c + ci) * d.oc + o)];
            }
          y[d.yi(b, oy, ox, o)] = acc;
        }
  return y;
}

// Gradients of conv2d_forward for upstream dy: every product x*w in the forward sum sends dy*w to dx
// and dy*x to dw. dbias is left empty when there is no bias.
inline void conv2d_backward(const WindowDims& d, const std::vector<double>& x, const std::vector<double>& wt,
                            bool has_bias, const std::vector<double>& dy, std::vector<double>& dx,
                            std::vector<double>& dw, std::vector<double>& dbias) {
  dx.assign(static_cast<size_t>(d.in_size()), 0.0);
  dw.assign(wt.size(), 0.0);
  dbias.assign(has_bias ? static_cast<size_t>(d.oc) : 0, 0.0);
  for (int64_t b = 0; b < d.n; ++b)
    for (int64_t oy = 0; oy < d.oh; ++oy)
      for (int64_t ox = 0; ox < d.ow; ++ox)
        for (int64_t o = 0; o < d.oc; ++o) {
          const double g = dy[d.yi(b, oy, ox, o)];
          if (has_bias) dbias[static_cast<size_t>(o)] += g;
          for (int64_t i = 0; i < d.kh; ++i)
            for (int64_t j = 0; j < d.kw; ++j) {
              const int64_t iy = oy * d.sh - d.pt + i, ix = ox * d.sw - d.pl + j;
              if (iy < 0 || iy >= d.h || ix < 0 || ix >= d.w) continue;
              for (int64_t ci = 0; ci < d.c; ++ci) {
                const size_t wi = static_cast<size_t>(((i * d.kw + j) * d.c + ci) * d.oc + o);
                dx[d.xi(b, iy, ix, ci)] += g * wt[wi];
                dw[wi] += g * x[d.xi(b, iy, ix, ci)];
              }
            }
        }
}

// Depthwise (channel multiplier 1): y[b,oy,ox,ch] = bias[ch] + sum_{i,j} x[b, iy, ix, ch] * wt[i][j][ch]
inline std::vector<double> depthwise_forward(const WindowDims& d, const std::vector<double>& x,
                                             const std::vector<double>& wt, const std::vector<double>& bias) {
  std::vector<double> y(static_cast<size_t>(d.out_size()), 0.0);
  for (int64_t b = 0; b < d.n; ++b)
    for (int64_t oy = 0; oy < d.oh; ++oy)
      for (int64_t ox = 0; ox < d.ow; ++ox)
        for (int64_t ch = 0; ch < d.c; ++ch) {
          double acc = bias.empty() ? 0.0 : bias[static_cast<size_t>(ch)];
          for (int64_t i = 0; i < d.kh; ++i)
            for (int64_t j = 0; j < d.kw; ++j) {
              const int64_t iy = oy * d.sh - d.pt + i, ix = ox * d.sw - d.pl + j;
              if (iy < 0 || iy >= d.h || ix < 0 || ix >= d.w) continue;
              acc += x[d.xi(b, iy, ix, ch)] * wt[static_cast<size_t>((i * d.kw + j) * d.c + ch)];
            }
          y[d.yi(b, oy, ox, ch)] = acc;
        }
  return y;
}

inline void depthwise_backward(const WindowDims& d, const std::vector<double>& x, const std::vector<double>& wt,
                               bool has_bias, const std::vector<double>& dy, std::vector<double>& dx,
                               std::vector<double>& dw, std::vector<double>& dbias) {
  dx.assign(static_cast<size_t>(d.in_size()), 0.0);
  dw.assign(wt.size(), 0.0);
  dbias.assign(has_bias ? static_cast<size_t>(d.c) : 0, 0.0);
  for (int64_t b = 0; b < d.n; ++b)
    for (int64_t oy = 0; oy < d.oh; ++oy)
      for (int64_t ox = 0; ox < d.ow; ++ox)
        for (int64_t ch = 0; ch < d.c; ++ch) {
          const double g = dy[d.yi(b, oy, ox, ch)];
          if (has_bias) dbias[static_cast<size_t>(ch)] += g;
          for (int64_t i = 0; i < d.kh; ++i)
            for (int64_t j = 0; j < d.kw; ++j) {
              const int64_t iy = oy * d.sh - d.pt + i, ix = ox * d.sw - d.pl + j;
              if (iy < 0 || iy >= d.h || ix < 0 || ix >= d.w) continue;
              const size_t wi = static_cast<size_t>((i * d.kw + j) * d.c + ch);
              dx[d.xi(b, iy, ix, ch)] += g * wt[wi];
              dw[wi] += g * x[d.xi(b, iy, ix, ch)];
            }
        }
}

}  // namespace skinnet::ref
