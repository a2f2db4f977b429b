// The Cuda BatchNorm (kernels/batchnorm.cuh, include/skinnet/cuda/batchnorm.hpp) through the emulator:
// training forward (output, batch statistics, running averages), inference, backward (dx and the
// accumulated dgamma / dbeta) against the float64 reference, for every fused activation, in three
// thread orders with bitwise-identical results; the CPU op agrees; BatchNorm<Cuda> equals
// BatchNorm<Cpu> as a layer.
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "cuda_ops_util.hpp"
#include "reference/batchnorm.hpp"
#include "reference/check.hpp"
#include "skinnet/cpu/batchnorm.hpp"
#include "skinnet/cuda.hpp"
#include "skinnet/cuda/batchnorm.hpp"
#include "skinnet/layers/batchnorm.hpp"

using namespace skinnet;
using namespace skinnet::cuda_test;

namespace {

// Batch 1, odd spatial sizes, channels that are not multiples of 8 / 16 (and one past a 32-channel
// reduction tile: 33), a dense [N, C] input, 4 values per channel, and 680 rows (two reduction chunks).
const std::vector<Shape> kBnShapes = {Shape{1, 5, 7, 3},  Shape{2, 3, 3, 17}, Shape{4, 1, 1, 10}, Shape{3, 4, 5, 64},
                                      Shape{6, 13},       Shape{2, 9, 11, 33}, Shape{2, 20, 17, 5}};
const Act kBnActs[] = {Act::None, Act::ReLU, Act::Swish, Act::Mish, Act::Sigmoid};

int64_t last_dim(const Shape& s) { return s[s.rank() - 1]; }

}  // namespace

TEST_CASE("cuda batchnorm training forward: output, batch statistics, running averages vs reference") {
  uint64_t seed = 1000;
  for (const Shape& s : kBnShapes) {
    for (Act a : kBnActs) {
      CAPTURE(s.str());
      CAPTURE(std::string(act_name(a)));
      const int64_t C = last_dim(s), M = s.numel() / C;
      const auto xv = random_rounded(s.numel(), ++seed, -1, 3);  // non-zero mean: the variance is centred
      const auto gv = random_rounded(C, ++seed, 0.5, 1.5);
      const auto bv = random_rounded(C, ++seed, -0.5, 0.5);
      const auto rm0 = random_rounded(C, ++seed, -0.2, 0.2);
      const auto rv0 = random_rounded(C, ++seed, 0.5, 2.0);
      const float momentum = 0.1f, eps = 1e-5f;
      const auto want = ref::batchnorm_train(xv, M, C, gv, bv, rm0, rv0, momentum, eps, ref_act(a));
      std::vector<double> want_invstd(static_cast<size_t>(C));
      for (int64_t c = 0; c < C; ++c) want_invstd[c] = 1.0 / std::sqrt(want.var[c] + eps);

      const Outputs got = in_all_thread_orders([&] {
        auto x = tensor_of<Cuda>(s, xv);
        auto gamma = tensor_of<Cuda>(Shape{C}, gv), beta = tensor_of<Cuda>(Shape{C}, bv);
        auto rm = tensor_of<Cuda>(Shape{C}, rm0), rv = tensor_of<Cuda>(Shape{C}, rv0);
        Tensor<Cuda> y, mean, invstd;
        cuda::batchnorm_forward_train(x, gamma, beta, rm, rv, momentum, eps, a, y, mean, invstd);
        return Outputs{y.to_vector(), mean.to_vector(), invstd.to_vector(), rm.to_vector(), rv.to_vector()};
      }, static_cast<uint32_t>(seed));
      SKN_CHECK_CLOSE(got[0], want.y, 2e-5, 2e-5);
      SKN_CHECK_CLOSE(got[1], want.mean, 1e-6, 1e-6);
      SKN_CHECK_CLOSE(got[2], want_invstd, 1e-6, 1e-5);
      SKN_CHECK_CLOSE(got[3], want.running_mean, 1e-6, 1e-6);
      SKN_CHECK_CLOSE(got[4], want.running_var, 1e-6, 1e-5);

      // The CPU op computes the same statistics (double sums) and the same float expressions.
      auto x = tensor_of<Cpu>(s, xv);
      auto gamma = tensor_of<Cpu>(Shape{C}, gv), beta = tensor_of<Cpu>(Shape{C}, bv);
      auto rm = tensor_of<Cpu>(Shape{C}, rm0), rv = tensor_of<Cpu>(Shape{C}, rv0);
      Tensor<Cpu> y, mean, invstd;
      cpu::batchnorm_forward_train(x, gamma, beta, rm, rv, momentum, eps, a, y, mean, invstd);
      SKN_CHECK_CLOSE(got[0], y.to_vector(), 1e-6, 1e-6);
      // (Not bitwise: the two backends chunk their double sums differently.)
      SKN_CHECK_CLOSE(got[1], mean.to_vector(), 1e-7, 1e-7);
      SKN_CHECK_CLOSE(got[2], invstd.to_vector(), 1e-7, 1e-7);
      SKN_CHECK_CLOSE(got[3], rm.to_vector(), 1e-7, 1e-7);
      SKN_CHECK_CLOSE(got[4], rv.to_vector(), 1e-7, 1e-7);
    }
  }
}

