// Optimizers (SGD, momentum, Nesterov, Adam, AdamW, weight decay), their checkpoint state, gradient
// clipping and class weights, against hand computations and the float64 reference in
// tests/reference/optim.hpp.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <map>
#include <numeric>
#include <string>
#include <vector>

#include "reference/check.hpp"
#include "reference/optim.hpp"
#include "skinnet/core/parallel.hpp"
#include "skinnet/layers/module.hpp"
#include "skinnet/train/adam.hpp"
#include "skinnet/train/adamw.hpp"
#include "skinnet/train/class_weights.hpp"
#include "skinnet/train/clip.hpp"
#include "skinnet/train/sgd.hpp"

using namespace skinnet;

namespace {

// A module that only holds parameters: a 3x4 weight and a bias (trainable), a frozen 2x2 weight, and
// optionally a large tensor that spans several update chunks.
class FakeModule final : public Module<Cpu> {
 public:
  explicit FakeModule(int64_t big = 0) : weight(Shape{3, 4}), bias(Shape{4}), frozen(Shape{2, 2}) {
    fill(weight.value, 0.5, 0.3);
    fill(bias.value, -0.2, 0.7);
    fill(frozen.value, 1.0, 1.1);
    frozen.trainable = false;
    if (big > 0) {
      large = Parameter<Cpu>(Shape{big});
      fill(large.value, 0.1, 0.013);
      has_large = true;
    }
  }
  Tensor<Cpu> forward(const Tensor<Cpu>& x, Mode) override { return x.clone(); }
  Tensor<Cpu> backward(const Tensor<Cpu>& dy) override { return dy.clone(); }
  std::string name() const override { return "FakeModule"; }
  Shape output_shape(const Shape& in) const override { return in; }
  void collect_parameters(const std::string& prefix, std::vector<NamedParameter<Cpu>>& out) override {
    out.push_back({prefix + "fc.weight", &weight});
    out.push_back({prefix + "fc.bias", &bias});
    out.push_back({prefix + "stem.weight", &frozen});
    if (has_large) out.push_back({prefix + "big.weight", &large});
  }

  static void fill(Tensor<Cpu>& t, double offset, double freq) {
    for (int64_t i = 0; i < t.numel(); ++i) t[i] = static_cast<float>(offset + std::sin(freq * static_cast<double>(i + 1)));
  }

  Parameter<Cpu> weight, bias, frozen, large;
  bool has_large = false;
};

// Gradient of step t for element i: mixed signs and magnitudes from 1e-4 to 1, so eps and the
// square root in Adam matter.
float grad_value(int64_t i, int t) {
  const double mag = std::pow(10.0, -static_cast<double>((i + t) % 5));
  return static_cast<float>(mag * std::sin(0.9 * static_cast<double>(i) + 1.7 * t + 0.3));
}
void set_grads(FakeModule& m, int t) {
  for (auto& p : m.parameters())
    for (int64_t i = 0; i < p.param->grad.numel(); ++i) p.param->grad[i] = grad_value(i + 7 * static_cast<int64_t>(p.name.size()), t);
}
std::vector<double> to_double(const Tensor<Cpu>& t) {
  std::vector<double> v(static_cast<size_t>(t.numel()));
  for (int64_t i = 0; i < t.numel(); ++i) v[static_cast<size_t>(i)] = t[i];
  return v;
}
std::vector<float> values(const Tensor<Cpu>& t) { return t.to_vector(); }
bool bit_equal(const Tensor<Cpu>& a, const Tensor<Cpu>& b) {
  return a.shape() == b.shape() && std::memcmp(a.data(), b.data(), a.bytes()) == 0;
}

// Runs `steps` updates of optimizer `opt` on module m and of one float64 reference per trainable
// parameter, comparing every weight after every step.
template <class Ref, class Opt>
void compare_with_reference(FakeModule& m, Opt& opt, const Ref& proto, int steps, bool skip_decay_1d = false) {
  std::map<std::string, Ref> refs;
  for (auto& p : m.parameters()) {
    if (!p.param->trainable) continue;
    Ref r = proto;
    if (skip_decay_1d && p.param->value.shape().rank() == 1) r.weight_decay = 0.0;
    r.w = to_double(p.param->value);
    refs.emplace(p.name, r);
  }
  const std::vector<float> frozen_before = values(m.frozen.value);
  for (int t = 1; t <= steps; ++t) {
    set_grads(m, t);
    opt.step();
    for (auto& p : m.parameters()) {
      if (!p.param->trainable) continue;
      Ref& r = refs.at(p.name);
      r.step(to_double(p.param->grad));
      INFO("parameter ", p.name, " after step ", t);
      SKN_CHECK_CLOSE(values(p.param->value), r.w, 2e-6, 2e-5);
    }
  }
  CHECK(values(m.frozen.value) == frozen_before);
}

}  // namespace

