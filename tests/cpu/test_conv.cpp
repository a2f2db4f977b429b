// Conv2D: the geometry (TF "same", valid, explicit), the float64 reference's gradients, the CPU
// backend against the reference (forward, dx, dW, dbias) over many shapes, and the Conv2D layer.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "reference/check.hpp"
#include "reference/conv.hpp"
#include "reference/gradcheck.hpp"
#include "skinnet/cpu/conv2d.hpp"
#include "skinnet/layers/conv2d.hpp"
#include "test_util.hpp"

using namespace skinnet;
using namespace skinnet::test;

namespace {

// One convolution configuration, described once and handed to both the backend and the reference.
struct ConvCase {
  int64_t n, h, w, cin, cout, k, stride;
  std::string pad;  // "same", "valid" or "explicit"
  int64_t pt = 0, pb = 0, pl = 0, pr = 0;
  bool bias = true;

  Padding padding() const { return padding_of(pad, pt, pb, pl, pr); }
  ref::WindowDims dims() const { return ref::window_dims(n, h, w, cin, k, k, stride, stride, pad, cout, pt, pb, pl, pr); }
  ConvGeometry geometry() const { return ConvGeometry::make(Shape::nhwc(n, h, w, cin), k, stride, padding(), cout, "test"); }
  std::string str() const {
    return "n" + std::to_string(n) + " " + std::to_string(h) + "x" + std::to_string(w) + " " + std::to_string(cin) +
           "->" + std::to_string(cout) + " k" + std::to_string(k) + " s" + std::to_string(stride) + " " + pad +
           (pad == "explicit" ? "(" + std::to_string(pt) + std::to_string(pb) + std::to_string(pl) + std::to_string(pr) + ")" : "") +
           (bias ? " bias" : "");
  }
};

// Runs the CPU backend and the reference on the same random data and compares forward and all gradients.
void check_against_reference(const ConvCase& c, uint64_t seed) {
  INFO("case: " << c.str());
  const ConvGeometry g = c.geometry();
  const ref::WindowDims d = c.dims();
  REQUIRE(g.out_h == d.oh);
  REQUIRE(g.out_w == d.ow);
  auto xs = random_floats(static_cast<size_t>(d.in_size()), seed);
  auto ws = random_floats(static_cast<size_t>(c.k * c.k * c.cin * c.cout), seed + 1);
  auto bs = random_floats(static_cast<size_t>(c.cout), seed + 2);
  auto dys = random_floats(static_cast<size_t>(d.out_size()), seed + 3);
  auto x = Tensor<Cpu>::from_vector(g.in_shape(), xs);
  auto w = Tensor<Cpu>::from_vector(Shape{c.k, c.k, c.cin, c.cout}, ws);
  auto b = Tensor<Cpu>::from_vector(Shape{c.cout}, bs);
  auto dy = Tensor<Cpu>::from_vector(g.out_shape(), dys);

  const std::vector<double> bias_d = c.bias ? widen(bs) : std::vector<double>{};
  auto y_ref = ref::conv2d_forward(d, widen(xs), widen(ws), bias_d);
  std::vector<double> dx_ref, dw_ref, db_ref;
  ref::conv2d_backward(d, widen(xs), widen(ws), c.bias, widen(dys), dx_ref, dw_ref, db_ref);

  // float32 sums of up to k*k*cin (forward, dW: n*oh*ow) terms of size ~1.
  const double tol = 2e-5 * std::sqrt(static_cast<double>(c.k * c.k * c.cin + c.cout + d.n * d.oh * d.ow));
  auto y = cpu::conv2d_forward(x, w, c.bias ? &b : nullptr, g);
  SKN_CHECK_CLOSE(y.to_vector(), y_ref, tol, 1e-5);
  auto dx = cpu::conv2d_backward_input(dy, w, g);
  SKN_CHECK_CLOSE(dx.to_vector(), dx_ref, tol, 1e-5);

  // backward_params ADDS: start from a known non-zero gradient and expect start + reference.
  auto dw = Tensor<Cpu>::filled(w.shape(), 0.5f);
  auto db = Tensor<Cpu>::filled(b.shape(), -0.25f);
  cpu::conv2d_backward_params(x, dy, g, dw, c.bias ? &db : nullptr);
  for (auto& v : dw_ref) v += 0.5;
  SKN_CHECK_CLOSE(dw.to_vector(), dw_ref, tol, 1e-5);
  if (c.bias) {
    for (auto& v : db_ref) v += -0.25;
    SKN_CHECK_CLOSE(db.to_vector(), db_ref, tol, 1e-5);
  } else {
    CHECK(db.to_vector() == std::vector<float>(static_cast<size_t>(c.cout), -0.25f));  // untouched
  }
}

}  // namespace