TEST_CASE("cuda batchnorm backward: dx, dgamma, dbeta vs reference, parameter gradients accumulate") {
  uint64_t seed = 2000;
  for (const Shape& s : kBnShapes) {
    for (Act a : kBnActs) {
      CAPTURE(s.str());
      CAPTURE(std::string(act_name(a)));
      const int64_t C = last_dim(s), M = s.numel() / C;
      const auto xv = random_rounded(s.numel(), ++seed, -2, 2);
      const auto gv = random_rounded(C, ++seed, 0.5, 1.5);
      const auto bv = random_rounded(C, ++seed, -0.5, 0.5);
      const auto dyv = random_rounded(s.numel(), ++seed);
      const auto prior = random_rounded(C, ++seed);  // gradients already accumulated
      const float eps = 1e-3f;
      auto want = ref::batchnorm_train_backward(xv, M, C, gv, bv, eps, ref_act(a), dyv);
      for (int64_t c = 0; c < C; ++c) {
        want.dgamma[c] += prior[c];
        want.dbeta[c] += prior[c];
      }
      const Outputs got = in_all_thread_orders([&] {
        auto x = tensor_of<Cuda>(s, xv), dy = tensor_of<Cuda>(s, dyv);
        auto gamma = tensor_of<Cuda>(Shape{C}, gv), beta = tensor_of<Cuda>(Shape{C}, bv);
        auto rm = Tensor<Cuda>::zeros(Shape{C}), rv = Tensor<Cuda>::filled(Shape{C}, 1.f);
        Tensor<Cuda> y, mean, invstd;
        cuda::batchnorm_forward_train(x, gamma, beta, rm, rv, 0.1f, eps, a, y, mean, invstd);
        auto dgamma = tensor_of<Cuda>(Shape{C}, prior), dbeta = tensor_of<Cuda>(Shape{C}, prior);
        auto dx = cuda::batchnorm_backward(dy, x, gamma, beta, mean, invstd, a, dgamma, dbeta);
        return Outputs{dx.to_vector(), dgamma.to_vector(), dbeta.to_vector()};
      }, static_cast<uint32_t>(seed));
      SKN_CHECK_CLOSE(got[0], want.dx, 5e-5, 1e-4);
      SKN_CHECK_CLOSE(got[1], want.dgamma, 5e-5, 1e-4);
      SKN_CHECK_CLOSE(got[2], want.dbeta, 5e-5, 1e-4);
    }
  }
}

TEST_CASE("cuda batchnorm inference uses the running statistics") {
  uint64_t seed = 3000;
  for (const Shape& s : kBnShapes) {
    for (Act a : kBnActs) {
      CAPTURE(s.str());
      CAPTURE(std::string(act_name(a)));
      const int64_t C = last_dim(s), M = s.numel() / C;
      const auto xv = random_rounded(s.numel(), ++seed, -2, 2);
      const auto gv = random_rounded(C, ++seed, 0.5, 1.5);
      const auto bv = random_rounded(C, ++seed, -0.5, 0.5);
      const auto rmv = random_rounded(C, ++seed, -1, 1);
      const auto rvv = random_rounded(C, ++seed, 0.1, 3);
      const auto want = ref::batchnorm_infer(xv, M, C, gv, bv, rmv, rvv, 1e-3, ref_act(a));
      const Outputs got = in_all_thread_orders([&] {
        auto y = cuda::batchnorm_forward_infer(tensor_of<Cuda>(s, xv), tensor_of<Cuda>(Shape{C}, gv),
                                               tensor_of<Cuda>(Shape{C}, bv), tensor_of<Cuda>(Shape{C}, rmv),
                                               tensor_of<Cuda>(Shape{C}, rvv), 1e-3f, a);
        return Outputs{y.to_vector()};
      });
      SKN_CHECK_CLOSE(got[0], want, 1e-5, 1e-5);
    }
  }
}

