// MaxPool2D and AvgPool2D: the float64 reference's gradients, the CPU backend against the reference,
// TF "same" semantics (padding never wins a max, is not counted in a mean), and the layers.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "reference/check.hpp"
#include "reference/gradcheck.hpp"
#include "reference/pool.hpp"
#include "skinnet/cpu/pool.hpp"
#include "skinnet/layers/pool.hpp"
#include "test_util.hpp"

using namespace skinnet;
using namespace skinnet::test;

namespace {

struct PoolCase {
  int64_t n, h, w, c, k, stride;
  std::string pad;
  int64_t pt = 0, pb = 0, pl = 0, pr = 0;

  Padding padding() const { return padding_of(pad, pt, pb, pl, pr); }
  ref::WindowDims dims() const { return ref::window_dims(n, h, w, c, k, k, stride, stride, pad, c, pt, pb, pl, pr); }
  ConvGeometry geometry() const { return ConvGeometry::make(Shape::nhwc(n, h, w, c), k, stride, padding(), c, "test"); }
  std::string str() const {
    return "n" + std::to_string(n) + " " + std::to_string(h) + "x" + std::to_string(w) + " c" + std::to_string(c) +
           " k" + std::to_string(k) + " s" + std::to_string(stride) + " " + pad;
  }
};

const PoolCase kCases[] = {
    {1, 1, 1, 1, 1, 1, "valid"},
    {2, 7, 9, 3, 3, 2, "same"},   // Xception's block pools on an odd input
    {1, 8, 8, 17, 3, 2, "same"},  // even input: TF pads only after
    {2, 6, 7, 70, 2, 2, "valid"}, // channel blocks of 64 plus a tail
    {1, 11, 10, 5, 3, 2, "explicit", 1, 1, 1, 1},  // torchvision ResNet stem pool
    {3, 5, 5, 4, 3, 1, "same"},
    {1, 9, 6, 2, 5, 2, "explicit", 2, 0, 1, 3},
    {1, 6, 6, 8, 3, 3, "valid"},
};

}  // namespace

TEST_CASE("reference pooling: central-difference gradients") {
  for (const PoolCase& c : kCases) {
    INFO("case: " << c.str());
    const auto d = c.dims();
    auto x = ref::random_vector(static_cast<size_t>(d.in_size()), 41);  // distinct values: max is smooth
    auto r = ref::random_vector(static_cast<size_t>(d.out_size()), 42);
    SKN_CHECK_GRAD(ref::grad_check([&](const std::vector<double>& v) { return ref::dot(ref::maxpool_forward(d, v), r); },
                                   x, ref::maxpool_backward(d, x, r), "max dx"));
    SKN_CHECK_GRAD(ref::grad_check([&](const std::vector<double>& v) { return ref::dot(ref::avgpool_forward(d, v), r); },
                                   x, ref::avgpool_backward(d, r), "avg dx"));
  }
}

TEST_CASE("cpu max and avg pooling match the reference, forward and backward") {
  uint64_t seed = 500;
  for (const PoolCase& c : kCases) {
    INFO("case: " << c.str());
    const ConvGeometry g = c.geometry();
    const auto d = c.dims();
    REQUIRE(g.out_h == d.oh);
    REQUIRE(g.out_w == d.ow);
    auto xs = random_floats(static_cast<size_t>(d.in_size()), seed += 10);
    auto dys = random_floats(static_cast<size_t>(d.out_size()), seed + 1);
    auto x = Tensor<Cpu>::from_vector(g.in_shape(), xs);
    auto dy = Tensor<Cpu>::from_vector(g.out_shape(), dys);
    // Max pooling selects and routes: exact.
    SKN_CHECK_CLOSE(cpu::max_pool2d_forward(x, g).to_vector(), ref::maxpool_forward(d, widen(xs)), 0.0, 0.0);
    SKN_CHECK_CLOSE(cpu::max_pool2d_backward(x, dy, g).to_vector(), ref::maxpool_backward(d, widen(xs), widen(dys)),
                    1e-6, 1e-6);
    SKN_CHECK_CLOSE(cpu::avg_pool2d_forward(x, g).to_vector(), ref::avgpool_forward(d, widen(xs)), 1e-6, 1e-5);
    SKN_CHECK_CLOSE(cpu::avg_pool2d_backward(dy, g).to_vector(), ref::avgpool_backward(d, widen(dys)), 1e-6, 1e-5);
  }
}