TEST_CASE("ConvGeometry: TF same padding is ceil(in/stride) with the odd pad after") {
  struct G {
    int64_t in, k, s, out, before, after;
  };
  // Hand-worked: 224/2 with k3 needs (111*2 + 3 - 224) = 1 row of padding, all of it after.
  const G cases[] = {{224, 3, 2, 112, 0, 1}, {7, 3, 2, 4, 1, 1}, {5, 1, 2, 3, 0, 0}, {8, 7, 1, 8, 3, 3},
                     {6, 4, 1, 6, 1, 2},     {9, 5, 2, 5, 2, 2}, {10, 5, 2, 5, 1, 2}, {1, 7, 2, 1, 3, 3},
                     {2, 3, 2, 1, 0, 1}};
  for (const G& c : cases) {
    INFO("in " << c.in << " k " << c.k << " s " << c.s);
    auto g = ConvGeometry::make(Shape::nhwc(1, c.in, c.in, 1), c.k, c.s, Padding::same(), 1, "test");
    CHECK(g.out_h == c.out);
    CHECK(g.pad_top == c.before);
    CHECK(g.pad_bottom == c.after);
    CHECK(g.pad_left == c.before);
    CHECK(g.pad_right == c.after);
  }
  // Rectangular input, different strides per axis.
  auto g = ConvGeometry::make(Shape::nhwc(2, 7, 10, 3), 3, 3, 2, 1, Padding::same(), 5, "test");
  CHECK(g.out_shape() == Shape::nhwc(2, 4, 10, 5));
  CHECK(g.pad_top == 1);
  CHECK(g.pad_bottom == 1);
  CHECK(g.pad_left == 1);
  CHECK(g.pad_right == 1);
}

TEST_CASE("ConvGeometry: valid and explicit padding, and errors") {
  auto v = ConvGeometry::make(Shape::nhwc(1, 7, 8, 2), 3, 2, Padding::valid(), 4, "test");
  CHECK(v.out_h == 3);
  CHECK(v.out_w == 3);
  CHECK(v.pad_top + v.pad_bottom + v.pad_left + v.pad_right == 0);
  // torchvision's ResNet stem: 7x7/2, pad 3, 224 -> 112.
  auto e = ConvGeometry::make(Shape::nhwc(1, 224, 224, 3), 7, 2, Padding::symmetric(3), 64, "test");
  CHECK(e.out_h == 112);
  CHECK(e.out_w == 112);
  CHECK(e.patch() == 7 * 7 * 3);
  auto a = ConvGeometry::make(Shape::nhwc(1, 5, 5, 1), 3, 1, Padding::explicit_pads(0, 2, 1, 0), 1, "test");
  CHECK(a.out_h == 5);
  CHECK(a.out_w == 4);
  CHECK(ConvGeometry::make(Shape::nhwc(3, 5, 5, 8), 1, 1, Padding::valid(), 4, "t").is_pointwise());
  CHECK_FALSE(ConvGeometry::make(Shape::nhwc(3, 5, 5, 8), 1, 2, Padding::valid(), 4, "t").is_pointwise());
  CHECK_THROWS_WITH_AS(ConvGeometry::make(Shape::nhwc(1, 2, 2, 1), 3, 1, Padding::valid(), 1, "myconv"),
                       doctest::Contains("myconv"), ShapeError);
  CHECK_THROWS_AS(ConvGeometry::make(Shape{4, 4}, 3, 1, Padding::same(), 1, "t"), ShapeError);
  CHECK_THROWS_WITH_AS(ConvGeometry::make(Shape::nhwc(0, 4, 4, 1), 3, 1, Padding::same(), 1, "t"),
                       doctest::Contains("empty input"), ShapeError);
  CHECK_THROWS_AS(ConvGeometry::make(Shape::nhwc(1, 4, 4, 1), 3, 0, Padding::same(), 1, "t"), ValueError);
  CHECK_THROWS_AS(Padding::explicit_pads(-1, 0, 0, 0), ValueError);
}

