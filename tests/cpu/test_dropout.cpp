// Dropout and DropConnect: masks equal a reference recomputed from Philox (DESIGN.md §8 layout),
// keep-rate statistics, 1/keep scaling, backward uses the forward's mask, inference is the identity,
// streams and steps give independent masks.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include "reference/check.hpp"
#include "reference/dropout.hpp"
#include "reference/gradcheck.hpp"
#include "skinnet/layers/drop_connect.hpp"
#include "skinnet/layers/dropout.hpp"
#include "skinnet/layers/sequential.hpp"
#include "test_util.hpp"

using namespace skinnet;
using namespace skinnet::test;

namespace {
// Inputs bounded away from zero, so "dropped" (exactly 0) is unambiguous.
std::vector<double> nonzero_input(int64_t n, uint64_t seed) {
  auto v = ref::random_vector(n, seed, 0.5, 2.0);
  for (size_t i = 0; i < v.size(); i += 2) v[i] = -v[i];
  return v;
}
std::vector<double> times(const std::vector<double>& a, const std::vector<double>& b) {
  std::vector<double> r(a.size());
  for (size_t i = 0; i < a.size(); ++i) r[i] = static_cast<double>(static_cast<float>(a[i])) * b[i];
  return r;
}
}  // namespace

TEST_CASE("Dropout reference: central-difference gradient of x * mask") {
  // The op is linear in x; the check guards the claim that backward applies the same mask and scale.
  const auto mask = ref::dropout_mask(50, 0.3f, 11, 2, 5);
  const auto x = ref::random_vector(50, 1);
  const auto r = ref::random_vector(50, 2);
  auto loss = [&](const std::vector<double>& v) {
    double s = 0;
    for (size_t i = 0; i < v.size(); ++i) s += v[i] * mask[i] * r[i];
    return s;
  };
  std::vector<double> analytic(50);
  for (size_t i = 0; i < 50; ++i) analytic[i] = r[i] * mask[i];
  SKN_CHECK_GRAD(ref::grad_check(loss, x, analytic, "dropout dx"));
}

TEST_CASE("Dropout CPU mask equals the Philox reference, forward and backward") {
  // Sizes not multiples of 4 (partial Philox blocks) and spanning several parallel blocks.
  for (const Shape& s : {Shape{1, 3, 5, 7}, Shape{2, 33}, Shape{3, 31, 29, 17}}) {
    for (float rate : {0.1f, 0.5f, 0.8f}) {
      CAPTURE(s.str());
      CAPTURE(rate);
      const uint64_t seed = 0x1234567890ABCDEFull;
      const uint32_t stream = 7, step = 123;
      const auto mask = ref::dropout_mask(s.numel(), rate, seed, stream, step);
      const auto xv = nonzero_input(s.numel(), 3);
      const auto dyv = nonzero_input(s.numel(), 4);
      auto y = cpu::dropout_forward(to_tensor(s, xv), rate, seed, stream, step).to_vector();
      auto dx = cpu::dropout_backward(to_tensor(s, dyv), rate, seed, stream, step).to_vector();
      int64_t mismatched = 0;
      for (size_t i = 0; i < y.size(); ++i) mismatched += (y[i] == 0.0f) != (mask[i] == 0.0);
      CHECK(mismatched == 0);  // exactly the same elements dropped
      SKN_CHECK_CLOSE(y, times(xv, mask), 1e-6, 1e-6);
      SKN_CHECK_CLOSE(dx, times(dyv, mask), 1e-6, 1e-6);
    }
  }
}

TEST_CASE("Dropout keep-rate statistics and expectation") {
  const int64_t n = 200000;
  const Shape s{n};
  for (float rate : {0.2f, 0.5f}) {
    CAPTURE(rate);
    const auto y = cpu::dropout_forward(Tensor<Cpu>::filled(s, 1.0f), rate, 42, 3, 9).to_vector();
    int64_t kept = 0, badly_scaled = 0;
    double sum = 0;
    const float scale = 1.0f / (1.0f - rate);
    for (float v : y) {
      if (v != 0.0f) {
        ++kept;
        badly_scaled += v != scale;
      }
      sum += v;
    }
    CHECK(badly_scaled == 0);
    const double p = 1.0 - rate, sigma = std::sqrt(n * p * (1 - p));
    CHECK(std::fabs(kept - n * p) < 5 * sigma);
    CHECK(sum / n == doctest::Approx(1.0).epsilon(5 * sigma / (n * p)));
  }
}

