// The CUDA Conv2D (kernels/conv.cuh via include/skinnet/cuda/conv2d.hpp) run through the emulator and
// compared with the float64 reference (tests/reference/conv.hpp): forward, input gradient, weight and
// bias gradients, over kernels 1/3/5/7, strides 1/2, every padding mode, batch 1, odd sizes and
// channel counts that are not multiples of 8 or 16; then the Conv2D<Cuda> layer against Conv2D<Cpu>.
//
// What the tests are built to catch:
//   * a missing or misplaced __syncthreads: every case runs in forward, reverse and random thread
//     order; all three must match the reference AND be bitwise identical;
//   * an output element never written: outputs are freshly allocated, and emulated device memory
//     starts as NaN, so a skipped store fails the comparison;
//   * a wrong tap / padding / stride mapping in one of the three gathers: the reference shares no
//     index arithmetic with the kernels (it even computes its own TF "same" padding);
//   * the weight-gradient split reduction: cases with many pixels use several splits (checked), and
//     backward_params must ADD (the gradients start non-zero) and add exactly double when run twice.
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "cuda_ops_util.hpp"
#include "reference/check.hpp"
#include "reference/conv.hpp"
#include "reference/gradcheck.hpp"
#include "skinnet/cuda.hpp"
#include "skinnet/cuda/conv2d.hpp"
#include "skinnet/cpu/conv2d.hpp"
#include "skinnet/layers/conv2d.hpp"

using namespace skinnet;
using namespace skinnet::cuda_test;
namespace emu = skinnet::emu;

namespace {

struct ConvCase {
  int64_t n, h, w, cin, cout, k, stride;
  std::string pad;  // "same", "valid" or "explicit"
  int64_t pt = 0, pb = 0, pl = 0, pr = 0;
  bool bias = true;
  int64_t kw_override = 0, sw_override = 0;  // non-square kernels / strides (0: same as k / stride)