TEST_CASE("ConvGeometry agrees with the reference's own padding arithmetic") {
  for (int64_t in = 1; in <= 12; ++in)
    for (int64_t k = 1; k <= 7; ++k)
      for (int64_t s = 1; s <= 3; ++s) {
        auto g = ConvGeometry::make(Shape::nhwc(1, in, in + 1, 1), k, s, Padding::same(), 1, "t");
        auto d = ref::window_dims(1, in, in + 1, 1, k, k, s, s, "same", 1);
        INFO("in " << in << " k " << k << " s " << s);
        CHECK(g.out_h == d.oh);
        CHECK(g.out_w == d.ow);
        CHECK(g.pad_top == d.pt);
        CHECK(g.pad_bottom == d.pb);
        CHECK(g.pad_left == d.pl);
        CHECK(g.pad_right == d.pr);
        if (in >= k) {
          auto gv = ConvGeometry::make(Shape::nhwc(1, in, in, 1), k, s, Padding::valid(), 1, "t");
          CHECK(gv.out_h == ref::window_dims(1, in, in, 1, k, k, s, s, "valid", 1).oh);
        }
      }
}

TEST_CASE("reference conv2d: central-difference gradients for x, weight and bias") {
  const ConvCase cases[] = {
      {2, 5, 4, 3, 2, 3, 1, "same"},
      {1, 6, 7, 2, 3, 3, 2, "same"},        // odd total padding: asymmetric
      {1, 7, 5, 2, 2, 5, 2, "valid"},
      {2, 4, 5, 3, 2, 2, 1, "explicit", 1, 0, 2, 1},
      {1, 5, 5, 4, 3, 1, 2, "same", 0, 0, 0, 0, false},
  };
  for (const ConvCase& c : cases) {
    INFO("case: " << c.str());
    const auto d = c.dims();
    auto x = ref::random_vector(static_cast<size_t>(d.in_size()), 11);
    auto w = ref::random_vector(static_cast<size_t>(c.k * c.k * c.cin * c.cout), 12);
    auto b = c.bias ? ref::random_vector(static_cast<size_t>(c.cout), 13) : std::vector<double>{};
    auto r = ref::random_vector(static_cast<size_t>(d.out_size()), 14);
    std::vector<double> dx, dw, db;
    ref::conv2d_backward(d, x, w, c.bias, r, dx, dw, db);
    SKN_CHECK_GRAD(ref::grad_check([&](const std::vector<double>& v) { return ref::dot(ref::conv2d_forward(d, v, w, b), r); },
                                   x, dx, "dx"));
    SKN_CHECK_GRAD(ref::grad_check([&](const std::vector<double>& v) { return ref::dot(ref::conv2d_forward(d, x, v, b), r); },
                                   w, dw, "dw"));
    if (c.bias)
      SKN_CHECK_GRAD(ref::grad_check(
          [&](const std::vector<double>& v) { return ref::dot(ref::conv2d_forward(d, x, w, v), r); }, b, db, "dbias"));
  }
}