TEST_CASE("Dropout layer: steps and streams change the mask, inference is the identity") {
  const Shape s{4, 8, 8, 16};
  const auto xv = nonzero_input(s.numel(), 5);
  Sequential<Cpu> seq;
  seq.emplace<Dropout<Cpu>>("a", 0.5f);
  seq.emplace<Dropout<Cpu>>("b", 0.5f);
  uint32_t next = 10;
  seq.set_rng(99, next);
  CHECK(next == 12);
  auto& a = dynamic_cast<Dropout<Cpu>&>(seq.child(0));
  auto& b = dynamic_cast<Dropout<Cpu>&>(seq.child(1));
  CHECK(a.stream() == 10);
  CHECK(b.stream() == 11);
  a.set_step(1);
  auto y1 = a.forward(to_tensor(s, xv), Mode::Train).to_vector();
  auto y1_again = a.forward(to_tensor(s, xv), Mode::Train).to_vector();
  CHECK(y1 == y1_again);  // same seed, stream, step: same mask (deterministic, resumable)
  SKN_CHECK_CLOSE(y1, times(xv, ref::dropout_mask(s.numel(), 0.5f, 99, 10, 1)), 1e-6, 1e-6);
  a.set_step(2);
  auto y2 = a.forward(to_tensor(s, xv), Mode::Train).to_vector();
  auto yb = b.forward(to_tensor(s, xv), Mode::Train).to_vector();
  int64_t diff_step = 0, diff_stream = 0;
  for (size_t i = 0; i < y1.size(); ++i) {
    diff_step += (y1[i] == 0.0f) != (y2[i] == 0.0f);
    diff_stream += (y1[i] == 0.0f) != (yb[i] == 0.0f);
  }
  // Independent masks at rate 0.5 differ in about half the elements.
  CHECK(diff_step > s.numel() / 3);
  CHECK(diff_stream > s.numel() / 3);
  auto yi = a.forward(to_tensor(s, xv), Mode::Infer).to_vector();
  CHECK(yi == to_tensor(s, xv).to_vector());
  Dropout<Cpu> none(0.0f);
  CHECK(none.forward(to_tensor(s, xv), Mode::Train).to_vector() == to_tensor(s, xv).to_vector());
  CHECK(none.backward(to_tensor(s, xv)).to_vector() == to_tensor(s, xv).to_vector());
  CHECK_THROWS_AS(Dropout<Cpu>(1.0f), ValueError);
  CHECK_THROWS_AS(Dropout<Cpu>(-0.1f), ValueError);
}

TEST_CASE("DropConnect drops whole samples with the Philox reference mask") {
  const Shape s{64, 3, 5, 7};
  const int64_t per = s.numel() / s.n();
  const float rate = 0.3f;
  const auto xv = nonzero_input(s.numel(), 6);
  const auto dyv = nonzero_input(s.numel(), 7);
  DropConnect<Cpu> dc(rate);
  uint32_t next = 4;
  dc.set_rng(2024, next);
  dc.set_step(17);
  CHECK(dc.stream() == 4);
  auto y = dc.forward(to_tensor(s, xv), Mode::Train).to_vector();
  auto dx = dc.backward(to_tensor(s, dyv)).to_vector();
  const auto m = ref::drop_connect_mask(s.n(), rate, 2024, 4, 17);
  std::vector<double> full(static_cast<size_t>(s.numel()));
  int64_t dropped = 0;
  for (int64_t n = 0; n < s.n(); ++n) {
    dropped += m[n] == 0.0;
    for (int64_t i = 0; i < per; ++i) full[n * per + i] = m[n];
  }
  CHECK(dropped > 0);             // this seed drops some samples...
  CHECK(dropped < s.n());         // ...and keeps others, so the test sees both
  SKN_CHECK_CLOSE(y, times(xv, full), 1e-6, 1e-6);
  SKN_CHECK_CLOSE(dx, times(dyv, full), 1e-6, 1e-6);
  CHECK(dc.forward(to_tensor(s, xv), Mode::Infer).to_vector() == to_tensor(s, xv).to_vector());
}

TEST_CASE("DropConnect keep-rate statistics over many samples") {
  const int64_t N = 20000;
  const float rate = 0.2f;
  auto y = cpu::drop_connect_forward(Tensor<Cpu>::filled(Shape{N, 2}, 1.0f), rate, 7, 1, 0).to_vector();
  int64_t kept = 0, split = 0;
  for (int64_t n = 0; n < N; ++n) {
    split += y[2 * n] != y[2 * n + 1];  // all-or-nothing per sample
    kept += y[2 * n] != 0.0f;
  }
  CHECK(split == 0);
  const double p = 1.0 - rate, sigma = std::sqrt(N * p * (1 - p));
  CHECK(std::fabs(kept - N * p) < 5 * sigma);
}
