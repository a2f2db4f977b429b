// BatchNorm: float64 reference gradient check, CPU ops vs reference (training forward, batch and
// running statistics, inference, all gradients), fused BN+activation == BN then activation,
// determinism, layer surface (names, buffers, errors).
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "reference/batchnorm.hpp"
#include "reference/check.hpp"
#include "reference/gradcheck.hpp"
#include "skinnet/layers/activation.hpp"
#include "skinnet/layers/batchnorm.hpp"
#include "test_util.hpp"

using namespace skinnet;
using namespace skinnet::test;

namespace {

int64_t channels(const Shape& s) { return s[s.rank() - 1]; }

// Shapes with batch 1, odd spatial sizes, channel counts that are not multiples of 8/16, a dense
// [N, C] input, a case with only 4 values per channel, and channel counts past the reductions' blocks
// of 64 and 16 channels (56 = 3 x 16 + 8, 131 = 2 x 64 + 3).
const std::vector<Shape> kShapes = {Shape{1, 5, 7, 3}, Shape{2, 3, 3, 17}, Shape{4, 1, 1, 10},
                                    Shape{3, 4, 5, 64}, Shape{6, 13}, Shape{2, 9, 11, 33},
                                    Shape{1, 4, 6, 56}, Shape{2, 3, 5, 131}};
const Act kActs[] = {Act::None, Act::ReLU, Act::Swish, Act::Mish, Act::Sigmoid};

}  // namespace

TEST_CASE("BatchNorm reference: central-difference gradients for x, gamma, beta in training mode") {
  const int64_t M = 6, C = 3;
  const double eps = 1e-3;
  const auto x = ref::random_vector(M * C, 1, -2, 2);
  const auto gamma = ref::random_vector(C, 2, 0.5, 1.5);
  const auto beta = ref::random_vector(C, 3, -0.5, 0.5);
  const auto r = ref::random_vector(M * C, 4);
  const std::vector<double> rm(C, 0.0), rv(C, 1.0);
  for (auto a : {ref::RefAct::None, ref::RefAct::ReLU, ref::RefAct::Swish, ref::RefAct::Mish}) {
    CAPTURE(static_cast<int>(a));
    const auto g = ref::batchnorm_train_backward(x, M, C, gamma, beta, eps, a, r);
    auto loss_x = [&](const std::vector<double>& xv) {
      return ref::dot(ref::batchnorm_train(xv, M, C, gamma, beta, rm, rv, 0.1, eps, a).y, r);
    };
    auto loss_g = [&](const std::vector<double>& gv) {
      return ref::dot(ref::batchnorm_train(x, M, C, gv, beta, rm, rv, 0.1, eps, a).y, r);
    };
    auto loss_b = [&](const std::vector<double>& bv) {
      return ref::dot(ref::batchnorm_train(x, M, C, gamma, bv, rm, rv, 0.1, eps, a).y, r);
    };
    SKN_CHECK_GRAD(ref::grad_check(loss_x, x, g.dx, "bn dx"));
    SKN_CHECK_GRAD(ref::grad_check(loss_g, gamma, g.dgamma, "bn dgamma"));
    SKN_CHECK_GRAD(ref::grad_check(loss_b, beta, g.dbeta, "bn dbeta"));
  }
}