TEST_CASE("SGD with momentum: two steps computed by hand") {
  // w = 1, g = 0.5 twice, lr 0.1, momentum 0.9.
  //   classic:  b1 = 0.5, w1 = 0.95;  b2 = 0.9 * 0.5 + 0.5 = 0.95, w2 = 0.95 - 0.095 = 0.855
  //   Nesterov: b1 = 0.5, w1 = 1 - 0.1 * (0.5 + 0.45) = 0.905;  b2 = 0.95, w2 = 0.905 - 0.1 * (0.5 + 0.855) = 0.7695
  for (bool nesterov : {false, true}) {
    Parameter<Cpu> p(Shape{1});
    p.value[0] = 1.f;
    p.grad[0] = 0.5f;
    SgdOptions o;
    o.lr = 0.1;
    o.momentum = 0.9;
    o.nesterov = nesterov;
    Sgd<Cpu> opt({{"w", &p}}, o);
    opt.step();
    CHECK(p.value[0] == doctest::Approx(nesterov ? 0.905 : 0.95).epsilon(1e-6));
    opt.step();
    CHECK(p.value[0] == doctest::Approx(nesterov ? 0.7695 : 0.855).epsilon(1e-6));
    auto state = opt.state_tensors();
    REQUIRE(state.size() == 1);
    CHECK(state[0].name == "optim.w.momentum");
    CHECK((*state[0].value)[0] == doctest::Approx(0.95).epsilon(1e-6));
  }
}

TEST_CASE("Adam: first step moves each weight by lr against the gradient sign (bias correction)") {
  // Step 1: m_hat = g, v_hat = g^2, so the update is lr * g / (|g| + eps) ~= lr * sign(g) whatever |g|.
  // Without bias correction it would be lr * 0.1 g / (0.0316 |g|) ~= 3.16 lr.
  Parameter<Cpu> p(Shape{3});
  const float g[3] = {2.0f, -1e-3f, 0.25f};
  for (int i = 0; i < 3; ++i) {
    p.value[i] = 1.f;
    p.grad[i] = g[i];
  }
  AdamOptions o;
  o.lr = 0.01;
  Adam<Cpu> opt({{"w", &p}}, o);
  opt.step();
  for (int i = 0; i < 3; ++i) {
    const double expect = 1.0 - 0.01 * g[i] / (std::fabs(g[i]) + 1e-8);
    CHECK(p.value[i] == doctest::Approx(expect).epsilon(1e-6));
  }
}