TEST_CASE("cpu conv2d matches the reference: kernels 1 3 5 7, strides 1 2, every padding mode") {
  std::vector<ConvCase> cases = {
      {1, 1, 1, 1, 1, 1, 1, "valid"},                   // smallest possible
      {3, 5, 7, 8, 16, 1, 1, "valid"},                  // pointwise: the direct-GEMM path
      {2, 7, 5, 5, 3, 1, 1, "same", 0, 0, 0, 0, false}, // 1x1 "same" is pointwise too
      {2, 9, 7, 6, 5, 1, 2, "valid"},                   // strided 1x1 (ResNet downsample): im2col path
      {1, 9, 9, 3, 8, 3, 2, "same"},                    // stem-like, odd input, asymmetric pad
      {2, 8, 6, 17, 19, 3, 1, "same"},
      {1, 13, 11, 5, 7, 3, 2, "valid"},
      {2, 10, 9, 4, 6, 3, 1, "explicit", 1, 1, 1, 1},   // torchvision 3x3
      {1, 11, 12, 6, 5, 5, 2, "same", 0, 0, 0, 0, false},
      {3, 7, 7, 9, 4, 5, 1, "explicit", 2, 0, 1, 3},    // lopsided explicit pads
      {1, 15, 13, 3, 10, 7, 2, "explicit", 3, 3, 3, 3}, // ResNet stem geometry, small
      {2, 6, 5, 2, 3, 7, 1, "same"},                    // kernel larger than the image
      {1, 4, 4, 33, 2, 2, 2, "valid"},
  };
  uint64_t seed = 100;
  for (const ConvCase& c : cases) check_against_reference(c, seed += 10);
}

TEST_CASE("cpu conv2d matches the reference across several column tiles") {
  // patch = 3*3*64 = 576 floats: a 8 MiB column tile holds 3640 rows, so 2x48x48 = 4608 rows needs two.
  ConvCase c{2, 48, 48, 64, 6, 3, 1, "same"};
  const ConvGeometry g = c.geometry();
  REQUIRE(cpu::detail::conv_tile_rows(g) < g.out_pixels());
  check_against_reference(c, 777);
}

TEST_CASE("cpu conv2d indirect forward (Cin >= 16): edges, strides, lopsided pads, split channels") {
  // The indirect path (cpu/conv_indirect.hpp) reads the input through per-tap pointers: these cases put
  // pixels of the last micro-panel past the end (M not a multiple of 12 / 6 / 4), output channels past
  // the last full panel (Cout 5, 33, 70), taps in every kind of padding, stride 2 on odd inputs, a tap
  // count that is not a multiple of a K slice, Cin over the 768-channel slice (one tap split), and 1x1.
  const std::vector<ConvCase> cases = {
      {1, 5, 7, 16, 5, 3, 1, "same"},
      {2, 9, 7, 24, 33, 3, 2, "same"},                   // odd input, stride 2, asymmetric pad
      {1, 8, 11, 40, 70, 5, 1, "explicit", 2, 0, 1, 4},  // lopsided explicit pads
      {3, 6, 5, 17, 32, 7, 1, "same", 0, 0, 0, 0, false},
      {1, 7, 6, 20, 9, 2, 2, "valid"},
      {1, 5, 4, 800, 7, 3, 1, "same", 0, 0, 0, 0, false}, // Cin 800 > 768: each tap in two slices
      {2, 7, 5, 20, 33, 1, 1, "valid"},                  // pointwise: forward indirect, gradients GEMM
      {1, 9, 7, 24, 10, 1, 2, "valid"},                  // strided 1x1 (ResNet downsample)
      {1, 6, 7, 64, 20, 3, 1, "same"},                   // weight-gradient tiles of 13, 13, 13, 13, 12 channels
      {2, 5, 6, 28, 16, 3, 1, "same", 0, 0, 0, 0, false}, // two full 14-channel tiles
      {1, 28, 28, 20, 9, 3, 1, "same"},                  // 784 pixels: four weight-gradient slices of 196
  };
  uint64_t seed = 900;
  for (const ConvCase& c : cases) {
    REQUIRE(cpu::conv_uses_indirect(c.geometry()));
    check_against_reference(c, seed += 10);
  }
}