TEST_CASE("BatchNorm CPU training forward: output, batch statistics, running averages vs reference") {
  uint64_t seed = 10;
  for (const Shape& s : kShapes) {
    for (Act a : kActs) {
      CAPTURE(s.str());
      CAPTURE(act_name(a));
      const int64_t C = channels(s), M = s.numel() / C;
      // A non-zero mean per channel, as real activations have: checks the variance is centred.
      auto xv = rounded(ref::random_vector(s.numel(), ++seed, -1, 3));
      const auto gv = rounded(ref::random_vector(C, ++seed, 0.5, 1.5));
      const auto bv = rounded(ref::random_vector(C, ++seed, -0.5, 0.5));
      const auto rm0 = rounded(ref::random_vector(C, ++seed, -0.2, 0.2));
      const auto rv0 = rounded(ref::random_vector(C, ++seed, 0.5, 2.0));
      const float momentum = 0.1f, eps = 1e-5f;
      const auto want = ref::batchnorm_train(xv, M, C, gv, bv, rm0, rv0, momentum, eps, ref_act(a));

      auto x = to_tensor(s, xv);
      auto gamma = to_tensor(Shape{C}, gv), beta = to_tensor(Shape{C}, bv);
      auto rm = to_tensor(Shape{C}, rm0), rv = to_tensor(Shape{C}, rv0);
      Tensor<Cpu> y, mean, invstd;
      cpu::batchnorm_forward_train(x, gamma, beta, rm, rv, momentum, eps, a, y, mean, invstd);
      std::vector<double> want_invstd(C);
      for (int64_t c = 0; c < C; ++c) want_invstd[c] = 1.0 / std::sqrt(want.var[c] + eps);
      SKN_CHECK_CLOSE(y.to_vector(), want.y, 2e-5, 2e-5);
      SKN_CHECK_CLOSE(mean.to_vector(), want.mean, 1e-6, 1e-6);
      SKN_CHECK_CLOSE(invstd.to_vector(), want_invstd, 1e-6, 1e-5);
      SKN_CHECK_CLOSE(rm.to_vector(), want.running_mean, 1e-6, 1e-6);
      SKN_CHECK_CLOSE(rv.to_vector(), want.running_var, 1e-6, 1e-5);
    }
  }
}

TEST_CASE("BatchNorm CPU backward: dx, dgamma, dbeta vs reference, gradients accumulate") {
  uint64_t seed = 100;
  for (const Shape& s : kShapes) {
    for (Act a : kActs) {
      CAPTURE(s.str());
      CAPTURE(act_name(a));
      const int64_t C = channels(s), M = s.numel() / C;
      const auto xv = rounded(ref::random_vector(s.numel(), ++seed, -2, 2));
      const auto gv = rounded(ref::random_vector(C, ++seed, 0.5, 1.5));
      const auto bv = rounded(ref::random_vector(C, ++seed, -0.5, 0.5));
      const auto dyv = rounded(ref::random_vector(s.numel(), ++seed));
      const auto prior = rounded(ref::random_vector(C, ++seed));  // gradients already accumulated
      const float eps = 1e-3f;
      auto want = ref::batchnorm_train_backward(xv, M, C, gv, bv, eps, ref_act(a), dyv);
      for (int64_t c = 0; c < C; ++c) {
        want.dgamma[c] += prior[c];
        want.dbeta[c] += prior[c];
      }
      auto x = to_tensor(s, xv), dy = to_tensor(s, dyv);
      auto gamma = to_tensor(Shape{C}, gv), beta = to_tensor(Shape{C}, bv);
      auto rm = Tensor<Cpu>::zeros(Shape{C}), rv = Tensor<Cpu>::filled(Shape{C}, 1.f);
      Tensor<Cpu> y, mean, invstd;
      cpu::batchnorm_forward_train(x, gamma, beta, rm, rv, 0.1f, eps, a, y, mean, invstd);
      auto dgamma = to_tensor(Shape{C}, prior), dbeta = to_tensor(Shape{C}, prior);
      auto dx = cpu::batchnorm_backward(dy, x, gamma, beta, mean, invstd, a, dgamma, dbeta);
      SKN_CHECK_CLOSE(dx.to_vector(), want.dx, 5e-5, 1e-4);
      SKN_CHECK_CLOSE(dgamma.to_vector(), want.dgamma, 5e-5, 1e-4);
      SKN_CHECK_CLOSE(dbeta.to_vector(), want.dbeta, 5e-5, 1e-4);
    }
  }
}

