// The classifier head: Dense, GlobalAvgPool, Flatten. float64 reference gradient checks, CPU ops vs
// reference (with and without bias, rank-2 and NHWC inputs), gradient accumulation, layer surface.
#include <doctest/doctest.h>

#include <vector>

#include "reference/check.hpp"
#include "reference/dense.hpp"
#include "reference/gradcheck.hpp"
#include "reference/pool_global.hpp"
#include "skinnet/layers/dense.hpp"
#include "skinnet/layers/flatten.hpp"
#include "skinnet/layers/global_avg_pool.hpp"
#include "test_util.hpp"

using namespace skinnet;
using namespace skinnet::test;

TEST_CASE("Dense reference: central-difference gradients for x, weight, bias") {
  const int64_t rows = 3, in = 5, out = 4;
  const auto x = ref::random_vector(rows * in, 1);
  const auto w = ref::random_vector(in * out, 2);
  const auto b = ref::random_vector(out, 3);
  const auto r = ref::random_vector(rows * out, 4);
  const auto g = ref::dense_backward(x, rows, in, out, w, r);
  SKN_CHECK_GRAD(ref::grad_check([&](const std::vector<double>& v) { return ref::dot(ref::dense_forward(v, rows, in, out, w, b), r); }, x, g.dx, "dense dx"));
  SKN_CHECK_GRAD(ref::grad_check([&](const std::vector<double>& v) { return ref::dot(ref::dense_forward(x, rows, in, out, v, b), r); }, w, g.dw, "dense dw"));
  SKN_CHECK_GRAD(ref::grad_check([&](const std::vector<double>& v) { return ref::dot(ref::dense_forward(x, rows, in, out, w, v), r); }, b, g.db, "dense db"));
}

TEST_CASE("GlobalAvgPool reference: central-difference gradient") {
  const int64_t N = 2, HW = 15, C = 3;
  const auto x = ref::random_vector(N * HW * C, 5);
  const auto r = ref::random_vector(N * C, 6);
  SKN_CHECK_GRAD(ref::grad_check([&](const std::vector<double>& v) { return ref::dot(ref::global_avg_pool(v, N, HW, C), r); }, x,
                                 ref::global_avg_pool_backward(r, N, HW, C), "gap dx"));
}

TEST_CASE("Dense CPU vs reference: shapes, bias on and off, NHWC input, accumulation") {
  struct Case {
    Shape x;
    int64_t out;
    bool bias;
  };
  uint64_t seed = 20;
  for (const Case& c : {Case{Shape{1, 7}, 3, true}, Case{Shape{5, 33}, 17, true}, Case{Shape{4, 64}, 10, false},
                        Case{Shape{2, 3, 5, 9}, 13, true}, Case{Shape{37, 100}, 7, true}}) {
    CAPTURE(c.x.str());
    const int64_t in = c.x[c.x.rank() - 1], rows = c.x.numel() / in;
    const auto xv = rounded(ref::random_vector(c.x.numel(), ++seed));
    const auto wv = rounded(ref::random_vector(in * c.out, ++seed));
    const auto bv = c.bias ? rounded(ref::random_vector(c.out, ++seed)) : std::vector<double>{};
    const auto dyv = rounded(ref::random_vector(rows * c.out, ++seed));
    Dense<Cpu> layer(in, c.out, c.bias);
    layer.weight().value = to_tensor(Shape{in, c.out}, wv);
    if (c.bias) layer.bias().value = to_tensor(Shape{c.out}, bv);
    auto y = layer.forward(to_tensor(c.x, xv), Mode::Train);
    CHECK(y.shape() == layer.output_shape(c.x));
    SKN_CHECK_CLOSE(y.to_vector(), ref::dense_forward(xv, rows, in, c.out, wv, bv), 1e-5, 1e-5);
    auto want = ref::dense_backward(xv, rows, in, c.out, wv, dyv);
    // Two backward calls: parameter gradients must add up (Module contract), dx must not.
    auto dx = layer.backward(to_tensor(y.shape(), dyv));
    dx = layer.backward(to_tensor(y.shape(), dyv));
    CHECK(dx.shape() == c.x);
    for (auto& v : want.dw) v *= 2;
    for (auto& v : want.db) v *= 2;
    SKN_CHECK_CLOSE(dx.to_vector(), want.dx, 1e-5, 1e-5);
    SKN_CHECK_CLOSE(layer.weight().grad.to_vector(), want.dw, 1e-5, 1e-5);
    if (c.bias) SKN_CHECK_CLOSE(layer.bias().grad.to_vector(), want.db, 1e-5, 1e-5);
  }
}

