// Activations ReLU, Swish, Mish, Sigmoid: float64 reference gradient check, CPU ops vs reference
// (including extreme inputs: no NaN or Inf), the Activation layer.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "reference/activation.hpp"
#include "reference/check.hpp"
#include "reference/gradcheck.hpp"
#include "skinnet/layers/activation.hpp"
#include "test_util.hpp"

using namespace skinnet;
using namespace skinnet::test;

namespace {
struct Case {
  Act act;
  ref::RefAct ref;
};
const Case kCases[] = {{Act::None, ref::RefAct::None},
                       {Act::ReLU, ref::RefAct::ReLU},
                       {Act::Swish, ref::RefAct::Swish},
                       {Act::Mish, ref::RefAct::Mish},
                       {Act::Sigmoid, ref::RefAct::Sigmoid}};
}  // namespace

TEST_CASE("Activation reference: central-difference gradients") {
  // Values away from ReLU's kink at 0 (a finite difference across it is meaningless).
  auto x = ref::random_vector(200, 1, -6, 6);
  for (auto& v : x)
    if (std::fabs(v) < 1e-3) v = 0.5;
  const auto r = ref::random_vector(x.size(), 2);
  for (const auto& c : kCases) {
    CAPTURE(act_name(c.act));
    auto loss = [&](const std::vector<double>& xv) { return ref::dot(ref::activation_forward(c.ref, xv), r); };
    SKN_CHECK_GRAD(ref::grad_check(loss, x, ref::activation_backward(c.ref, x, r), act_name(c.act)));
  }
}

TEST_CASE("Activation CPU ops vs reference, forward and backward") {
  uint64_t seed = 10;
  for (const Shape& s : {Shape{1, 3, 5, 7}, Shape{2, 9, 9, 17}, Shape{5, 33}, Shape{4099}}) {
    for (const auto& c : kCases) {
      CAPTURE(s.str());
      CAPTURE(act_name(c.act));
      const auto xv = rounded(ref::random_vector(s.numel(), ++seed, -8, 8));
      const auto dyv = rounded(ref::random_vector(s.numel(), ++seed));
      auto x = to_tensor(s, xv);
      auto y = cpu::activation_forward(c.act, x);
      auto dx = cpu::activation_backward(c.act, x, to_tensor(s, dyv));
      CHECK(y.shape() == s);
      SKN_CHECK_CLOSE(y.to_vector(), ref::activation_forward(c.ref, xv), 1e-6, 1e-5);
      SKN_CHECK_CLOSE(dx.to_vector(), ref::activation_backward(c.ref, xv, dyv), 1e-6, 1e-5);
    }
  }
}

TEST_CASE("Activation CPU ops stay finite and exact at extreme inputs") {
  const std::vector<double> xv = {-1e30, -1000, -100, -88.7, -30, -20.5, -1e-8, 0, 1e-8, 19.9, 20.1, 30, 88.7, 100,
                                  1000, 1e30};
  const std::vector<double> ones(xv.size(), 1.0);
  const Shape s{static_cast<int64_t>(xv.size())};
  for (const auto& c : kCases) {
    CAPTURE(act_name(c.act));
    auto y = cpu::activation_forward(c.act, to_tensor(s, xv)).to_vector();
    auto d = cpu::activation_backward(c.act, to_tensor(s, xv), to_tensor(s, ones)).to_vector();
    for (size_t i = 0; i < xv.size(); ++i) {
      CAPTURE(xv[i]);
      CHECK(std::isfinite(y[i]));
      CHECK(std::isfinite(d[i]));
    }
    // Compare where float can represent the reference (|x| <= 1000).
    std::vector<double> xs(xv.begin() + 1, xv.end() - 1);
    const Shape m{static_cast<int64_t>(xs.size())};
    auto ym = cpu::activation_forward(c.act, to_tensor(m, xs)).to_vector();
    auto dm = cpu::activation_backward(c.act, to_tensor(m, xs), to_tensor(m, std::vector<double>(xs.size(), 1.0)))
                  .to_vector();
    SKN_CHECK_CLOSE(ym, ref::activation_forward(c.ref, rounded(xs)), 1e-6, 1e-5);
    SKN_CHECK_CLOSE(dm, ref::activation_backward(c.ref, rounded(xs), std::vector<double>(xs.size(), 1.0)), 1e-6,
                    1e-5);
  }
}

TEST_CASE("Activation layer: train caches the input, inference does not, names") {
  const Shape s{2, 3, 4, 5};
  auto xv = rounded(ref::random_vector(s.numel(), 3, -3, 3));
  auto dyv = rounded(ref::random_vector(s.numel(), 4));
  Activation<Cpu> swish(Act::Swish);
  CHECK(swish.name() == "Activation swish");
  CHECK(swish.output_shape(s) == s);
  CHECK(swish.parameters().empty());
  CHECK_THROWS_WITH_AS(swish.backward(to_tensor(s, dyv)), doctest::Contains("backward without"), Error);
  auto y = swish.forward(to_tensor(s, xv), Mode::Train);
  SKN_CHECK_CLOSE(y.to_vector(), ref::activation_forward(ref::RefAct::Swish, xv), 1e-6, 1e-5);
  auto dx = swish.backward(to_tensor(s, dyv));
  SKN_CHECK_CLOSE(dx.to_vector(), ref::activation_backward(ref::RefAct::Swish, xv, dyv), 1e-6, 1e-5);
  swish.forward(to_tensor(s, xv), Mode::Infer);
  CHECK_THROWS_AS(swish.backward(to_tensor(s, dyv)), Error);
  CHECK_THROWS_AS(cpu::activation_backward(Act::ReLU, to_tensor(s, xv), Tensor<Cpu>::zeros(Shape{3})),
                  ShapeError);
}
