// DepthwiseConv2D and SeparableConv2D: the float64 reference's gradients, the CPU backend against the
// reference (forward, dx, dW, dbias) over kernels 1..7, strides 1 and 2, every padding mode and
// channel counts on and off the SIMD width, and both layers.
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "reference/check.hpp"
#include "reference/conv.hpp"
#include "reference/gradcheck.hpp"
#include "skinnet/core/parallel.hpp"
#include "skinnet/cpu/depthwise.hpp"
#include "skinnet/layers/separable_conv2d.hpp"
#include "test_util.hpp"

using namespace skinnet;
using namespace skinnet::test;

namespace {

struct DwCase {
  int64_t n, h, w, c, k, stride;
  std::string pad;  // "same", "valid" or "explicit"
  int64_t pt = 0, pb = 0, pl = 0, pr = 0;
  bool bias = true;

  Padding padding() const { return padding_of(pad, pt, pb, pl, pr); }
  ref::WindowDims dims() const { return ref::window_dims(n, h, w, c, k, k, stride, stride, pad, c, pt, pb, pl, pr); }
  ConvGeometry geometry() const { return ConvGeometry::make(Shape::nhwc(n, h, w, c), k, stride, padding(), c, "test"); }
  std::string str() const {
    return "n" + std::to_string(n) + " " + std::to_string(h) + "x" + std::to_string(w) + " c" + std::to_string(c) +
           " k" + std::to_string(k) + " s" + std::to_string(stride) + " " + pad + (bias ? " bias" : "");
  }
};

void check_against_reference(const DwCase& c, uint64_t seed) {
  INFO("case: " << c.str());
  const ConvGeometry g = c.geometry();
  const ref::WindowDims d = c.dims();
  REQUIRE(g.out_h == d.oh);
  REQUIRE(g.out_w == d.ow);
  auto xs = random_floats(static_cast<size_t>(d.in_size()), seed);
  auto ws = random_floats(static_cast<size_t>(c.k * c.k * c.c), seed + 1);
  auto bs = random_floats(static_cast<size_t>(c.c), seed + 2);
  auto dys = random_floats(static_cast<size_t>(d.out_size()), seed + 3);
  auto x = Tensor<Cpu>::from_vector(g.in_shape(), xs);
  auto w = Tensor<Cpu>::from_vector(Shape{c.k, c.k, c.c}, ws);
  auto b = Tensor<Cpu>::from_vector(Shape{c.c}, bs);
  auto dy = Tensor<Cpu>::from_vector(g.out_shape(), dys);

  const std::vector<double> bias_d = c.bias ? widen(bs) : std::vector<double>{};
  auto y_ref = ref::depthwise_forward(d, widen(xs), widen(ws), bias_d);
  std::vector<double> dx_ref, dw_ref, db_ref;
  ref::depthwise_backward(d, widen(xs), widen(ws), c.bias, widen(dys), dx_ref, dw_ref, db_ref);

  const double tol = 2e-5 * std::sqrt(static_cast<double>(c.k * c.k + d.n * d.oh * d.ow));
  auto y = cpu::depthwise_conv2d_forward(x, w, c.bias ? &b : nullptr, g);
  SKN_CHECK_CLOSE(y.to_vector(), y_ref, tol, 1e-5);
  auto dx = cpu::depthwise_conv2d_backward_input(dy, w, g);
  SKN_CHECK_CLOSE(dx.to_vector(), dx_ref, tol, 1e-5);
  auto dw = Tensor<Cpu>::filled(w.shape(), 0.5f);  // backward_params ADDS into dw and dbias
  auto db = Tensor<Cpu>::filled(b.shape(), -0.25f);
  cpu::depthwise_conv2d_backward_params(x, dy, g, dw, c.bias ? &db : nullptr);
  for (auto& v : dw_ref) v += 0.5;
  SKN_CHECK_CLOSE(dw.to_vector(), dw_ref, tol, 1e-5);
  if (c.bias) {
    for (auto& v : db_ref) v += -0.25;
    SKN_CHECK_CLOSE(db.to_vector(), db_ref, tol, 1e-5);
  } else {
    CHECK(db.to_vector() == std::vector<float>(static_cast<size_t>(c.c), -0.25f));
  }
  // The fused backward computes the same floats, bit for bit, as the two separate functions.
  auto dw2 = Tensor<Cpu>::filled(w.shape(), 0.5f);
  auto db2 = Tensor<Cpu>::filled(b.shape(), -0.25f);
  auto dx2 = cpu::depthwise_conv2d_backward(x, dy, w, g, dw2, c.bias ? &db2 : nullptr);
  CHECK(dx2.to_vector() == dx.to_vector());
  CHECK(dw2.to_vector() == dw.to_vector());
  CHECK(db2.to_vector() == db.to_vector());
}

}  // namespace