TEST_CASE("cuda batchnorm rejects mismatched parameters and single-value batches") {
  auto x = Tensor<Cuda>::zeros(Shape{2, 3, 3, 4});
  auto g4 = Tensor<Cuda>::filled(Shape{4}, 1.f), g5 = Tensor<Cuda>::filled(Shape{5}, 1.f);
  auto b4 = Tensor<Cuda>::zeros(Shape{4}), rm = Tensor<Cuda>::zeros(Shape{4}), rv = Tensor<Cuda>::filled(Shape{4}, 1.f);
  Tensor<Cuda> y, mean, invstd;
  CHECK_THROWS_WITH_AS(cuda::batchnorm_forward_train(x, g5, b4, rm, rv, 0.1f, 1e-5f, Act::None, y, mean, invstd),
                       doctest::Contains("weight (gamma) has 5 elements"), ShapeError);
  auto one = Tensor<Cuda>::zeros(Shape{1, 4});
  CHECK_THROWS_AS(cuda::batchnorm_forward_train(one, g4, b4, rm, rv, 0.1f, 1e-5f, Act::None, y, mean, invstd),
                  ValueError);
  CHECK_THROWS_AS(cuda::batchnorm_forward_infer(x, g4, b4, rm, g5, 1e-5f, Act::None), ShapeError);
}

TEST_CASE("BatchNorm layer on Cuda equals BatchNorm on Cpu: training steps, gradients, buffers, inference") {
  const Shape s{2, 5, 3, 12};
  const int64_t C = 12;
  for (Act a : {Act::None, Act::Swish}) {
    CAPTURE(std::string(act_name(a)));
    BatchNorm<Cpu> host(C, 1e-3f, 0.01f, a);
    BatchNorm<Cuda> dev(C, 1e-3f, 0.01f, a);
    const auto gv = random_rounded(C, 5, 0.5, 1.5), bv = random_rounded(C, 6, -0.5, 0.5);
    host.weight().value = tensor_of<Cpu>(Shape{C}, gv);
    host.bias().value = tensor_of<Cpu>(Shape{C}, bv);
    dev.weight().value = tensor_of<Cuda>(Shape{C}, gv);
    dev.bias().value = tensor_of<Cuda>(Shape{C}, bv);
    for (int step = 0; step < 3; ++step) {
      const auto xv = random_rounded(s.numel(), 40 + step, -1, 4);
      const auto dyv = random_rounded(s.numel(), 50 + step);
      auto yh = host.forward(tensor_of<Cpu>(s, xv), Mode::Train);
      auto yd = dev.forward(tensor_of<Cuda>(s, xv), Mode::Train);
      SKN_CHECK_CLOSE(yd.to_vector(), yh.to_vector(), 1e-6, 1e-6);
      auto dxh = host.backward(tensor_of<Cpu>(s, dyv));
      auto dxd = dev.backward(tensor_of<Cuda>(s, dyv));
      SKN_CHECK_CLOSE(dxd.to_vector(), dxh.to_vector(), 1e-6, 1e-5);
    }
    SKN_CHECK_CLOSE(dev.weight().grad.to_vector(), host.weight().grad.to_vector(), 1e-6, 1e-5);
    SKN_CHECK_CLOSE(dev.bias().grad.to_vector(), host.bias().grad.to_vector(), 1e-6, 1e-5);
    SKN_CHECK_CLOSE(dev.running_mean().to_vector(), host.running_mean().to_vector(), 1e-7, 1e-7);
    SKN_CHECK_CLOSE(dev.running_var().to_vector(), host.running_var().to_vector(), 1e-7, 1e-7);
    const auto xv = random_rounded(s.numel(), 99, -1, 4);
    SKN_CHECK_CLOSE(dev.forward(tensor_of<Cuda>(s, xv), Mode::Infer).to_vector(),
                    host.forward(tensor_of<Cpu>(s, xv), Mode::Infer).to_vector(), 1e-6, 1e-6);
  }
}