TEST_CASE("SGD variants match the float64 reference for several steps") {
  struct Case {
    double momentum, dampening, wd;
    bool nesterov, skip1d;
  };
  for (const Case& c : {Case{0.0, 0.0, 0.0, false, false}, Case{0.0, 0.0, 0.05, false, false},
                        Case{0.9, 0.0, 0.0, false, false}, Case{0.9, 0.1, 1e-2, false, false},
                        Case{0.9, 0.0, 1e-2, true, false}, Case{0.8, 0.0, 0.1, true, true}}) {
    INFO("momentum ", c.momentum, " dampening ", c.dampening, " wd ", c.wd, " nesterov ", c.nesterov);
    FakeModule m;
    SgdOptions o;
    o.lr = 0.05;
    o.momentum = c.momentum;
    o.dampening = c.dampening;
    o.weight_decay = c.wd;
    o.nesterov = c.nesterov;
    o.skip_decay_1d = c.skip1d;
    Sgd<Cpu> opt(m.parameters(), o);
    ref::SgdRef proto;
    proto.lr = o.lr;
    proto.momentum = c.momentum;
    proto.dampening = c.dampening;
    proto.weight_decay = c.wd;
    proto.nesterov = c.nesterov;
    compare_with_reference(m, opt, proto, 6, c.skip1d);
  }
}

TEST_CASE("Adam (L2) and AdamW (decoupled decay) match the float64 reference for several steps") {
  for (bool decoupled : {false, true}) {
    for (double wd : {0.0, 0.1}) {
      INFO((decoupled ? "adamw" : "adam"), " weight_decay ", wd);
      FakeModule m;
      ref::AdamRef proto;
      proto.lr = 0.02;
      proto.beta1 = 0.8;
      proto.beta2 = 0.99;
      proto.eps = 1e-6;
      proto.weight_decay = wd;
      proto.decoupled = decoupled;
      if (decoupled) {
        AdamWOptions o;
        o.lr = proto.lr;
        o.beta1 = proto.beta1;
        o.beta2 = proto.beta2;
        o.eps = proto.eps;
        o.weight_decay = wd;
        AdamW<Cpu> opt(m.parameters(), o);
        CHECK(opt.kind() == "adamw");
        compare_with_reference(m, opt, proto, 8);
      } else {
        AdamOptions o;
        o.lr = proto.lr;
        o.beta1 = proto.beta1;
        o.beta2 = proto.beta2;
        o.eps = proto.eps;
        o.weight_decay = wd;
        Adam<Cpu> opt(m.parameters(), o);
        compare_with_reference(m, opt, proto, 8);
      }
    }
  }
}

TEST_CASE("AdamW decays decoupled: with zero gradient the weight shrinks by exactly lr * wd") {
  // g = 0 gives m = v = 0 and an Adam step of 0, so only the decay acts: w * (1 - lr * wd) per step.
  // Adam's L2 with g = 0 instead moves by ~lr (the decay term normalised by its own magnitude).
  Parameter<Cpu> p(Shape{2});
  p.value[0] = 2.f;
  p.value[1] = -4.f;
  AdamWOptions o;
  o.lr = 0.1;
  o.weight_decay = 0.5;
  AdamW<Cpu> opt({{"w", &p}}, o);
  opt.step();
  opt.step();
  CHECK(p.value[0] == doctest::Approx(2.0 * 0.95 * 0.95).epsilon(1e-6));
  CHECK(p.value[1] == doctest::Approx(-4.0 * 0.95 * 0.95).epsilon(1e-6));

  Parameter<Cpu> q(Shape{1});
  q.value[0] = 2.f;
  AdamOptions l2;
  l2.lr = 0.1;
  l2.weight_decay = 0.5;
  Adam<Cpu> adam({{"w", &q}}, l2);
  adam.step();
  CHECK(q.value[0] == doctest::Approx(1.9).epsilon(1e-5));  // 2 - 0.1 * sign(0.5 * 2)
}

TEST_CASE("Optimizer updates of a tensor spanning several parallel chunks match the reference") {
  FakeModule m(40000);  // > 2 chunks of 16384 elements
  AdamWOptions o;
  o.lr = 0.01;
  AdamW<Cpu> opt(m.parameters(), o);
  ref::AdamRef proto;
  proto.lr = 0.01;
  proto.weight_decay = 0.01;
  proto.decoupled = true;
  compare_with_reference(m, opt, proto, 3);
}