  int64_t kw() const { return kw_override ? kw_override : k; }
  int64_t sw() const { return sw_override ? sw_override : stride; }
  Padding padding() const { return padding_of(pad, pt, pb, pl, pr); }
  ref::WindowDims dims() const { return ref::window_dims(n, h, w, cin, k, kw(), stride, sw(), pad, cout, pt, pb, pl, pr); }
  ConvGeometry geometry() const {
    return ConvGeometry::make(Shape::nhwc(n, h, w, cin), k, kw(), stride, sw(), padding(), cout, "test");
  }
  std::string str() const {
    return "n" + std::to_string(n) + " " + std::to_string(h) + "x" + std::to_string(w) + " " + std::to_string(cin) +
           "->" + std::to_string(cout) + " k" + std::to_string(k) + "x" + std::to_string(kw()) + " s" +
           std::to_string(stride) + "x" + std::to_string(sw()) + " " + pad +
           (pad == "explicit" ? "(" + std::to_string(pt) + std::to_string(pb) + std::to_string(pl) + std::to_string(pr) + ")" : "") +
           (bias ? " bias" : "");
  }
};

constexpr float kDwStart = 0.5f, kDbStart = -0.25f;  // backward_params adds to these

struct Results {
  std::vector<float> y, dx, dw, db;
};

void check_case(const ConvCase& c, uint64_t seed) {
  INFO("case: " << c.str());
  const ConvGeometry g = c.geometry();
  const ref::WindowDims d = c.dims();
  REQUIRE(g.out_h == d.oh);
  REQUIRE(g.out_w == d.ow);
  const auto xs = random_floats(static_cast<size_t>(d.in_size()), seed);
  const auto ws = random_floats(static_cast<size_t>(c.k * c.kw() * c.cin * c.cout), seed + 1);
  const auto bs = random_floats(static_cast<size_t>(c.cout), seed + 2);
  const auto dys = random_floats(static_cast<size_t>(d.out_size()), seed + 3);

  const std::vector<double> bias_d = c.bias ? widen(bs) : std::vector<double>{};
  const auto y_ref = ref::conv2d_forward(d, widen(xs), widen(ws), bias_d);
  std::vector<double> dx_ref, dw_ref, db_ref;
  ref::conv2d_backward(d, widen(xs), widen(ws), c.bias, widen(dys), dx_ref, dw_ref, db_ref);
  for (auto& v : dw_ref) v += kDwStart;
  for (auto& v : db_ref) v += kDbStart;
  // float32 sums of up to k*k*cin (forward), k*k*cout (dx) or n*oh*ow (dW) terms of size ~1.
  const double tol =
      2e-5 * std::sqrt(static_cast<double>(c.k * c.kw() * (c.cin + c.cout) + d.n * d.oh * d.ow));

  const auto x = Tensor<Cuda>::from_vector(g.in_shape(), xs);
  const auto w = Tensor<Cuda>::from_vector(Shape{c.k, c.kw(), c.cin, c.cout}, ws);
  const auto b = Tensor<Cuda>::from_vector(Shape{c.cout}, bs);
  const auto dy = Tensor<Cuda>::from_vector(g.out_shape(), dys);

  Results first;
  for (const auto& entry : kThreadOrders) {
    INFO("thread order: " << entry.second);
    Results r;
    {
      emu::ScopedThreadOrder guard(entry.first, static_cast<uint32_t>(seed));
      r.y = cuda::conv2d_forward(x, w, c.bias ? &b : nullptr, g).to_vector();
      r.dx = cuda::conv2d_backward_input(dy, w, g).to_vector();
      auto dw = Tensor<Cuda>::filled(w.shape(), kDwStart);
      auto db = Tensor<Cuda>::filled(b.shape(), kDbStart);
      cuda::conv2d_backward_params(x, dy, g, dw, c.bias ? &db : nullptr);
      r.dw = dw.to_vector();
      r.db = db.to_vector();
    }
    SKN_CHECK_CLOSE(r.y, y_ref, tol, 1e-5);
    SKN_CHECK_CLOSE(r.dx, dx_ref, tol, 1e-5);
    SKN_CHECK_CLOSE(r.dw, dw_ref, tol, 1e-5);
    if (c.bias) SKN_CHECK_CLOSE(r.db, db_ref, tol, 1e-5);
    else CHECK(r.db == std::vector<float>(static_cast<size_t>(c.cout), kDbStart));  // untouched
    if (first.y.empty()) {
      first = r;
    } else {
      CHECK_MESSAGE(same_bits(r.y, first.y), "forward differs from the forward-order run");
      CHECK_MESSAGE(same_bits(r.dx, first.dx), "dx differs from the forward-order run");
      CHECK_MESSAGE(same_bits(r.dw, first.dw), "dw differs from the forward-order run");
      CHECK_MESSAGE(same_bits(r.db, first.db), "dbias differs from the forward-order run");
    }
  }
}

}  // namespace

TEST_CASE("cuda conv2d matches the reference: kernels 1 3 5 7, strides 1 2, every padding mode") {
  const ConvCase cases[] = {
      {1, 1, 1, 1, 1, 1, 1, "valid"},                    // smallest possible: one thread does anything
      {3, 5, 7, 8, 16, 1, 1, "valid"},                   // pointwise
      {2, 7, 5, 5, 3, 1, 1, "same", 0, 0, 0, 0, false},  // 1x1 "same", no bias
      {2, 9, 7, 6, 5, 1, 2, "valid"},                    // strided 1x1 (ResNet downsample)
      {1, 9, 9, 3, 8, 3, 2, "same"},                     // stem-like: stride 2 on odd input, asymmetric pad
      {2, 8, 6, 17, 19, 3, 1, "same"},                   // K = 153: many slices, ragged last one
      {1, 13, 11, 5, 7, 3, 2, "valid"},
      {2, 10, 9, 4, 6, 3, 1, "explicit", 1, 1, 1, 1},    // torchvision 3x3
      {1, 11, 12, 6, 5, 5, 2, "same", 0, 0, 0, 0, false},
      {3, 7, 7, 9, 4, 5, 1, "explicit", 2, 0, 1, 3},     // lopsided explicit pads
      {1, 15, 13, 3, 10, 7, 2, "explicit", 3, 3, 3, 3},  // ResNet stem geometry, small
      {2, 6, 5, 2, 3, 7, 1, "same"},                     // kernel larger than the image
      {1, 4, 4, 33, 2, 2, 2, "valid"},                   // even kernel
      {1, 9, 8, 4, 5, 2, 1, "same", 0, 0, 0, 0, true, 3, 2},        // 2x3 kernel, strides 1x2
      {2, 7, 10, 3, 2, 3, 2, "explicit", 1, 0, 2, 2, false, 5, 1},  // 3x5 kernel, strides 2x1
  };
  uint64_t seed = 100;
  for (const ConvCase& c : cases) check_case(c, seed += 10);
}