TEST_CASE("reference depthwise conv: central-difference gradients for x, weight and bias") {
  const DwCase cases[] = {
      {2, 5, 4, 3, 3, 1, "same"},
      {1, 6, 7, 2, 3, 2, "same"},  // asymmetric same padding
      {1, 9, 8, 2, 5, 2, "valid"},
      {1, 6, 5, 3, 3, 1, "explicit", 2, 0, 1, 2, false},
      {1, 7, 7, 1, 7, 1, "same"},
  };
  for (const DwCase& c : cases) {
    INFO("case: " << c.str());
    const auto d = c.dims();
    auto x = ref::random_vector(static_cast<size_t>(d.in_size()), 21);
    auto w = ref::random_vector(static_cast<size_t>(c.k * c.k * c.c), 22);
    auto b = c.bias ? ref::random_vector(static_cast<size_t>(c.c), 23) : std::vector<double>{};
    auto r = ref::random_vector(static_cast<size_t>(d.out_size()), 24);
    std::vector<double> dx, dw, db;
    ref::depthwise_backward(d, x, w, c.bias, r, dx, dw, db);
    SKN_CHECK_GRAD(ref::grad_check(
        [&](const std::vector<double>& v) { return ref::dot(ref::depthwise_forward(d, v, w, b), r); }, x, dx, "dx"));
    SKN_CHECK_GRAD(ref::grad_check(
        [&](const std::vector<double>& v) { return ref::dot(ref::depthwise_forward(d, x, v, b), r); }, w, dw, "dw"));
    if (c.bias)
      SKN_CHECK_GRAD(ref::grad_check(
          [&](const std::vector<double>& v) { return ref::dot(ref::depthwise_forward(d, x, w, v), r); }, b, db, "db"));
  }
}

TEST_CASE("cpu depthwise conv matches the reference: kernels 1 to 7, strides 1 2, all paddings") {
  // Channel counts below, at, between and above the SIMD width (4, 8 or 16 lanes): the vector body
  // and the scalar tail both run.
  const DwCase cases[] = {
      {1, 1, 1, 1, 3, 1, "same"},
      {2, 7, 9, 16, 3, 1, "same"},
      {1, 9, 7, 17, 3, 2, "same"},  // odd input, stride 2
      {3, 6, 6, 35, 3, 2, "same", 0, 0, 0, 0, false},
      {1, 11, 10, 5, 5, 1, "same"},
      {2, 13, 9, 33, 5, 2, "same"},
      {1, 12, 12, 48, 7, 1, "same", 0, 0, 0, 0, false},
      {1, 15, 14, 19, 7, 2, "same"},
      {2, 9, 11, 20, 3, 1, "valid"},
      {1, 12, 9, 7, 5, 2, "valid"},
      {2, 8, 8, 24, 3, 1, "explicit", 1, 1, 1, 1},
      {1, 10, 7, 9, 3, 2, "explicit", 0, 2, 2, 0},
      {1, 5, 6, 32, 1, 2, "valid"},
      {2, 3, 4, 6, 7, 1, "same"},  // kernel larger than the image
      // Rows wide enough for the sliding paths at stride 1 (forward, and the input-gradient gather
      // right to left: blocks of 8 interior pixels, a tail of pixels and of channels), kernel widths 3,
      // 5 and 7, with same, valid and asymmetric explicit padding.
      {2, 4, 23, 37, 5, 1, "same"},
      {1, 6, 30, 16, 5, 1, "valid"},
      {1, 5, 20, 20, 5, 1, "explicit", 2, 1, 0, 2},
      {1, 4, 25, 17, 5, 1, "explicit", 0, 1, 4, 0},
      {2, 5, 21, 37, 3, 1, "same"},
      {1, 5, 19, 33, 3, 1, "explicit", 0, 2, 2, 0},
      {1, 4, 22, 18, 3, 1, "explicit", 1, 0, 0, 1},
      {1, 4, 26, 20, 7, 1, "same"},
      {1, 8, 24, 16, 7, 1, "valid"},
      // Channel counts that are whole vectors and rows of 8 + 4 + 2 sliding pixels: the block of 4
      // after the blocks of 8, with and without bias.
      {2, 5, 16, 32, 3, 1, "same"},
      {1, 4, 18, 16, 5, 1, "same"},
      {1, 6, 20, 48, 7, 1, "same", 0, 0, 0, 0, false},
  };
  uint64_t seed = 300;
  for (const DwCase& c : cases) check_against_reference(c, seed += 10);
}