TEST_CASE("Frozen parameters are untouched and get no state, unfreezing starts their own step count") {
  FakeModule m;
  AdamOptions o;
  o.lr = 0.05;
  Adam<Cpu> opt(m.parameters(), o);
  const Tensor<Cpu> frozen_value = m.frozen.value.clone();
  for (int t = 1; t <= 3; ++t) {
    set_grads(m, t);
    const Tensor<Cpu> frozen_grad = m.frozen.grad.clone();
    opt.step();
    CHECK(bit_equal(m.frozen.value, frozen_value));
    CHECK(bit_equal(m.frozen.grad, frozen_grad));
  }
  CHECK(opt.step_count() == 3);
  for (const auto& s : opt.state_tensors()) CHECK(s.name.find("stem.weight") == std::string::npos);
  CHECK(opt.state_tensors().size() == 4);  // m and v of fc.weight and fc.bias
  for (const auto& [name, value] : opt.state_counters()) CHECK(name != "optim.stem.weight.step");

  // Unfreeze: its first update must use the bias correction of step 1 (a fresh Adam), not of step 4.
  m.frozen.trainable = true;
  ref::AdamRef r;
  r.lr = 0.05;
  r.w = to_double(m.frozen.value);
  set_grads(m, 4);
  opt.step();
  r.step(to_double(m.frozen.grad));
  SKN_CHECK_CLOSE(values(m.frozen.value), r.w, 1e-6, 1e-5);
  bool found = false;
  for (const auto& [name, value] : opt.state_counters())
    if (name == "optim.stem.weight.step") {
      found = true;
      CHECK(value == 1);
    }
  CHECK(found);
}

TEST_CASE("Optimizer state saved and restored continues bit-exactly") {
  auto run = [](auto make_opt) {
    FakeModule a;
    auto opt_a = make_opt(a);
    for (int t = 1; t <= 3; ++t) {
      set_grads(a, t);
      opt_a.step();
    }
    // "Checkpoint": weights and optimizer state copied to host tensors, counters as integers.
    std::vector<std::pair<std::string, Tensor<Cpu>>> saved;
    for (auto& s : opt_a.state_tensors()) saved.emplace_back(s.name, s.value->clone());
    const auto counters = opt_a.state_counters();

    FakeModule b;
    auto opt_b = make_opt(b);
    set_grads(b, 99);
    opt_b.step();  // some unrelated history, which the restore must wipe
    auto pa = a.parameters();
    auto pb = b.parameters();
    for (size_t i = 0; i < pa.size(); ++i) pb[i].param->value = pa[i].param->value.clone();
    opt_b.clear_state();
    for (auto& [name, t] : saved) opt_b.restore_state_tensor(name, t);
    for (auto& [name, v] : counters) opt_b.restore_state_counter(name, v);
    opt_b.check_state();
    CHECK(opt_b.step_count() == 3);
    CHECK(opt_b.state_counters() == counters);

    for (int t = 4; t <= 6; ++t) {
      set_grads(a, t);
      set_grads(b, t);
      opt_a.step();
      opt_b.step();
    }
    pa = a.parameters();
    pb = b.parameters();
    for (size_t i = 0; i < pa.size(); ++i) {
      INFO(pa[i].name);
      CHECK(bit_equal(pa[i].param->value, pb[i].param->value));
    }
    auto sa = opt_a.state_tensors();
    auto sb = opt_b.state_tensors();
    REQUIRE(sa.size() == sb.size());
    for (size_t i = 0; i < sa.size(); ++i) {
      CHECK(sa[i].name == sb[i].name);
      CHECK(bit_equal(*sa[i].value, *sb[i].value));
    }
  };
  SUBCASE("adamw") {
    run([](FakeModule& m) {
      AdamWOptions o;
      o.lr = 0.03;
      return AdamW<Cpu>(m.parameters(), o);
    });
  }
  SUBCASE("sgd nesterov") {
    run([](FakeModule& m) {
      SgdOptions o;
      o.lr = 0.1;
      o.momentum = 0.9;
      o.nesterov = true;
      o.weight_decay = 1e-3;
      return Sgd<Cpu>(m.parameters(), o);
    });
  }
}

