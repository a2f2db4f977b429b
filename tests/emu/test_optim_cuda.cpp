// The Cuda optimizer ops (kernels/optim.cuh) through the emulator: sgd_update / adam_update against
// the CPU ops element for element, SGD / Adam / AdamW optimizer steps on a Dense<Cuda> equal to the
// same steps on Dense<Cpu> and to the float64 reference optimizers, the deterministic sum of squares
// against a float64 sum (identical bits in every thread order), grad_scale, and gradient clipping.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <vector>

#include "cuda_ops_util.hpp"
#include "reference/check.hpp"
#include "reference/optim.hpp"
#include "skinnet/cpu/optim.hpp"
#include "skinnet/cuda.hpp"
#include "skinnet/cuda/dense.hpp"
#include "skinnet/cuda/optim.hpp"
#include "skinnet/layers/dense.hpp"
#include "skinnet/train/adam.hpp"
#include "skinnet/train/adamw.hpp"
#include "skinnet/train/clip.hpp"
#include "skinnet/train/sgd.hpp"

using namespace skinnet;
using namespace skinnet::cuda_test;

// One parameter tensor's update on both devices from the same state; every output compared.
TEST_CASE("cuda sgd_update and adam_update equal the CPU ops for every variant") {
  const int64_t n = 1000;  // several thread blocks, a ragged tail
  const auto wv = random_rounded(n, 1), gv = random_rounded(n, 2), bv = random_rounded(n, 3);
  const auto mv = random_rounded(n, 4, -0.1, 0.1), vv = random_rounded(n, 5, 0.0, 0.01);
  for (float momentum : {0.f, 0.9f})
    for (bool nesterov : {false, true})
      for (bool first : {false, true}) {
        CAPTURE(momentum);
        CAPTURE(nesterov);
        CAPTURE(first);
        const SgdStep s{0.05f, momentum, 0.1f, 0.01f, nesterov, first};
        const Outputs got = in_all_thread_orders([&] {
          auto w = tensor_of<Cuda>(Shape{n}, wv), b = tensor_of<Cuda>(Shape{n}, bv);
          Tensor<Cuda> none;
          cuda::sgd_update(w, tensor_of<Cuda>(Shape{n}, gv), momentum != 0.f ? b : none, s);
          return Outputs{w.to_vector(), b.to_vector()};
        });
        auto w = tensor_of<Cpu>(Shape{n}, wv), b = tensor_of<Cpu>(Shape{n}, bv);
        Tensor<Cpu> none;
        cpu::sgd_update(w, tensor_of<Cpu>(Shape{n}, gv), momentum != 0.f ? b : none, s);
        SKN_CHECK_CLOSE(got[0], w.to_vector(), 1e-7, 1e-6);
        SKN_CHECK_CLOSE(got[1], b.to_vector(), 1e-7, 1e-6);
        if (momentum == 0.f) CHECK(same_bits(got[1], tensor_of<Cpu>(Shape{n}, bv).to_vector()));  // untouched
      }
  for (bool decoupled : {false, true}) {
    CAPTURE(decoupled);
    AdamStep s;
    s.beta1 = 0.8f;
    s.beta2 = 0.99f;
    s.eps = 1e-6f;
    s.step_size = 0.02f / (1.f - 0.8f * 0.8f);
    s.bias_correction2_sqrt = std::sqrt(1.f - 0.99f * 0.99f);
    s.l2 = decoupled ? 0.f : 0.1f;
    s.decay_factor = decoupled ? 1.f - 0.02f * 0.1f : 1.f;
    const Outputs got = in_all_thread_orders([&] {
      auto w = tensor_of<Cuda>(Shape{n}, wv), m = tensor_of<Cuda>(Shape{n}, mv), v = tensor_of<Cuda>(Shape{n}, vv);
      cuda::adam_update(w, tensor_of<Cuda>(Shape{n}, gv), m, v, s);
      return Outputs{w.to_vector(), m.to_vector(), v.to_vector()};
    });
    auto w = tensor_of<Cpu>(Shape{n}, wv), m = tensor_of<Cpu>(Shape{n}, mv), v = tensor_of<Cpu>(Shape{n}, vv);
    cpu::adam_update(w, tensor_of<Cpu>(Shape{n}, gv), m, v, s);
    SKN_CHECK_CLOSE(got[0], w.to_vector(), 1e-7, 1e-6);
    SKN_CHECK_CLOSE(got[1], m.to_vector(), 1e-8, 1e-6);
    SKN_CHECK_CLOSE(got[2], v.to_vector(), 1e-9, 1e-6);
  }
}