TEST_CASE("cpu depthwise conv: results do not depend on the thread count") {
  DwCase c{3, 23, 21, 40, 5, 2, "same"};
  const ConvGeometry g = c.geometry();
  const auto d = c.dims();
  auto x = Tensor<Cpu>::from_vector(g.in_shape(), random_floats(static_cast<size_t>(d.in_size()), 1));
  auto w = Tensor<Cpu>::from_vector(Shape{5, 5, 40}, random_floats(1000, 2));
  auto dy = Tensor<Cpu>::from_vector(g.out_shape(), random_floats(static_cast<size_t>(d.out_size()), 3));
  auto run = [&] {
    auto y = cpu::depthwise_conv2d_forward(x, w, nullptr, g).to_vector();
    auto dx = cpu::depthwise_conv2d_backward_input(dy, w, g).to_vector();
    auto dw = Tensor<Cpu>::zeros(w.shape());
    auto db = Tensor<Cpu>::zeros(Shape{40});
    cpu::depthwise_conv2d_backward_params(x, dy, g, dw, &db);
    auto dx_fused = cpu::depthwise_conv2d_backward(x, dy, w, g, dw, &db).to_vector();
    y.insert(y.end(), dx.begin(), dx.end());
    y.insert(y.end(), dx_fused.begin(), dx_fused.end());
    for (float v : dw.to_vector()) y.push_back(v);
    for (float v : db.to_vector()) y.push_back(v);
    return y;
  };
  const int threads = max_threads();
  const auto many = run();
  set_num_threads(1);
  const auto one = run();
  set_num_threads(threads);
  CHECK(many == one);
  CHECK(run() == many);
}

TEST_CASE("DepthwiseConv2D layer: shapes, names, Train equals Infer, gradients accumulate") {
  DepthwiseConv2D<Cpu> dw(20, 5, 2, Padding::same(), true, 3);
  CHECK(dw.name() == "DepthwiseConv2D 20 5x5/2 same +bias");
  auto params = dw.parameters();
  REQUIRE(params.size() == 2);
  CHECK(params[0].name == "weight");
  CHECK(params[0].param->value.shape() == Shape({5, 5, 20}));
  CHECK(params[1].name == "bias");
  CHECK(params[1].param->value.shape() == Shape{20});
  const float bound = std::sqrt(6.f / 25.f);
  for (float v : dw.weight().value.to_vector()) REQUIRE(std::fabs(v) <= bound);
  dw.bias().value = Tensor<Cpu>::from_vector(Shape{20}, random_floats(20, 4));

  const Shape in = Shape::nhwc(2, 11, 10, 20);
  CHECK(dw.output_shape(in) == Shape::nhwc(2, 6, 5, 20));
  auto x = Tensor<Cpu>::from_vector(in, random_floats(static_cast<size_t>(in.numel()), 5));
  auto y_infer = dw.forward(x, Mode::Infer);
  CHECK_THROWS_AS(dw.backward(y_infer), Error);
  auto y = dw.forward(x, Mode::Train);
  CHECK(y.shape() == dw.output_shape(in));
  CHECK(y.to_vector() == y_infer.to_vector());

  DwCase c{2, 11, 10, 20, 5, 2, "same"};
  const auto d = c.dims();
  auto dys = random_floats(static_cast<size_t>(d.out_size()), 6);
  auto dy = Tensor<Cpu>::from_vector(y.shape(), dys);
  const auto wv = widen(dw.weight().value.to_vector());
  auto y_ref = ref::depthwise_forward(d, widen(x.to_vector()), wv, widen(dw.bias().value.to_vector()));
  std::vector<double> dx_ref, dw_ref, db_ref;
  ref::depthwise_backward(d, widen(x.to_vector()), wv, true, widen(dys), dx_ref, dw_ref, db_ref);
  SKN_CHECK_CLOSE(y.to_vector(), y_ref, 1e-4, 1e-5);
  auto dx = dw.backward(dy);
  SKN_CHECK_CLOSE(dx.to_vector(), dx_ref, 1e-4, 1e-5);
  SKN_CHECK_CLOSE(dw.weight().grad.to_vector(), dw_ref, 1e-4, 1e-5);
  SKN_CHECK_CLOSE(dw.bias().grad.to_vector(), db_ref, 1e-4, 1e-5);
  auto g1 = dw.weight().grad.to_vector();
  dw.backward(dy);
  auto g2 = dw.weight().grad.to_vector();
  for (size_t i = 0; i < g1.size(); ++i) CHECK(g2[i] == g1[i] + g1[i]);
  CHECK_THROWS_WITH_AS(dw.forward(Tensor<Cpu>::zeros(Shape::nhwc(1, 4, 4, 3)), Mode::Infer),
                       doctest::Contains("DepthwiseConv2D 20 5x5/2 same +bias: expected an NHWC input with 20"),
                       ShapeError);
}