TEST_CASE("Optimizer state restore rejects incomplete, unknown and misshapen entries") {
  FakeModule m;
  Adam<Cpu> opt(m.parameters());
  set_grads(m, 1);
  opt.step();
  std::map<std::string, Tensor<Cpu>> saved;
  for (auto& s : opt.state_tensors()) saved.emplace(s.name, s.value->clone());
  const auto counters = opt.state_counters();

  opt.clear_state();
  CHECK(opt.state_tensors().empty());
  for (auto& [name, v] : counters) opt.restore_state_counter(name, v);
  opt.restore_state_tensor("optim.fc.weight.m", saved.at("optim.fc.weight.m"));
  CHECK_THROWS_WITH_AS(opt.check_state(), doctest::Contains("fc.weight"), ValueError);  // v and bias missing
  CHECK_THROWS_AS(opt.step(), ValueError);
  CHECK_THROWS_WITH_AS(opt.restore_state_tensor("optim.fc.weight.momentum", saved.at("optim.fc.weight.m")),
                       doctest::Contains("optim.fc.weight.momentum"), ValueError);
  CHECK_THROWS_AS(opt.restore_state_tensor("optim.nothere.m", saved.at("optim.fc.weight.m")), ValueError);
  CHECK_THROWS_WITH_AS(opt.restore_state_tensor("optim.fc.bias.m", saved.at("optim.fc.weight.m")),
                       doctest::Contains("fc.bias"), ShapeError);
  CHECK_THROWS_AS(opt.restore_state_counter("optim.nothere.step", 1), ValueError);
  CHECK_THROWS_AS(opt.restore_state_counter("optim.fc.weight.step", -1), ValueError);

  // State without a step count is inconsistent too.
  opt.clear_state();
  for (auto& [name, t] : saved) opt.restore_state_tensor(name, t);
  CHECK_THROWS_WITH_AS(opt.check_state(), doctest::Contains("step missing"), ValueError);
}

TEST_CASE("Optimizer configuration errors name the problem") {
  FakeModule m;
  SgdOptions nesterov_without_momentum;
  nesterov_without_momentum.nesterov = true;
  CHECK_THROWS_WITH_AS(Sgd<Cpu>(m.parameters(), nesterov_without_momentum), doctest::Contains("Nesterov"),
                       ValueError);
  AdamOptions bad_beta;
  bad_beta.beta2 = 1.0;
  CHECK_THROWS_WITH_AS(Adam<Cpu>(m.parameters(), bad_beta), doctest::Contains("beta2"), ValueError);
  auto dup = m.parameters();
  dup.push_back(dup[0]);
  CHECK_THROWS_WITH_AS(Adam<Cpu>(dup, AdamOptions{}), doctest::Contains("appears twice"), ValueError);
  Adam<Cpu> opt(m.parameters());
  CHECK_THROWS_AS(opt.set_lr(-1.0), ValueError);
  m.bias.grad = Tensor<Cpu>::zeros(Shape{5});
  CHECK_THROWS_WITH_AS(opt.step(), doctest::Contains("fc.bias"), ShapeError);
}

