// Softmax cross-entropy: float64 reference gradient check, CPU op and loss wrapper vs reference with
// label smoothing and class weights, numerical stability, known values, errors.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "reference/check.hpp"
#include "reference/gradcheck.hpp"
#include "reference/softmax_ce.hpp"
#include "skinnet/train/loss.hpp"
#include "test_util.hpp"

using namespace skinnet;
using namespace skinnet::test;

TEST_CASE("Softmax cross-entropy reference: central-difference gradient with smoothing and weights") {
  const int64_t N = 4, K = 5;
  const auto z = ref::random_vector(N * K, 1, -3, 3);
  const std::vector<int> labels = {0, 3, 3, 4};
  for (double eps : {0.0, 0.1}) {
    for (bool weighted : {false, true}) {
      const std::vector<double> w = weighted ? std::vector<double>{0.5, 2.0, 1.0, 3.0, 0.25} : std::vector<double>{};
      auto loss = [&](const std::vector<double>& v) { return ref::softmax_cross_entropy(v, N, K, labels, w, eps).loss; };
      SKN_CHECK_GRAD(ref::grad_check(loss, z, ref::softmax_cross_entropy(z, N, K, labels, w, eps).dlogits, "ce dz"));
    }
  }
}

TEST_CASE("Softmax cross-entropy CPU vs reference") {
  struct Case {
    int64_t N, K;
    float eps;
    bool weighted;
  };
  uint64_t seed = 10;
  for (const Case& c : {Case{1, 2, 0.0f, false}, Case{8, 7, 0.1f, false}, Case{5, 7, 0.0f, true},
                        Case{16, 10, 0.2f, true}, Case{3, 1000, 0.1f, false}}) {
    CAPTURE(c.N);
    CAPTURE(c.K);
    CAPTURE(c.eps);
    const auto zv = rounded(ref::random_vector(c.N * c.K, ++seed, -5, 5));
    std::vector<int> labels(c.N);
    std::vector<int32_t> labels32(c.N);
    for (int64_t n = 0; n < c.N; ++n) labels[n] = labels32[n] = static_cast<int>((n * 7 + 3) % c.K);
    std::vector<float> wf;
    std::vector<double> wd;
    if (c.weighted)
      for (int64_t k = 0; k < c.K; ++k) {
        wf.push_back(0.25f + 0.5f * static_cast<float>(k % 4));
        wd.push_back(wf.back());
      }
    const auto want = ref::softmax_cross_entropy(zv, c.N, c.K, labels, wd, c.eps);
    SoftmaxCrossEntropy<Cpu> loss({c.eps, wf});
    const float got = loss.forward(to_tensor(Shape{c.N, c.K}, zv), labels32);
    CHECK(got == doctest::Approx(want.loss).epsilon(1e-5));
    SKN_CHECK_CLOSE(loss.backward().to_vector(), want.dlogits, 1e-7, 1e-4);
  }
}

TEST_CASE("Softmax cross-entropy: known values and stability at huge logits") {
  std::vector<float> dummy;
  Tensor<Cpu> d;
  // Uniform logits: loss = log K whatever the smoothing, gradient p - q.
  const float l = cpu::softmax_cross_entropy(Tensor<Cpu>::zeros(Shape{2, 4}), {1, 2}, {}, 0.1f, d);
  CHECK(l == doctest::Approx(std::log(4.0)).epsilon(1e-6));
  CHECK(d[1] == doctest::Approx((0.25 - (0.9 + 0.025)) / 2).epsilon(1e-5));
  CHECK(d[0] == doctest::Approx((0.25 - 0.025) / 2).epsilon(1e-5));
  // Logits of 1e4: a naive exp overflows; the stable form gives the exact answer.
  const std::vector<double> zv = {1e4, 0, -1e4, 0, 1e4, 1e4};
  const float big = cpu::softmax_cross_entropy(to_tensor(Shape{2, 3}, zv), {0, 1}, {}, 0.0f, d);
  CHECK(std::isfinite(big));
  CHECK(big == doctest::Approx((0.0 + std::log(2.0)) / 2).epsilon(1e-6));
  for (float v : d.to_vector()) CHECK(std::isfinite(v));
  CHECK(d[3] == doctest::Approx(0.0).epsilon(1e-6));
  CHECK(d[4] == doctest::Approx(-0.25).epsilon(1e-6));
}

TEST_CASE("Softmax cross-entropy errors name the problem") {
  Tensor<Cpu> d;
  auto z = Tensor<Cpu>::zeros(Shape{2, 3});
  CHECK_THROWS_WITH_AS(cpu::softmax_cross_entropy(z, {0, 3}, {}, 0.0f, d), doctest::Contains("label 3 of sample 1"),
                       ValueError);
  CHECK_THROWS_WITH_AS(cpu::softmax_cross_entropy(z, {0}, {}, 0.0f, d), doctest::Contains("1 labels for a batch of 2"),
                       ShapeError);
  CHECK_THROWS_WITH_AS(cpu::softmax_cross_entropy(z, {0, 1}, {1.f, 2.f}, 0.0f, d),
                       doctest::Contains("2 class weights for 3 classes"), ValueError);
  CHECK_THROWS_AS(cpu::softmax_cross_entropy(Tensor<Cpu>::zeros(Shape{2, 3, 1}), {0, 1}, {}, 0.0f, d), ShapeError);
  CHECK_THROWS_AS(SoftmaxCrossEntropy<Cpu>({1.5f, {}}), ValueError);
  SoftmaxCrossEntropy<Cpu> fresh;
  CHECK_THROWS_AS(fresh.backward(), Error);
}