TEST_CASE("cpu conv2d pointwise weight gradient with many pixels: the indirect tiles, not the GEMM") {
  // 2 x 96 x 96 = 18432 pixels (>= 16384); Cin 30 (with AVX-512, three tiles of 10 channels); Cout 37 (a
  // full panel of 32 and a partial one, whose dy columns are copied and zero-padded).
  const ConvCase c{2, 96, 96, 30, 37, 1, 1, "valid"};
  REQUIRE(c.geometry().is_pointwise());
  REQUIRE(cpu::detail::pointwise_weight_grad_is_indirect(c.geometry()));
  check_against_reference(c, 4242);
}

TEST_CASE("cpu conv2d indirect forward is bit-identical for 1 and 2 threads") {
  ConvCase c{3, 13, 11, 32, 40, 3, 1, "same"};
  const ConvGeometry g = c.geometry();
  auto x = Tensor<Cpu>::from_vector(g.in_shape(), random_floats(static_cast<size_t>(g.in_shape().numel()), 5));
  auto w = Tensor<Cpu>::from_vector(Shape{3, 3, 32, 40}, random_floats(3 * 3 * 32 * 40, 6));
  const int before = max_threads();
  set_num_threads(1);
  const auto one = cpu::conv2d_forward(x, w, nullptr, g).to_vector();
  set_num_threads(2);
  const auto two = cpu::conv2d_forward(x, w, nullptr, g).to_vector();
  set_num_threads(before);
  CHECK(one == two);
}

TEST_CASE("cpu conv2d indirect weight gradient is bit-identical for 1 and 2 threads (several pixel slices)") {
  // 2 x 20 x 20 = 800 pixels: four slices of 200, summed into their own partials and added in order.
  ConvCase c{2, 20, 20, 24, 35, 3, 1, "same"};
  const ConvGeometry g = c.geometry();
  auto x = Tensor<Cpu>::from_vector(g.in_shape(), random_floats(static_cast<size_t>(g.in_shape().numel()), 15));
  auto dy = Tensor<Cpu>::from_vector(g.out_shape(), random_floats(static_cast<size_t>(g.out_shape().numel()), 16));
  const int before = max_threads();
  std::vector<std::vector<float>> grads;
  for (int threads : {1, 2, 1}) {
    set_num_threads(threads);
    auto dw = Tensor<Cpu>::zeros(Shape{3, 3, 24, 35});
    cpu::conv2d_backward_params(x, dy, g, dw, nullptr);
    grads.push_back(dw.to_vector());
  }
  set_num_threads(before);
  CHECK(grads[0] == grads[1]);
  CHECK(grads[0] == grads[2]);
}

TEST_CASE("cpu conv2d: shape errors name the op and the tensor") {
  ConvCase c{1, 5, 5, 3, 4, 3, 1, "same"};
  const ConvGeometry g = c.geometry();
  auto x = Tensor<Cpu>::zeros(Shape::nhwc(1, 5, 5, 2));
  auto w = Tensor<Cpu>::zeros(Shape{3, 3, 3, 4});
  CHECK_THROWS_WITH_AS(cpu::conv2d_forward(x, w, nullptr, g), doctest::Contains("cpu::conv2d_forward: x"),
                       ShapeError);
  auto x_ok = Tensor<Cpu>::zeros(g.in_shape());
  auto w_bad = Tensor<Cpu>::zeros(Shape{3, 3, 4, 3});
  CHECK_THROWS_WITH_AS(cpu::conv2d_forward(x_ok, w_bad, nullptr, g), doctest::Contains("weight"), ShapeError);
  auto b_bad = Tensor<Cpu>::zeros(Shape{3});
  CHECK_THROWS_WITH_AS(cpu::conv2d_forward(x_ok, w, &b_bad, g), doctest::Contains("bias"), ShapeError);
}