TEST_CASE("Gradient clipping by global norm") {
  FakeModule m;
  for (auto& p : m.parameters()) p.param->grad.fill_zero();
  // Trainable gradients: (3, 4) in the weight and 12 in the bias -> norm sqrt(9 + 16 + 144) = 13.
  m.weight.grad[0] = 3.f;
  m.weight.grad[5] = 4.f;
  m.bias.grad[2] = 12.f;
  m.frozen.grad[0] = 1000.f;  // frozen: neither counted nor scaled
  auto params = m.parameters();

  SUBCASE("below the threshold nothing changes") {
    const Tensor<Cpu> before = m.weight.grad.clone();
    CHECK(clip_grad_norm(params, 20.0) == doctest::Approx(13.0).epsilon(1e-12));
    CHECK(bit_equal(m.weight.grad, before));
  }
  SUBCASE("above the threshold every gradient is scaled by max_norm / (norm + 1e-6)") {
    CHECK(clip_grad_norm(params, 6.5) == doctest::Approx(13.0).epsilon(1e-12));
    const double f = 6.5 / (13.0 + 1e-6);
    CHECK(m.weight.grad[0] == doctest::Approx(3.0 * f).epsilon(1e-6));
    CHECK(m.weight.grad[5] == doctest::Approx(4.0 * f).epsilon(1e-6));
    CHECK(m.bias.grad[2] == doctest::Approx(12.0 * f).epsilon(1e-6));
    CHECK(m.frozen.grad[0] == 1000.f);
    CHECK(grad_global_norm(params) == doctest::Approx(6.5).epsilon(1e-6));
  }
  SUBCASE("non-finite gradients are reported, not spread") {
    m.bias.grad[1] = NAN;
    const Tensor<Cpu> before = m.weight.grad.clone();
    CHECK(std::isnan(clip_grad_norm(params, 1.0)));
    CHECK(bit_equal(m.weight.grad, before));
    CHECK_THROWS_WITH_AS(clip_grad_norm(params, 1.0, true), doctest::Contains("fc.bias"), NumericError);
  }
  CHECK_THROWS_AS(clip_grad_norm(params, 0.0), ValueError);
}

TEST_CASE("Global gradient norm of a large tensor equals a float64 sum") {
  FakeModule m(100003);
  set_grads(m, 2);
  double sum = 0;
  for (auto& p : m.parameters())
    if (p.param->trainable)
      for (int64_t i = 0; i < p.param->grad.numel(); ++i) sum += double(p.param->grad[i]) * double(p.param->grad[i]);
  CHECK(grad_global_norm(m.parameters()) == doctest::Approx(std::sqrt(sum)).epsilon(1e-12));

  // Fixed-order reduction: bit-identical whatever the thread count.
  const int threads = max_threads();
  set_num_threads(1);
  const double one = grad_global_norm(m.parameters());
  set_num_threads(2);
  const double two = grad_global_norm(m.parameters());
  set_num_threads(threads);
  CHECK(std::memcmp(&one, &two, sizeof one) == 0);
}

TEST_CASE("Class weights: inverse frequency normalised to mean weight 1 over samples") {
  std::vector<int> labels;
  for (int c : {0, 1, 3})
    for (int i = 0; i < (c == 0 ? 10 : c == 1 ? 30 : 60); ++i) labels.push_back(c);
  const auto counts = class_counts(labels, 4);
  CHECK(counts == std::vector<int64_t>{10, 30, 0, 60});

  // scikit-learn "balanced": N / (K_present * n_c) = 100 / (3 n_c); absent class 2 -> 0.
  const auto w = inverse_frequency_weights(counts);
  CHECK(w[0] == doctest::Approx(10.0 / 3.0).epsilon(1e-12));
  CHECK(w[1] == doctest::Approx(10.0 / 9.0).epsilon(1e-12));
  CHECK(w[2] == 0.0);
  CHECK(w[3] == doctest::Approx(5.0 / 9.0).epsilon(1e-12));

  // power 0.5: proportional to 1/sqrt(n_c), and sum_c n_c w_c = N still.
  const auto s = inverse_frequency_weights(counts, 0.5);
  CHECK(s[0] / s[1] == doctest::Approx(std::sqrt(3.0)).epsilon(1e-12));
  CHECK(10 * s[0] + 30 * s[1] + 60 * s[3] == doctest::Approx(100.0).epsilon(1e-12));
  CHECK(s[0] == doctest::Approx(100.0 / (std::sqrt(10.0) + std::sqrt(30.0) + std::sqrt(60.0)) / std::sqrt(10.0)).epsilon(1e-12));

  CHECK_THROWS_WITH_AS(class_counts({0, 4}, 4), doctest::Contains("sample 1"), DataError);
  CHECK_THROWS_AS(inverse_frequency_weights({0, 0}), DataError);
}