namespace {

// The device tag of a parameter list.
template <class List>
struct DeviceOfList;
template <class D>
struct DeviceOfList<std::vector<NamedParameter<D>>> {
  using type = D;
};
template <class List>
using DeviceOf = typename DeviceOfList<List>::type;

// Trains the weights of a Dense layer with fixed gradients on both devices and the float64 reference.
template <class MakeOpt, class Proto>
void compare_optimizers(MakeOpt make, Proto proto, int steps) {
  const int64_t in = 9, out = 5;
  const auto wv = random_rounded(in * out, 11), bv = random_rounded(out, 12);
  Dense<Cpu> host(in, out);
  Dense<Cuda> dev(in, out);
  host.weight().value = tensor_of<Cpu>(Shape{in, out}, wv);
  host.bias().value = tensor_of<Cpu>(Shape{out}, bv);
  dev.weight().value = tensor_of<Cuda>(Shape{in, out}, wv);
  dev.bias().value = tensor_of<Cuda>(Shape{out}, bv);
  auto opt_h = make(host.parameters());
  auto opt_d = make(dev.parameters());
  Proto ref_w = proto, ref_b = proto;
  ref_w.w = wv;
  ref_b.w = bv;
  for (int step = 0; step < steps; ++step) {
    const auto gw = random_rounded(in * out, 100 + step), gb = random_rounded(out, 200 + step);
    host.weight().grad = tensor_of<Cpu>(Shape{in, out}, gw);
    host.bias().grad = tensor_of<Cpu>(Shape{out}, gb);
    dev.weight().grad = tensor_of<Cuda>(Shape{in, out}, gw);
    dev.bias().grad = tensor_of<Cuda>(Shape{out}, gb);
    opt_h.step();
    opt_d.step();
    ref_w.step(gw);
    ref_b.step(gb);
  }
  SKN_CHECK_CLOSE(dev.weight().value.to_vector(), host.weight().value.to_vector(), 1e-7, 1e-6);
  SKN_CHECK_CLOSE(dev.bias().value.to_vector(), host.bias().value.to_vector(), 1e-7, 1e-6);
  SKN_CHECK_CLOSE(dev.weight().value.to_vector(), ref_w.w, 1e-5, 1e-5);
  SKN_CHECK_CLOSE(dev.bias().value.to_vector(), ref_b.w, 1e-5, 1e-5);
}

}  // namespace

TEST_CASE("SGD, Adam and AdamW steps on Cuda parameters equal the Cpu steps and the float64 reference") {
  for (bool nesterov : {false, true}) {
    CAPTURE(nesterov);
    SgdOptions o;
    o.lr = 0.05;
    o.momentum = 0.9;
    o.nesterov = nesterov;
    o.weight_decay = 0.01;
    ref::SgdRef proto;
    proto.lr = o.lr;
    proto.momentum = o.momentum;
    proto.nesterov = nesterov;
    proto.weight_decay = o.weight_decay;
    compare_optimizers([&](auto params) { return Sgd<DeviceOf<decltype(params)>>(params, o); },
                       proto, 5);
  }
  ref::AdamRef proto;
  proto.lr = 0.02;
  proto.beta1 = 0.8;
  proto.beta2 = 0.99;
  proto.eps = 1e-6;
  proto.weight_decay = 0.1;
  AdamOptions ao;
  ao.lr = proto.lr;
  ao.beta1 = proto.beta1;
  ao.beta2 = proto.beta2;
  ao.eps = proto.eps;
  ao.weight_decay = proto.weight_decay;
  compare_optimizers([&](auto params) { return Adam<DeviceOf<decltype(params)>>(params, ao); },
                     proto, 6);
  AdamWOptions wo;
  static_cast<AdamOptions&>(wo) = ao;
  proto.decoupled = true;
  compare_optimizers([&](auto params) { return AdamW<DeviceOf<decltype(params)>>(params, wo); },
                     proto, 6);
}

TEST_CASE("cuda grad_sum_squares is a deterministic float64 sum, grad_scale scales") {
  // 40000 elements: three fixed chunks of 16384, the last one partial.
  for (int64_t n : {int64_t{1}, int64_t{300}, int64_t{40000}}) {
    CAPTURE(n);
    const auto gv = random_rounded(n, 21, -3, 3);
    double want = 0.0;
    for (double g : gv) want += g * g;
    const Outputs got = in_all_thread_orders([&] {
      auto g = tensor_of<Cuda>(Shape{n}, gv);
      const double s = cuda::grad_sum_squares(g);
      cuda::grad_scale(g, 0.5f);
      float hi, lo;  // the double, split exactly into two floats so that the bitwise check covers it
      hi = static_cast<float>(s);
      lo = static_cast<float>(s - hi);
      return Outputs{{hi, lo}, g.to_vector()};
    });
    CHECK(static_cast<double>(got[0][0]) + got[0][1] == doctest::Approx(want).epsilon(1e-12));
    CHECK(cuda::grad_sum_squares(tensor_of<Cuda>(Shape{n}, gv)) ==
          doctest::Approx(cpu::grad_sum_squares(tensor_of<Cpu>(Shape{n}, gv))).epsilon(1e-13));
    std::vector<double> half(gv.size());
    for (size_t i = 0; i < gv.size(); ++i) half[i] = gv[i] * 0.5;
    SKN_CHECK_CLOSE(got[1], half, 0, 0);  // exact: a power of two
  }
  CHECK(cuda::grad_sum_squares(Tensor<Cuda>()) == 0.0);
}

TEST_CASE("Gradient clipping by global norm on Cuda equals clipping on Cpu") {
  Dense<Cpu> host(6, 4);
  Dense<Cuda> dev(6, 4);
  const auto gw = random_rounded(24, 31, -2, 2), gb = random_rounded(4, 32, -2, 2);
  host.weight().grad = tensor_of<Cpu>(Shape{6, 4}, gw);
  host.bias().grad = tensor_of<Cpu>(Shape{4}, gb);
  dev.weight().grad = tensor_of<Cuda>(Shape{6, 4}, gw);
  dev.bias().grad = tensor_of<Cuda>(Shape{4}, gb);
  const double nh = clip_grad_norm(host.parameters(), 0.5);
  const double nd = clip_grad_norm(dev.parameters(), 0.5);
  CHECK(nd == doctest::Approx(nh).epsilon(1e-12));
  CHECK(nd > 0.5);  // so the gradients really were scaled
  SKN_CHECK_CLOSE(dev.weight().grad.to_vector(), host.weight().grad.to_vector(), 1e-7, 1e-6);
  SKN_CHECK_CLOSE(dev.bias().grad.to_vector(), host.bias().grad.to_vector(), 1e-7, 1e-6);
}