TEST_CASE("BatchNorm CPU inference uses the running statistics") {
  uint64_t seed = 300;
  for (const Shape& s : kShapes) {
    for (Act a : {Act::None, Act::ReLU, Act::Swish}) {
      CAPTURE(s.str());
      const int64_t C = channels(s), M = s.numel() / C;
      const auto xv = rounded(ref::random_vector(s.numel(), ++seed, -2, 2));
      const auto gv = rounded(ref::random_vector(C, ++seed, 0.5, 1.5));
      const auto bv = rounded(ref::random_vector(C, ++seed, -0.5, 0.5));
      const auto rmv = rounded(ref::random_vector(C, ++seed, -1, 1));
      const auto rvv = rounded(ref::random_vector(C, ++seed, 0.1, 3));
      const auto want = ref::batchnorm_infer(xv, M, C, gv, bv, rmv, rvv, 1e-3, ref_act(a));
      auto y = cpu::batchnorm_forward_infer(to_tensor(s, xv), to_tensor(Shape{C}, gv), to_tensor(Shape{C}, bv),
                                            to_tensor(Shape{C}, rmv), to_tensor(Shape{C}, rvv), 1e-3f, a);
      SKN_CHECK_CLOSE(y.to_vector(), want, 1e-5, 1e-5);
    }
  }
}

TEST_CASE("BatchNorm layer: running averages over several steps, then inference, eps and momentum") {
  const Shape s{3, 4, 5, 12};
  const int64_t C = 12, M = s.numel() / C;
  // Keras-style model settings: eps 1e-3, Keras momentum 0.99 == momentum 0.01 here.
  BatchNorm<Cpu> bn(C, 1e-3f, 0.01f);
  std::vector<double> rm(C, 0.0), rv(C, 1.0);
  const auto gv = rounded(ref::random_vector(C, 5, 0.5, 1.5));
  const auto bv = rounded(ref::random_vector(C, 6, -0.5, 0.5));
  bn.weight().value = to_tensor(Shape{C}, gv);
  bn.bias().value = to_tensor(Shape{C}, bv);
  for (int step = 0; step < 5; ++step) {
    const auto xv = rounded(ref::random_vector(s.numel(), 40 + step, -1, 4));
    const auto want = ref::batchnorm_train(xv, M, C, gv, bv, rm, rv, 0.01, 1e-3, ref::RefAct::None);
    auto y = bn.forward(to_tensor(s, xv), Mode::Train);
    SKN_CHECK_CLOSE(y.to_vector(), want.y, 2e-5, 2e-5);
    rm = want.running_mean;
    rv = want.running_var;
  }
  SKN_CHECK_CLOSE(bn.running_mean().to_vector(), rm, 1e-6, 1e-5);
  SKN_CHECK_CLOSE(bn.running_var().to_vector(), rv, 1e-6, 1e-5);
  const auto xv = rounded(ref::random_vector(s.numel(), 99, -1, 4));
  const auto before_mean = bn.running_mean().to_vector();
  auto y = bn.forward(to_tensor(s, xv), Mode::Infer);
  SKN_CHECK_CLOSE(y.to_vector(), ref::batchnorm_infer(xv, M, C, gv, bv, rm, rv, 1e-3, ref::RefAct::None), 1e-5,
                  1e-5);
  CHECK(bn.running_mean().to_vector() == before_mean);  // inference does not touch the buffers
}

TEST_CASE("BatchNorm fused with an activation equals BatchNorm followed by the activation layer") {
  const Shape s{2, 7, 5, 24};
  const int64_t C = 24;
  for (Act a : {Act::ReLU, Act::Swish, Act::Mish, Act::Sigmoid}) {
    CAPTURE(act_name(a));
    BatchNorm<Cpu> fused(C, 1e-3f, 0.1f, a), plain(C, 1e-3f, 0.1f);
    Activation<Cpu> act(a);
    for (auto* bn : {&fused, &plain}) {
      bn->weight().value = to_tensor(Shape{C}, ref::random_vector(C, 7, 0.5, 1.5));
      bn->bias().value = to_tensor(Shape{C}, ref::random_vector(C, 8, -0.5, 0.5));
    }
    auto x = to_tensor(s, ref::random_vector(s.numel(), 9, -2, 2));
    auto dy = to_tensor(s, ref::random_vector(s.numel(), 10));
    auto y_fused = fused.forward(x, Mode::Train);
    auto y_plain = act.forward(plain.forward(x, Mode::Train), Mode::Train);
    SKN_CHECK_CLOSE(y_fused.to_vector(), y_plain.to_vector(), 1e-6, 1e-6);
    auto dx_fused = fused.backward(dy);
    auto dx_plain = plain.backward(act.backward(dy));
    SKN_CHECK_CLOSE(dx_fused.to_vector(), dx_plain.to_vector(), 1e-6, 1e-5);
    SKN_CHECK_CLOSE(fused.weight().grad.to_vector(), plain.weight().grad.to_vector(), 1e-6, 1e-5);
    SKN_CHECK_CLOSE(fused.bias().grad.to_vector(), plain.bias().grad.to_vector(), 1e-6, 1e-5);
    auto yi_fused = fused.forward(x, Mode::Infer);
    auto yi_plain = act.forward(plain.forward(x, Mode::Infer), Mode::Infer);
    SKN_CHECK_CLOSE(yi_fused.to_vector(), yi_plain.to_vector(), 1e-6, 1e-6);
  }
}

