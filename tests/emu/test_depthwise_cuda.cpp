// The CUDA depthwise convolution (kernels/depthwise.cuh via include/skinnet/cuda/depthwise.hpp) run
// through the emulator and compared with the float64 reference (tests/reference/conv.hpp): forward,
// input gradient, weight and bias gradients, the fused backward, over kernels 1..7 (3/5/7 take the
// compile-time-unrolled kernels, the others the generic one), strides 1/2, every padding mode, odd
// sizes and channel counts around the 32-channel block width; then DepthwiseConv2D<Cuda> and
// SeparableConv2D<Cuda> against their Cpu layers.
//
// Every case runs in forward, reverse and random thread order: all three must match the reference and
// be bitwise identical (the weight-gradient kernel's lane reduction is the one place with a barrier).
// Outputs are freshly allocated, NaN-poisoned by the emulator, so an element never written fails.
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
#include "skinnet/cuda/depthwise.hpp"
#include "skinnet/layers/depthwise_conv2d.hpp"
#include "skinnet/layers/separable_conv2d.hpp"

using namespace skinnet;
using namespace skinnet::cuda_test;
namespace emu = skinnet::emu;

namespace {

struct DwCase {
  int64_t n, h, w, c, k, stride;
  std::string pad;
  int64_t pt = 0, pb = 0, pl = 0, pr = 0;
  bool bias = true;
  int64_t kw_override = 0, sw_override = 0;  // non-square kernels / strides (0: same as k / stride)