TEST_CASE("Conv2D layer: shapes, parameter names, init, Train equals Infer, gradients accumulate") {
  Conv2D<Cpu> conv(5, 7, 3, 2, Padding::same(), true, 42);
  CHECK(conv.name() == "Conv2D 5->7 3x3/2 same +bias");
  auto params = conv.parameters();
  REQUIRE(params.size() == 2);
  CHECK(params[0].name == "weight");
  CHECK(params[0].param->value.shape() == Shape({3, 3, 5, 7}));
  CHECK(params[1].name == "bias");
  CHECK(params[1].param->value.shape() == Shape{7});
  CHECK(conv.parameter_count() == 3 * 3 * 5 * 7 + 7);
  // He-uniform: within +-sqrt(6/45), not all equal, bias zero; same seed -> same weights.
  auto wv = conv.weight().value.to_vector();
  const float bound = std::sqrt(6.f / 45.f);
  float lo = 1, hi = -1;
  for (float v : wv) lo = std::min(lo, v), hi = std::max(hi, v);
  CHECK(lo >= -bound);
  CHECK(hi <= bound);
  CHECK(hi - lo > bound);  // spread over the range
  CHECK(conv.bias().value.to_vector() == std::vector<float>(7, 0.f));
  CHECK(Conv2D<Cpu>(5, 7, 3, 2, Padding::same(), true, 42).weight().value.to_vector() == wv);
  CHECK(Conv2D<Cpu>(5, 7, 3, 2, Padding::same(), true, 43).weight().value.to_vector() != wv);
  // A non-zero bias so that its gradient path matters.
  conv.bias().value = Tensor<Cpu>::from_vector(Shape{7}, random_floats(7, 5));

  const Shape in = Shape::nhwc(2, 9, 8, 5);
  CHECK(conv.output_shape(in) == Shape::nhwc(2, 5, 4, 7));
  auto x = Tensor<Cpu>::from_vector(in, random_floats(static_cast<size_t>(in.numel()), 6));
  auto y_infer = conv.forward(x, Mode::Infer);
  CHECK_THROWS_WITH_AS(conv.backward(y_infer), doctest::Contains("Conv2D 5->7"), Error);  // Infer caches nothing
  auto y = conv.forward(x, Mode::Train);
  CHECK(y.shape() == conv.output_shape(in));
  CHECK(y.to_vector() == y_infer.to_vector());

  // Layer output and gradients equal the reference.
  ConvCase c{2, 9, 8, 5, 7, 3, 2, "same"};
  const auto d = c.dims();
  auto dys = random_floats(static_cast<size_t>(d.out_size()), 7);
  auto dy = Tensor<Cpu>::from_vector(y.shape(), dys);
  auto y_ref = ref::conv2d_forward(d, widen(x.to_vector()), widen(wv), widen(conv.bias().value.to_vector()));
  std::vector<double> dx_ref, dw_ref, db_ref;
  ref::conv2d_backward(d, widen(x.to_vector()), widen(wv), true, widen(dys), dx_ref, dw_ref, db_ref);
  SKN_CHECK_CLOSE(y.to_vector(), y_ref, 1e-4, 1e-5);
  auto dx = conv.backward(dy);
  CHECK(dx.shape() == in);
  SKN_CHECK_CLOSE(dx.to_vector(), dx_ref, 1e-4, 1e-5);
  SKN_CHECK_CLOSE(conv.weight().grad.to_vector(), dw_ref, 1e-4, 1e-5);
  SKN_CHECK_CLOSE(conv.bias().grad.to_vector(), db_ref, 1e-4, 1e-5);
  // A second backward adds the same gradient again.
  auto gw1 = conv.weight().grad.to_vector();
  auto gb1 = conv.bias().grad.to_vector();
  auto dx2 = conv.backward(dy);
  CHECK(dx2.to_vector() == dx.to_vector());
  auto gw2 = conv.weight().grad.to_vector();
  auto gb2 = conv.bias().grad.to_vector();
  for (size_t i = 0; i < gw1.size(); ++i) CHECK(gw2[i] == gw1[i] + gw1[i]);
  for (size_t i = 0; i < gb1.size(); ++i) CHECK(gb2[i] == gb1[i] + gb1[i]);
  conv.zero_grad();
  CHECK(conv.weight().grad.to_vector() == std::vector<float>(gw1.size(), 0.f));

  CHECK_THROWS_WITH_AS(conv.forward(Tensor<Cpu>::zeros(Shape::nhwc(1, 4, 4, 3)), Mode::Infer),
                       doctest::Contains("Conv2D 5->7 3x3/2 same +bias: expected an NHWC input with 5 channels"),
                       ShapeError);
  CHECK_THROWS_AS(conv.backward(Tensor<Cpu>::zeros(Shape::nhwc(2, 4, 4, 7))), ShapeError);
}