TEST_CASE("pooling with TF same padding: padding never wins a max and is not counted in a mean") {
  // 4x4 of negative values, 3x3/2 same: out 2x2, total pad 1, all of it after (bottom/right).
  std::vector<float> xs(16);
  for (int i = 0; i < 16; ++i) xs[static_cast<size_t>(i)] = -1.f - static_cast<float>(i);
  auto x = Tensor<Cpu>::from_vector(Shape::nhwc(1, 4, 4, 1), xs);
  auto g = ConvGeometry::make(x.shape(), 3, 2, Padding::same(), 1, "test");
  REQUIRE(g.pad_bottom == 1);
  REQUIRE(g.pad_top == 0);
  auto y = cpu::max_pool2d_forward(x, g).to_vector();
  // Window of output (1,1) covers rows 2..3, cols 2..3 (plus padding): max is x[2][2] = -11, not 0.
  CHECK(y == std::vector<float>{-1.f, -3.f, -9.f, -11.f});
  auto a = cpu::avg_pool2d_forward(x, g).to_vector();
  // Output (1,1): mean of x[2][2], x[2][3], x[3][2], x[3][3] = (-11 - 12 - 15 - 16) / 4.
  CHECK(a[3] == doctest::Approx(-13.5));
  // Output (0,0): full 3x3 window of rows 0..2, cols 0..2.
  CHECK(a[0] == doctest::Approx((-1 - 2 - 3 - 5 - 6 - 7 - 9 - 10 - 11) / 9.0));
}

TEST_CASE("max pooling: ties send the gradient to the first maximum only") {
  auto x = Tensor<Cpu>::filled(Shape::nhwc(1, 2, 2, 1), 3.f);
  auto g = ConvGeometry::make(x.shape(), 2, 2, Padding::valid(), 1, "test");
  auto dx = cpu::max_pool2d_backward(x, Tensor<Cpu>::filled(Shape::nhwc(1, 1, 1, 1), 1.f), g).to_vector();
  CHECK(dx == std::vector<float>{1.f, 0.f, 0.f, 0.f});
  CHECK_THROWS_WITH_AS(cpu::max_pool2d_forward(x, ConvGeometry::make(x.shape(), 2, 1, Padding::symmetric(2), 1, "t")),
                       doctest::Contains("smaller than the 2x2 window"), ValueError);
}

TEST_CASE("MaxPool2D and AvgPool2D layers: shapes, no parameters, Train equals Infer, backward") {
  MaxPool2D<Cpu> mp(3, 2, Padding::same());
  AvgPool2D<Cpu> ap(2);  // Keras default: stride = kernel, valid
  CHECK(mp.name() == "MaxPool2D 3x3/2 same");
  CHECK(ap.name() == "AvgPool2D 2x2/2 valid");
  CHECK(mp.parameters().empty());
  CHECK(ap.parameters().empty());
  const Shape in = Shape::nhwc(2, 9, 7, 5);
  CHECK(mp.output_shape(in) == Shape::nhwc(2, 5, 4, 5));
  CHECK(ap.output_shape(in) == Shape::nhwc(2, 4, 3, 5));
  auto xs = random_floats(static_cast<size_t>(in.numel()), 61);
  auto x = Tensor<Cpu>::from_vector(in, xs);
  for (Module<Cpu>* m : std::vector<Module<Cpu>*>{&mp, &ap}) {
    INFO(m->name());
    auto yi = m->forward(x, Mode::Infer);
    CHECK_THROWS_AS(m->backward(yi), Error);
    auto y = m->forward(x, Mode::Train);
    CHECK(y.shape() == m->output_shape(in));
    CHECK(y.to_vector() == yi.to_vector());
    auto dy = Tensor<Cpu>::from_vector(y.shape(), random_floats(static_cast<size_t>(y.numel()), 62));
    auto dx1 = m->backward(dy);
    auto dx2 = m->backward(dy);
    CHECK(dx1.shape() == in);
    CHECK(dx1.to_vector() == dx2.to_vector());  // deterministic
    CHECK_THROWS_AS(m->backward(Tensor<Cpu>::zeros(Shape::nhwc(2, 1, 1, 5))), ShapeError);
  }
  const auto dm = ref::window_dims(2, 9, 7, 5, 3, 3, 2, 2, "same", 5);
  mp.forward(x, Mode::Train);
  auto dys = random_floats(static_cast<size_t>(dm.out_size()), 63);
  SKN_CHECK_CLOSE(mp.backward(Tensor<Cpu>::from_vector(mp.output_shape(in), dys)).to_vector(),
                  ref::maxpool_backward(dm, widen(xs), widen(dys)), 1e-6, 1e-6);
  CHECK_THROWS_WITH_AS(mp.forward(Tensor<Cpu>::zeros(Shape{3, 4}), Mode::Infer), doctest::Contains("MaxPool2D 3x3/2"),
                       ShapeError);
}