TEST_CASE("Dense layer surface: names, counts, errors") {
  Dense<Cpu> fc(2048, 7);
  auto ps = fc.parameters();
  REQUIRE(ps.size() == 2);
  CHECK(ps[0].name == "weight");
  CHECK(ps[0].param->value.shape() == Shape{2048, 7});
  CHECK(ps[1].name == "bias");
  CHECK(fc.parameter_count() == 2048 * 7 + 7);
  CHECK(fc.name() == "Dense 2048->7");
  Dense<Cpu> nb(3, 4, false);
  CHECK(nb.parameters().size() == 1);
  CHECK(nb.name() == "Dense 3->4 no-bias");
  CHECK_THROWS_WITH_AS(fc.forward(Tensor<Cpu>::zeros(Shape{2, 100}), Mode::Infer),
                       doctest::Contains("does not have 2048 features"), ShapeError);
  CHECK_THROWS_AS(fc.backward(Tensor<Cpu>::zeros(Shape{2, 7})), Error);
}

TEST_CASE("GlobalAvgPool CPU vs reference, N x C output and keep_dims N x 1 x 1 x C") {
  uint64_t seed = 50;
  for (const Shape& s : {Shape{1, 7, 7, 3}, Shape{3, 5, 9, 17}, Shape{2, 1, 1, 64}, Shape{4, 13, 11, 40}}) {
    CAPTURE(s.str());
    const int64_t N = s.n(), HW = s.h() * s.w(), C = s.c();
    const auto xv = rounded(ref::random_vector(s.numel(), ++seed, -1, 3));
    const auto dyv = rounded(ref::random_vector(N * C, ++seed));
    for (bool keep : {false, true}) {
      GlobalAvgPool<Cpu> gap(keep);
      auto y = gap.forward(to_tensor(s, xv), Mode::Train);
      CHECK(y.shape() == (keep ? Shape{N, 1, 1, C} : Shape{N, C}));
      CHECK(y.shape() == gap.output_shape(s));
      SKN_CHECK_CLOSE(y.to_vector(), ref::global_avg_pool(xv, N, HW, C), 1e-6, 1e-6);
      auto dx = gap.backward(to_tensor(y.shape(), dyv));
      CHECK(dx.shape() == s);
      SKN_CHECK_CLOSE(dx.to_vector(), ref::global_avg_pool_backward(dyv, N, HW, C), 1e-7, 1e-6);
    }
  }
  GlobalAvgPool<Cpu> gap;
  CHECK_THROWS_WITH_AS(gap.forward(Tensor<Cpu>::zeros(Shape{2, 3}), Mode::Infer), doctest::Contains("not NHWC"),
                       ShapeError);
}

TEST_CASE("Flatten keeps NHWC memory order and restores the shape in backward") {
  const Shape s{2, 3, 4, 5};
  const auto xv = ref::random_vector(s.numel(), 8);
  Flatten<Cpu> f;
  CHECK(f.output_shape(s) == Shape{2, 60});
  auto y = f.forward(to_tensor(s, xv), Mode::Train);
  CHECK(y.shape() == Shape{2, 60});
  CHECK(y.to_vector() == to_tensor(s, xv).to_vector());
  auto dx = f.backward(y);
  CHECK(dx.shape() == s);
  CHECK(dx.to_vector() == y.to_vector());
}