  int64_t kw() const { return kw_override ? kw_override : k; }
  int64_t sw() const { return sw_override ? sw_override : stride; }
  Padding padding() const { return padding_of(pad, pt, pb, pl, pr); }
  ref::WindowDims dims() const { return ref::window_dims(n, h, w, c, k, kw(), stride, sw(), pad, c, pt, pb, pl, pr); }
  ConvGeometry geometry() const {
    return ConvGeometry::make(Shape::nhwc(n, h, w, c), k, kw(), stride, sw(), padding(), c, "test");
  }
  std::string str() const {
    return "n" + std::to_string(n) + " " + std::to_string(h) + "x" + std::to_string(w) + " c" + std::to_string(c) +
           " k" + std::to_string(k) + "x" + std::to_string(kw()) + " s" + std::to_string(stride) + "x" +
           std::to_string(sw()) + " " + pad +
           (pad == "explicit" ? "(" + std::to_string(pt) + std::to_string(pb) + std::to_string(pl) + std::to_string(pr) + ")" : "") +
           (bias ? " bias" : "");
  }
};

constexpr float kDwStart = 0.5f, kDbStart = -0.25f;  // the backward functions add to these

struct Results {
  std::vector<float> y, dx, dw, db, fused_dx, fused_dw, fused_db;
};

void check_case(const DwCase& c, uint64_t seed) {
  INFO("case: " << c.str());
  const ConvGeometry g = c.geometry();
  const ref::WindowDims d = c.dims();
  REQUIRE(g.out_h == d.oh);
  REQUIRE(g.out_w == d.ow);
  const auto xs = random_floats(static_cast<size_t>(d.in_size()), seed);
  const auto ws = random_floats(static_cast<size_t>(c.k * c.kw() * c.c), seed + 1);
  const auto bs = random_floats(static_cast<size_t>(c.c), seed + 2);
  const auto dys = random_floats(static_cast<size_t>(d.out_size()), seed + 3);

  const auto y_ref = ref::depthwise_forward(d, widen(xs), widen(ws), c.bias ? widen(bs) : std::vector<double>{});
  std::vector<double> dx_ref, dw_ref, db_ref;
  ref::depthwise_backward(d, widen(xs), widen(ws), c.bias, widen(dys), dx_ref, dw_ref, db_ref);
  for (auto& v : dw_ref) v += kDwStart;
  for (auto& v : db_ref) v += kDbStart;
  const double tol = 2e-5 * std::sqrt(static_cast<double>(c.k * c.kw() + d.n * d.oh * d.ow));

  const auto x = Tensor<Cuda>::from_vector(g.in_shape(), xs);
  const auto w = Tensor<Cuda>::from_vector(Shape{c.k, c.kw(), c.c}, ws);
  const auto b = Tensor<Cuda>::from_vector(Shape{c.c}, bs);
  const auto dy = Tensor<Cuda>::from_vector(g.out_shape(), dys);

  Results first;
  for (const auto& entry : kThreadOrders) {
    INFO("thread order: " << entry.second);
    Results r;
    {
      emu::ScopedThreadOrder guard(entry.first, static_cast<uint32_t>(seed));
      r.y = cuda::depthwise_conv2d_forward(x, w, c.bias ? &b : nullptr, g).to_vector();
      r.dx = cuda::depthwise_conv2d_backward_input(dy, w, g).to_vector();
      auto dw = Tensor<Cuda>::filled(w.shape(), kDwStart);
      auto db = Tensor<Cuda>::filled(b.shape(), kDbStart);
      cuda::depthwise_conv2d_backward_params(x, dy, g, dw, c.bias ? &db : nullptr);
      r.dw = dw.to_vector();
      r.db = db.to_vector();
      auto fdw = Tensor<Cuda>::filled(w.shape(), kDwStart);
      auto fdb = Tensor<Cuda>::filled(b.shape(), kDbStart);
      r.fused_dx = cuda::depthwise_conv2d_backward(x, dy, w, g, fdw, c.bias ? &fdb : nullptr).to_vector();
      r.fused_dw = fdw.to_vector();
      r.fused_db = fdb.to_vector();
    }
    SKN_CHECK_CLOSE(r.y, y_ref, tol, 1e-5);
    SKN_CHECK_CLOSE(r.dx, dx_ref, tol, 1e-5);
    SKN_CHECK_CLOSE(r.dw, dw_ref, tol, 1e-5);
    if (c.bias) SKN_CHECK_CLOSE(r.db, db_ref, tol, 1e-5);
    else CHECK(r.db == std::vector<float>(static_cast<size_t>(c.c), kDbStart));  // untouched
    // The fused backward gives the same bits as the two separate ops.
    CHECK(same_bits(r.fused_dx, r.dx));
    CHECK(same_bits(r.fused_dw, r.dw));
    CHECK(same_bits(r.fused_db, r.db));
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

TEST_CASE("cuda depthwise conv matches the reference: kernels 1 to 7, strides 1 2, all paddings") {
  const DwCase cases[] = {
      {1, 1, 1, 1, 3, 1, "same"},                        // smallest
      {2, 7, 9, 16, 3, 1, "same"},
      {1, 9, 7, 17, 3, 2, "same"},                       // odd input, stride 2
      {3, 6, 6, 35, 3, 2, "same", 0, 0, 0, 0, false},    // 35 channels: two channel groups, ragged
      {1, 11, 10, 5, 5, 1, "same"},
      {2, 13, 9, 33, 5, 2, "same"},
      {1, 12, 12, 48, 7, 1, "same", 0, 0, 0, 0, false},
      {1, 15, 14, 19, 7, 2, "same"},
      {2, 9, 11, 20, 3, 1, "valid"},
      {1, 12, 9, 7, 5, 2, "valid"},
      {2, 8, 8, 24, 3, 1, "explicit", 1, 1, 1, 1},
      {1, 10, 7, 9, 3, 2, "explicit", 0, 2, 2, 0},       // lopsided explicit pads
      {1, 5, 6, 32, 1, 2, "valid"},                      // 1x1: the generic kernel
      {1, 7, 6, 10, 2, 2, "same"},                       // even kernel, generic kernel
      {1, 8, 7, 3, 4, 1, "explicit", 2, 1, 1, 2},        // even kernel, asymmetric pads
      {2, 3, 4, 6, 7, 1, "same"},                        // kernel larger than the image
      {1, 19, 17, 3, 3, 1, "same"},                      // 323 pixels: the weight gradient in 2 splits
      {1, 9, 8, 6, 2, 1, "same", 0, 0, 0, 0, true, 3, 2},          // 2x3 kernel, strides 1x2
      {2, 7, 10, 5, 3, 2, "explicit", 1, 0, 2, 2, false, 5, 1},    // 3x5 kernel, strides 2x1
  };
  uint64_t seed = 300;
  for (const DwCase& c : cases) check_case(c, seed += 10);
}

TEST_CASE("cuda depthwise backward_params adds: twice from zero is exactly double") {
  const DwCase c{1, 21, 19, 5, 3, 1, "same"};  // 399 pixels: two splits
  const ConvGeometry g = c.geometry();
  REQUIRE(cuda::conv_detail::plan_splits(g.out_pixels(), 10, 1).splits > 1);
  const auto x = Tensor<Cuda>::from_vector(g.in_shape(), random_floats(static_cast<size_t>(g.in_shape().numel()), 1));
  const auto dy = Tensor<Cuda>::from_vector(g.out_shape(), random_floats(static_cast<size_t>(g.out_shape().numel()), 2));
  auto dw1 = Tensor<Cuda>::zeros(Shape{3, 3, 5});
  auto db1 = Tensor<Cuda>::zeros(Shape{5});
  cuda::depthwise_conv2d_backward_params(x, dy, g, dw1, &db1);
  auto dw2 = dw1.clone();
  auto db2 = db1.clone();
  cuda::depthwise_conv2d_backward_params(x, dy, g, dw2, &db2);
  const auto w1 = dw1.to_vector(), w2 = dw2.to_vector(), b1 = db1.to_vector(), b2 = db2.to_vector();
  for (size_t i = 0; i < w1.size(); ++i) CHECK(w2[i] == w1[i] + w1[i]);
  for (size_t i = 0; i < b1.size(); ++i) CHECK(b2[i] == b1[i] + b1[i]);
}

TEST_CASE("cuda depthwise conv: shape errors name the op and the tensor") {
  const DwCase c{1, 5, 5, 4, 3, 1, "same"};
  const ConvGeometry g = c.geometry();
  const auto x = Tensor<Cuda>::zeros(g.in_shape());
  const auto w_bad = Tensor<Cuda>::zeros(Shape{3, 3, 5});
  CHECK_THROWS_WITH_AS(cuda::depthwise_conv2d_forward(x, w_bad, nullptr, g),
                       doctest::Contains("cuda::depthwise_conv2d_forward: weight"), ShapeError);
  const auto w = Tensor<Cuda>::zeros(Shape{3, 3, 4});
  const auto x_bad = Tensor<Cuda>::zeros(Shape::nhwc(1, 5, 4, 4));
  CHECK_THROWS_WITH_AS(cuda::depthwise_conv2d_forward(x_bad, w, nullptr, g), doctest::Contains("x has shape"),
                       ShapeError);
  auto dw = Tensor<Cuda>::zeros(w.shape());
  auto db_bad = Tensor<Cuda>::zeros(Shape{3});
  const auto dy = Tensor<Cuda>::zeros(g.out_shape());
  CHECK_THROWS_WITH_AS(cuda::depthwise_conv2d_backward(x, dy, w, g, dw, &db_bad),
                       doctest::Contains("cuda::depthwise_conv2d_backward: dbias"), ShapeError);
  const ConvGeometry g2 = ConvGeometry::make(g.in_shape(), 3, 1, Padding::same(), 8, "test");  // out_c != in_c
  CHECK_THROWS_WITH_AS(cuda::depthwise_conv2d_backward_input(dy, w, g2), doctest::Contains("multiplier 1"), ShapeError);
}

TEST_CASE("DepthwiseConv2D<Cuda> and SeparableConv2D<Cuda> equal their Cpu layers from the same seed") {
  struct L {
    int64_t c, k, stride;
    Padding pad;
    bool bias;
    Shape in;
  };
  const L layers[] = {{20, 5, 2, Padding::same(), true, Shape::nhwc(2, 11, 10, 20)},
                      {7, 3, 1, Padding::symmetric(1), false, Shape::nhwc(1, 6, 9, 7)}};
  for (const L& l : layers) {
    DepthwiseConv2D<Cpu> host(l.c, l.k, l.stride, l.pad, l.bias, 5);
    DepthwiseConv2D<Cuda> dev(l.c, l.k, l.stride, l.pad, l.bias, 5);
    INFO("layer: " << dev.name());
    REQUIRE(dev.weight().value.to_vector() == host.weight().value.to_vector());
    const auto xs = random_floats(static_cast<size_t>(l.in.numel()), 6);
    auto y_cpu = host.forward(Tensor<Cpu>::from_vector(l.in, xs), Mode::Train);
    auto y_gpu = dev.forward(Tensor<Cuda>::from_vector(l.in, xs), Mode::Train);
    REQUIRE(y_gpu.shape() == y_cpu.shape());
    SKN_CHECK_CLOSE(y_gpu.to_vector(), y_cpu.to_vector(), 1e-5, 1e-5);
    const auto dys = random_floats(static_cast<size_t>(y_cpu.numel()), 7);
    auto dx_cpu = host.backward(Tensor<Cpu>::from_vector(y_cpu.shape(), dys));
    auto dx_gpu = dev.backward(Tensor<Cuda>::from_vector(y_cpu.shape(), dys));
    SKN_CHECK_CLOSE(dx_gpu.to_vector(), dx_cpu.to_vector(), 1e-5, 1e-5);
    SKN_CHECK_CLOSE(dev.weight().grad.to_vector(), host.weight().grad.to_vector(), 1e-5, 1e-5);
    if (l.bias) SKN_CHECK_CLOSE(dev.bias().grad.to_vector(), host.bias().grad.to_vector(), 1e-5, 1e-5);
  }

  // Xception's separable conv: depthwise 3x3 then pointwise 1x1 (the Conv2D kernels).
  SeparableConv2D<Cpu> host(6, 10, 3, 1, Padding::same(), true, 11);
  SeparableConv2D<Cuda> dev(6, 10, 3, 1, Padding::same(), true, 11);
  const Shape in = Shape::nhwc(2, 7, 5, 6);
  const auto xs = random_floats(static_cast<size_t>(in.numel()), 12);
  auto y_cpu = host.forward(Tensor<Cpu>::from_vector(in, xs), Mode::Train);
  auto y_gpu = dev.forward(Tensor<Cuda>::from_vector(in, xs), Mode::Train);
  SKN_CHECK_CLOSE(y_gpu.to_vector(), y_cpu.to_vector(), 1e-5, 1e-5);
  const auto dys = random_floats(static_cast<size_t>(y_cpu.numel()), 13);
  auto dx_cpu = host.backward(Tensor<Cpu>::from_vector(y_cpu.shape(), dys));
  auto dx_gpu = dev.backward(Tensor<Cuda>::from_vector(y_cpu.shape(), dys));
  SKN_CHECK_CLOSE(dx_gpu.to_vector(), dx_cpu.to_vector(), 1e-5, 1e-5);
  auto p_cpu = host.parameters();
  auto p_gpu = dev.parameters();
  REQUIRE(p_cpu.size() == p_gpu.size());
  for (size_t i = 0; i < p_cpu.size(); ++i) {
    INFO("parameter " << p_cpu[i].name);
    SKN_CHECK_CLOSE(p_gpu[i].param->grad.to_vector(), p_cpu[i].param->grad.to_vector(), 1e-5, 1e-5);
  }
}
