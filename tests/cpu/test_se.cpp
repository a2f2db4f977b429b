// SEBlock: float64 reference gradient check (input and all four parameters), CPU layer vs reference
// for ReLU (SE-ResNet) and Swish (EfficientNet), timm parameter names, determinism.
#include <doctest/doctest.h>

#include <vector>

#include "reference/check.hpp"
#include "reference/gradcheck.hpp"
#include "reference/se.hpp"
#include "skinnet/layers/se_block.hpp"
#include "test_util.hpp"

using namespace skinnet;
using namespace skinnet::test;

namespace {
ref::SEParams random_params(int64_t C, int64_t Cr, ref::RefAct inner, uint64_t seed) {
  return {C,
          Cr,
          inner,
          rounded(ref::random_vector(C * Cr, seed, -0.8, 0.8)),
          rounded(ref::random_vector(Cr, seed + 1, -0.3, 0.3)),
          rounded(ref::random_vector(Cr * C, seed + 2, -0.8, 0.8)),
          rounded(ref::random_vector(C, seed + 3, -0.3, 0.3))};
}
}  // namespace

TEST_CASE("SE reference: central-difference gradients for x and every parameter") {
  const int64_t N = 2, HW = 6, C = 5, Cr = 3;
  for (auto inner : {ref::RefAct::ReLU, ref::RefAct::Swish}) {
    const auto p = random_params(C, Cr, inner, 11);
    const auto x = ref::random_vector(N * HW * C, 1, -2, 2);
    const auto r = ref::random_vector(N * HW * C, 2);
    const auto g = ref::se_backward(x, N, HW, p, r);
    auto with = [&](std::vector<double> ref::SEParams::*field) {
      return [&, field](const std::vector<double>& v) {
        ref::SEParams q = p;
        q.*field = v;
        return ref::dot(ref::se_forward(x, N, HW, q).y, r);
      };
    };
    SKN_CHECK_GRAD(ref::grad_check([&](const std::vector<double>& v) { return ref::dot(ref::se_forward(v, N, HW, p).y, r); }, x, g.dx, "se dx"));
    SKN_CHECK_GRAD(ref::grad_check(with(&ref::SEParams::w1), p.w1, g.dw1, "se dw1"));
    SKN_CHECK_GRAD(ref::grad_check(with(&ref::SEParams::b1), p.b1, g.db1, "se db1"));
    SKN_CHECK_GRAD(ref::grad_check(with(&ref::SEParams::w2), p.w2, g.dw2, "se dw2"));
    SKN_CHECK_GRAD(ref::grad_check(with(&ref::SEParams::b2), p.b2, g.db2, "se db2"));
  }
}