TEST_CASE("cuda conv2d: several output tiles in both directions and a split weight gradient") {
  // Outputs with <= 32 columns take the 128 x 32 tile, wider ones the 64 x 64 tile (see conv2d.hpp).
  REQUIRE(cuda::conv_detail::use_narrow_tile(32));
  REQUIRE_FALSE(cuda::conv_detail::use_narrow_tile(33));
  // Exactly 32 output channels (narrow tile, full width) over 143 pixels: two 128-row tiles.
  check_case({1, 13, 11, 4, 32, 3, 1, "same"}, 490);
  // 33 in and out channels: the square tile with a one-column second tile, for y, dx and dW.
  check_case({1, 9, 9, 33, 33, 3, 2, "same"}, 495);
  // 70 output channels: two 64-wide column tiles; 1 x 11 x 13 = 143 pixels: three row tiles.
  check_case({1, 11, 13, 5, 70, 3, 1, "same"}, 500);
  // 70 input channels: two column tiles of dx, and a 3*3*70 = 630-long patch (ten weight-grad row tiles).
  check_case({1, 6, 5, 70, 3, 3, 2, "same"}, 510);
  // 1 x 35 x 33 = 1155 pixels: the weight gradient's sum runs in 5 splits, the bias sum in 2.
  const ConvCase many{1, 35, 33, 2, 3, 1, 1, "valid"};
  const auto plan = cuda::conv_detail::plan_splits(many.geometry().out_pixels(), 1, cuda::kernels::ConvTile::BK);
  CHECK(plan.splits > 1);
  check_case(many, 520);
}

TEST_CASE("cuda conv2d_backward_params adds: twice from zero is exactly double") {
  const ConvCase c{1, 35, 33, 3, 5, 3, 2, "same"};  // 18 x 17 = 306 pixels: two splits
  const ConvGeometry g = c.geometry();
  const auto x = Tensor<Cuda>::from_vector(g.in_shape(), random_floats(static_cast<size_t>(g.in_shape().numel()), 1));
  const auto dy = Tensor<Cuda>::from_vector(g.out_shape(), random_floats(static_cast<size_t>(g.out_shape().numel()), 2));
  auto dw1 = Tensor<Cuda>::zeros(Shape{3, 3, 3, 5});
  auto db1 = Tensor<Cuda>::zeros(Shape{5});
  cuda::conv2d_backward_params(x, dy, g, dw1, &db1);
  auto dw2 = dw1.clone();
  auto db2 = db1.clone();
  cuda::conv2d_backward_params(x, dy, g, dw2, &db2);
  const auto w1 = dw1.to_vector(), w2 = dw2.to_vector(), b1 = db1.to_vector(), b2 = db2.to_vector();
  for (size_t i = 0; i < w1.size(); ++i) CHECK(w2[i] == w1[i] + w1[i]);
  for (size_t i = 0; i < b1.size(); ++i) CHECK(b2[i] == b1[i] + b1[i]);
}

TEST_CASE("cuda conv2d: shape errors name the op and the tensor") {
  const ConvCase c{1, 5, 5, 3, 4, 3, 1, "same"};
  const ConvGeometry g = c.geometry();
  const auto x_bad = Tensor<Cuda>::zeros(Shape::nhwc(1, 5, 5, 2));
  const auto w = Tensor<Cuda>::zeros(Shape{3, 3, 3, 4});
  CHECK_THROWS_WITH_AS(cuda::conv2d_forward(x_bad, w, nullptr, g), doctest::Contains("cuda::conv2d_forward: x"),
                       ShapeError);
  const auto x = Tensor<Cuda>::zeros(g.in_shape());
  const auto w_bad = Tensor<Cuda>::zeros(Shape{3, 3, 4, 3});
  CHECK_THROWS_WITH_AS(cuda::conv2d_forward(x, w_bad, nullptr, g), doctest::Contains("weight"), ShapeError);
  const auto b_bad = Tensor<Cuda>::zeros(Shape{3});
  CHECK_THROWS_WITH_AS(cuda::conv2d_forward(x, w, &b_bad, g), doctest::Contains("bias"), ShapeError);
  const auto dy_bad = Tensor<Cuda>::zeros(Shape::nhwc(1, 4, 5, 4));
  CHECK_THROWS_WITH_AS(cuda::conv2d_backward_input(dy_bad, w, g), doctest::Contains("cuda::conv2d_backward_input: dy"),
                       ShapeError);
  auto dw = Tensor<Cuda>::zeros(w.shape());
  auto db_bad = Tensor<Cuda>::zeros(Shape{5});
  const auto dy = Tensor<Cuda>::zeros(g.out_shape());
  CHECK_THROWS_WITH_AS(cuda::conv2d_backward_params(x, dy, g, dw, &db_bad), doctest::Contains("dbias"), ShapeError);
}