TEST_CASE("Conv2D layer keeps its training input without copying it, and backward outlives the caller's x") {
  Conv2D<Cpu> conv(16, 8, 3, 1, Padding::same(), false, 3);
  const Shape in = Shape::nhwc(2, 7, 6, 16);
  const auto xs = random_floats(static_cast<size_t>(in.numel()), 31);
  {
    auto x = Tensor<Cpu>::from_vector(in, xs);
    conv.forward(x, Mode::Train);
    CHECK(x.buffer_is_shared());  // the layer holds x itself, not a copy
    conv.forward(x, Mode::Infer);
    CHECK_FALSE(x.buffer_is_shared());  // inference keeps nothing
  }
  // Train on a temporary: the caller's handle is gone before backward.
  auto y = conv.forward(Tensor<Cpu>::from_vector(in, xs), Mode::Train);
  const auto dys = random_floats(static_cast<size_t>(y.numel()), 32);
  conv.backward(Tensor<Cpu>::from_vector(y.shape(), dys));
  ConvCase c{2, 7, 6, 16, 8, 3, 1, "same"};
  std::vector<double> dx_ref, dw_ref, db_ref;
  ref::conv2d_backward(c.dims(), widen(xs), widen(conv.weight().value.to_vector()), false, widen(dys), dx_ref, dw_ref,
                       db_ref);
  SKN_CHECK_CLOSE(conv.weight().grad.to_vector(), dw_ref, 1e-4, 1e-5);
}

TEST_CASE("Conv2D layer without bias, and two identical runs are bit-identical") {
  auto run = [] {
    Conv2D<Cpu> conv(16, 24, 3, 1, Padding::symmetric(1), false, 9);
    CHECK(conv.parameters().size() == 1);
    CHECK_FALSE(conv.has_bias());
    const Shape in = Shape::nhwc(3, 21, 19, 16);
    auto x = Tensor<Cpu>::from_vector(in, random_floats(static_cast<size_t>(in.numel()), 21));
    auto y = conv.forward(x, Mode::Train);
    auto dy = Tensor<Cpu>::from_vector(y.shape(), random_floats(static_cast<size_t>(y.numel()), 22));
    auto dx = conv.backward(dy);
    std::vector<float> all = y.to_vector();
    for (float v : dx.to_vector()) all.push_back(v);
    for (float v : conv.weight().grad.to_vector()) all.push_back(v);
    return all;
  };
  const auto a = run();
  const auto b = run();
  CHECK(a == b);
}