TEST_CASE("SEBlock CPU vs reference: forward, dx and all parameter gradients") {
  struct Case {
    Shape s;
    int64_t Cr;
    Act inner;
  };
  uint64_t seed = 30;
  for (const Case& c : {Case{Shape{1, 7, 7, 16}, 4, Act::ReLU}, Case{Shape{3, 5, 3, 17}, 5, Act::Swish},
                        Case{Shape{2, 1, 1, 40}, 10, Act::Swish}, Case{Shape{2, 9, 11, 64}, 8, Act::ReLU}}) {
    CAPTURE(c.s.str());
    const int64_t N = c.s.n(), HW = c.s.h() * c.s.w(), C = c.s.c();
    const auto p = random_params(C, c.Cr, c.inner == Act::ReLU ? ref::RefAct::ReLU : ref::RefAct::Swish, ++seed);
    const auto xv = rounded(ref::random_vector(c.s.numel(), ++seed, -2, 2));
    const auto dyv = rounded(ref::random_vector(c.s.numel(), ++seed));
    SEBlock<Cpu> se(C, c.Cr, c.inner);
    se.reduce_weight().value = to_tensor(Shape{1, 1, C, c.Cr}, p.w1);
    se.reduce_bias().value = to_tensor(Shape{c.Cr}, p.b1);
    se.expand_weight().value = to_tensor(Shape{1, 1, c.Cr, C}, p.w2);
    se.expand_bias().value = to_tensor(Shape{C}, p.b2);
    auto y = se.forward(to_tensor(c.s, xv), Mode::Train);
    SKN_CHECK_CLOSE(y.to_vector(), ref::se_forward(xv, N, HW, p).y, 1e-5, 1e-5);
    auto dx = se.backward(to_tensor(c.s, dyv));
    const auto g = ref::se_backward(xv, N, HW, p, dyv);
    SKN_CHECK_CLOSE(dx.to_vector(), g.dx, 1e-5, 1e-4);
    SKN_CHECK_CLOSE(se.reduce_weight().grad.to_vector(), g.dw1, 1e-5, 1e-4);
    SKN_CHECK_CLOSE(se.reduce_bias().grad.to_vector(), g.db1, 1e-5, 1e-4);
    SKN_CHECK_CLOSE(se.expand_weight().grad.to_vector(), g.dw2, 1e-5, 1e-4);
    SKN_CHECK_CLOSE(se.expand_bias().grad.to_vector(), g.db2, 1e-5, 1e-4);
    auto yi = se.forward(to_tensor(c.s, xv), Mode::Infer);
    CHECK(yi.to_vector() == y.to_vector());
  }
}

TEST_CASE("SEBlock parameter names and shapes follow timm") {
  SEBlock<Cpu> resnet(256, 16, Act::ReLU, SENames::resnet());
  auto ps = resnet.parameters();
  REQUIRE(ps.size() == 4);
  CHECK(ps[0].name == "fc1.weight");
  CHECK(ps[0].param->value.shape() == Shape{1, 1, 256, 16});
  CHECK(ps[1].name == "fc1.bias");
  CHECK(ps[2].name == "fc2.weight");
  CHECK(ps[2].param->value.shape() == Shape{1, 1, 16, 256});
  CHECK(ps[3].name == "fc2.bias");
  CHECK(resnet.parameter_count() == 256 * 16 + 16 + 16 * 256 + 256);
  SEBlock<Cpu> eff(96, 4, Act::Swish, SENames::efficientnet());
  auto pe = eff.parameters();
  CHECK(pe[0].name == "conv_reduce.weight");
  CHECK(pe[1].name == "conv_reduce.bias");
  CHECK(pe[2].name == "conv_expand.weight");
  CHECK(pe[3].name == "conv_expand.bias");
  CHECK(eff.name() == "SEBlock 96->4->96 swish");
  CHECK_THROWS_WITH_AS(eff.forward(Tensor<Cpu>::zeros(Shape{1, 2, 2, 95}), Mode::Infer),
                       doctest::Contains("with 96 channels"), ShapeError);
}

TEST_CASE("SEBlock is bit-identical across runs and thread counts") {
  const Shape s{3, 14, 14, 48};
  auto run = [&](int threads) {
    const int saved = max_threads();
    set_num_threads(threads);
    SEBlock<Cpu> se(48, 12, Act::Swish, SENames::efficientnet());
    const auto p = random_params(48, 12, ref::RefAct::Swish, 77);
    se.reduce_weight().value = to_tensor(Shape{1, 1, 48, 12}, p.w1);
    se.expand_weight().value = to_tensor(Shape{1, 1, 12, 48}, p.w2);
    auto y = se.forward(to_tensor(s, ref::random_vector(s.numel(), 1)), Mode::Train).to_vector();
    auto dx = se.backward(to_tensor(s, ref::random_vector(s.numel(), 2))).to_vector();
    y.insert(y.end(), dx.begin(), dx.end());
    for (auto& np : se.parameters()) {
      auto v = np.param->grad.to_vector();
      y.insert(y.end(), v.begin(), v.end());
    }
    set_num_threads(saved);
    return y;
  };
  const auto a = run(2);
  CHECK(a == run(2));
  CHECK(a == run(1));
}