// The layer template with D = Cuda finds the cuda:: ops by argument-dependent lookup; from the same
// seed it holds the same weights as the Cpu layer and must compute the same outputs and gradients.
TEST_CASE("Conv2D<Cuda> forward and backward equal Conv2D<Cpu> from the same seed") {
  struct L {
    int64_t cin, cout, k, stride;
    Padding pad;
    bool bias;
    Shape in;
  };
  const L layers[] = {{5, 7, 3, 2, Padding::same(), true, Shape::nhwc(2, 9, 8, 5)},
                      {4, 6, 1, 1, Padding::valid(), false, Shape::nhwc(1, 5, 7, 4)},
                      {3, 9, 7, 2, Padding::symmetric(3), false, Shape::nhwc(1, 11, 10, 3)}};
  for (const L& l : layers) {
    Conv2D<Cpu> host(l.cin, l.cout, l.k, l.stride, l.pad, l.bias, 42);
    Conv2D<Cuda> dev(l.cin, l.cout, l.k, l.stride, l.pad, l.bias, 42);
    INFO("layer: " << dev.name());
    REQUIRE(dev.weight().value.to_vector() == host.weight().value.to_vector());
    const auto xs = random_floats(static_cast<size_t>(l.in.numel()), 3);
    auto y_cpu = host.forward(Tensor<Cpu>::from_vector(l.in, xs), Mode::Train);
    auto y_gpu = dev.forward(Tensor<Cuda>::from_vector(l.in, xs), Mode::Train);
    REQUIRE(y_gpu.shape() == y_cpu.shape());
    SKN_CHECK_CLOSE(y_gpu.to_vector(), y_cpu.to_vector(), 1e-5, 1e-5);
    const auto dys = random_floats(static_cast<size_t>(y_cpu.numel()), 4);
    auto dx_cpu = host.backward(Tensor<Cpu>::from_vector(y_cpu.shape(), dys));
    auto dx_gpu = dev.backward(Tensor<Cuda>::from_vector(y_cpu.shape(), dys));
    SKN_CHECK_CLOSE(dx_gpu.to_vector(), dx_cpu.to_vector(), 1e-5, 1e-5);
    SKN_CHECK_CLOSE(dev.weight().grad.to_vector(), host.weight().grad.to_vector(), 1e-5, 1e-5);
    if (l.bias) SKN_CHECK_CLOSE(dev.bias().grad.to_vector(), host.bias().grad.to_vector(), 1e-5, 1e-5);
  }
}

TEST_CASE("cuda conv launchers refuse geometries beyond the kernels' 32-bit indices") {
  // 1 x 50000 x 50000 x 1: 2.5e9 input pixels. Only the geometry is built; nothing is allocated.
  const ConvGeometry g = ConvGeometry::make(Shape::nhwc(1, 50000, 50000, 1), 3, 1, Padding::same(), 4, "big");
  CHECK_THROWS_WITH_AS(cuda::conv_detail::to_dims(g, "cuda::conv2d_forward"),
                       doctest::Contains("cuda::conv2d_forward: the geometry"), ValueError);
  const ConvGeometry ok = ConvGeometry::make(Shape::nhwc(1, 40000, 50000, 1), 3, 2, Padding::same(), 1, "ok");
  CHECK_NOTHROW(cuda::conv_detail::to_dims(ok, "cuda::conv2d_forward"));  // 2e9 elements still fit
}