TEST_CASE("SeparableConv2D layer: timm names, depthwise then pointwise, gradients match the reference") {
  SeparableConv2D<Cpu> sep(6, 10, 3, 2, Padding::same(), false, 17);
  auto params = sep.parameters();
  REQUIRE(params.size() == 2);
  CHECK(params[0].name == "conv1.weight");
  CHECK(params[0].param->value.shape() == Shape({3, 3, 6}));
  CHECK(params[1].name == "pointwise.weight");
  CHECK(params[1].param->value.shape() == Shape({1, 1, 6, 10}));
  CHECK(sep.parameter_count() == 9 * 6 + 6 * 10);
  CHECK(SeparableConv2D<Cpu>(6, 10, 3, 1, Padding::same(), true, 1).parameters().back().name == "pointwise.bias");

  const Shape in = Shape::nhwc(2, 7, 9, 6);
  CHECK(sep.output_shape(in) == Shape::nhwc(2, 4, 5, 10));
  auto x = Tensor<Cpu>::from_vector(in, random_floats(static_cast<size_t>(in.numel()), 31));
  auto y_infer = sep.forward(x, Mode::Infer);
  auto y = sep.forward(x, Mode::Train);
  CHECK(y.shape() == sep.output_shape(in));
  CHECK(y.to_vector() == y_infer.to_vector());

  // Reference: depthwise (stride 2, same) then a 1x1 conv, chained by hand; backward in reverse.
  const auto dd = ref::window_dims(2, 7, 9, 6, 3, 3, 2, 2, "same", 6);
  const auto dp = ref::window_dims(2, dd.oh, dd.ow, 6, 1, 1, 1, 1, "valid", 10);
  const auto wd = widen(params[0].param->value.to_vector());
  const auto wp = widen(params[1].param->value.to_vector());
  const auto xd = widen(x.to_vector());
  auto t = ref::depthwise_forward(dd, xd, wd, {});
  auto y_ref = ref::conv2d_forward(dp, t, wp, {});
  SKN_CHECK_CLOSE(y.to_vector(), y_ref, 1e-4, 1e-5);
  auto dys = random_floats(static_cast<size_t>(y.numel()), 32);
  std::vector<double> dt, dwp, unused, dx_ref, dwd;
  ref::conv2d_backward(dp, t, wp, false, widen(dys), dt, dwp, unused);
  ref::depthwise_backward(dd, xd, wd, false, dt, dx_ref, dwd, unused);
  auto dx = sep.backward(Tensor<Cpu>::from_vector(y.shape(), dys));
  CHECK(dx.shape() == in);
  SKN_CHECK_CLOSE(dx.to_vector(), dx_ref, 1e-4, 1e-5);
  SKN_CHECK_CLOSE(params[0].param->grad.to_vector(), dwd, 1e-4, 1e-5);
  SKN_CHECK_CLOSE(params[1].param->grad.to_vector(), dwp, 1e-4, 1e-5);
  // A second backward adds the same gradients again.
  const auto gd1 = params[0].param->grad.to_vector(), gp1 = params[1].param->grad.to_vector();
  auto dx2 = sep.backward(Tensor<Cpu>::from_vector(y.shape(), dys));
  CHECK(dx2.to_vector() == dx.to_vector());
  const auto gd2 = params[0].param->grad.to_vector(), gp2 = params[1].param->grad.to_vector();
  for (size_t i = 0; i < gd1.size(); ++i) CHECK(gd2[i] == gd1[i] + gd1[i]);
  for (size_t i = 0; i < gp1.size(); ++i) CHECK(gp2[i] == gp1[i] + gp1[i]);
  CHECK(sep.name() == "SeparableConv2D 6->10 3x3/2 same");
  CHECK_THROWS_WITH_AS(sep.forward(Tensor<Cpu>::zeros(Shape::nhwc(1, 4, 4, 3)), Mode::Train),
                       doctest::Contains("SeparableConv2D 6->10"), ShapeError);
}