TEST_CASE("BatchNorm layer keeps its training input (no normalised copy) and backward outlives the caller's x") {
  const Shape s{3, 5, 4, 10};
  const int64_t C = 10, M = s.numel() / C;
  const auto xv = rounded(ref::random_vector(s.numel(), 41, -1, 3));
  const auto dyv = rounded(ref::random_vector(s.numel(), 42));
  BatchNorm<Cpu> bn(C, 1e-3f, 0.1f, Act::Swish);
  {
    auto x = to_tensor(s, xv);
    bn.forward(x, Mode::Train);
    CHECK(x.buffer_is_shared());  // the layer holds x itself
    bn.forward(x, Mode::Infer);
    CHECK_FALSE(x.buffer_is_shared());  // and lets go of it in inference
  }
  bn.forward(to_tensor(s, xv), Mode::Train);  // the caller's handle is gone before backward
  auto dx = bn.backward(to_tensor(s, dyv));
  const auto gv = bn.weight().value.to_vector(), bv = bn.bias().value.to_vector();
  const auto want = ref::batchnorm_train_backward(xv, M, C, std::vector<double>(gv.begin(), gv.end()),
                                                  std::vector<double>(bv.begin(), bv.end()), 1e-3f,
                                                  ref_act(Act::Swish), dyv);
  SKN_CHECK_CLOSE(dx.to_vector(), want.dx, 5e-5, 1e-4);
  SKN_CHECK_CLOSE(bn.weight().grad.to_vector(), want.dgamma, 5e-5, 1e-4);
}

TEST_CASE("BatchNorm is bit-identical across runs and thread counts") {
  const Shape s{4, 19, 23, 40};  // big enough for many reduction chunks
  const int64_t C = 40;
  auto run = [&](int threads) {
    const int saved = max_threads();
    set_num_threads(threads);
    BatchNorm<Cpu> bn(C, 1e-5f, 0.1f, Act::ReLU);
    auto x = to_tensor(s, ref::random_vector(s.numel(), 21, -3, 5));
    auto dy = to_tensor(s, ref::random_vector(s.numel(), 22));
    auto y = bn.forward(x, Mode::Train).to_vector();
    auto dx = bn.backward(dy).to_vector();
    auto out = y;
    out.insert(out.end(), dx.begin(), dx.end());
    for (auto* t : {&bn.weight().grad, &bn.bias().grad, &bn.running_mean(), &bn.running_var()}) {
      auto v = t->to_vector();
      out.insert(out.end(), v.begin(), v.end());
    }
    set_num_threads(saved);
    return out;
  };
  const auto a = run(2), b = run(2), c = run(1);
  CHECK(a == b);
  CHECK(a == c);
}

TEST_CASE("BatchNorm layer surface: names, buffers, counts, errors") {
  BatchNorm<Cpu> bn(7, 1e-3f, 0.01f, Act::Swish);
  auto ps = bn.parameters();
  REQUIRE(ps.size() == 2);
  CHECK(ps[0].name == "weight");
  CHECK(ps[1].name == "bias");
  CHECK(ps[0].param->value.to_vector() == std::vector<float>(7, 1.0f));
  CHECK(ps[1].param->value.to_vector() == std::vector<float>(7, 0.0f));
  auto bs = bn.buffers();
  REQUIRE(bs.size() == 2);
  CHECK(bs[0].name == "running_mean");
  CHECK(bs[1].name == "running_var");
  CHECK(bs[1].value->to_vector() == std::vector<float>(7, 1.0f));
  CHECK(bn.parameter_count() == 14);  // buffers are not parameters
  CHECK(bn.name() == "BatchNorm 7 eps=0.001 momentum=0.01 +swish");
  CHECK(bn.output_shape(Shape{2, 3, 3, 7}) == Shape{2, 3, 3, 7});
  CHECK_THROWS_WITH_AS(bn.forward(Tensor<Cpu>::zeros(Shape{2, 3, 3, 8}), Mode::Train),
                       doctest::Contains("does not have 7 channels"), ShapeError);
  // One value per channel: no variance to normalise with (PyTorch refuses too).
  CHECK_THROWS_WITH_AS(bn.forward(Tensor<Cpu>::zeros(Shape{1, 1, 1, 7}), Mode::Train),
                       doctest::Contains("more than one value per channel"), ValueError);
  CHECK_NOTHROW(bn.forward(Tensor<Cpu>::zeros(Shape{2, 1, 1, 7}), Mode::Train));
  CHECK_NOTHROW(bn.forward(Tensor<Cpu>::zeros(Shape{1, 1, 1, 7}), Mode::Infer));
  CHECK_THROWS_AS(bn.backward(Tensor<Cpu>::zeros(Shape{2, 1, 1, 7})), Error);  // the last forward was Infer
  BatchNorm<Cpu> fresh(7);
  CHECK_THROWS_WITH_AS(fresh.backward(Tensor<Cpu>::zeros(Shape{2, 7})), doctest::Contains("backward without"),
                       Error);
  CHECK_THROWS_AS(BatchNorm<Cpu>(0), ValueError);
  CHECK_THROWS_AS(BatchNorm<Cpu>(4, 1e-5f, 1.5f), ValueError);
}

TEST_CASE("BatchNorm on a large tensor matches the reference: the reduction chunk cap, many row blocks") {
  // 2 x 128 x 128 x 65: 32768 rows would make 261 reduction chunks, more than the cap of 256, so
  // chunks are uneven; C = 65 leaves a vector remainder in every row.
  const Shape s{2, 128, 128, 65};
  const int64_t C = 65, M = s.numel() / C;
  const auto xv = rounded(ref::random_vector(s.numel(), 61, -1, 3));
  const auto dyv = rounded(ref::random_vector(s.numel(), 62));
  const auto gv = rounded(ref::random_vector(C, 63, 0.5, 1.5));
  const auto bv = rounded(ref::random_vector(C, 64, -0.5, 0.5));
  const auto want = ref::batchnorm_train(xv, M, C, gv, bv, std::vector<double>(C, 0.0), std::vector<double>(C, 1.0),
                                         0.1, 1e-5, ref::RefAct::ReLU);
  const auto wantg = ref::batchnorm_train_backward(xv, M, C, gv, bv, 1e-5, ref::RefAct::ReLU, dyv);
  BatchNorm<Cpu> bn(C, 1e-5f, 0.1f, Act::ReLU);
  bn.weight().value = to_tensor(Shape{C}, gv);
  bn.bias().value = to_tensor(Shape{C}, bv);
  auto y = bn.forward(to_tensor(s, xv), Mode::Train);
  SKN_CHECK_CLOSE(y.to_vector(), want.y, 2e-5, 2e-5);
  auto dx = bn.backward(to_tensor(s, dyv));
  SKN_CHECK_CLOSE(dx.to_vector(), wantg.dx, 5e-5, 1e-4);
  SKN_CHECK_CLOSE(bn.weight().grad.to_vector(), wantg.dgamma, 1e-3, 1e-4);
  SKN_CHECK_CLOSE(bn.bias().grad.to_vector(), wantg.dbeta, 1e-3, 1e-4);
  auto yi = bn.forward(to_tensor(s, xv), Mode::Infer);
  SKN_CHECK_CLOSE(yi.to_vector(),
                  ref::batchnorm_infer(xv, M, C, gv, bv, want.running_mean, want.running_var, 1e-5, ref::RefAct::ReLU),
                  2e-5, 2e-5);
}
