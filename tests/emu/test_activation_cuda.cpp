// The Cuda activations (kernels/activation.cuh) and elementwise sums (kernels/elementwise.cuh) through
// the emulator: against the float64 reference and the CPU op, in three thread orders; the
// Activation<Cuda> layer equals Activation<Cpu>.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "cuda_ops_util.hpp"
#include "reference/activation.hpp"
#include "reference/check.hpp"
#include "skinnet/cpu/activation.hpp"
#include "skinnet/cpu/elementwise.hpp"
#include "skinnet/cuda.hpp"
#include "skinnet/cuda/activation.hpp"
#include "skinnet/cuda/elementwise.hpp"
#include "skinnet/layers/activation.hpp"

using namespace skinnet;
using namespace skinnet::cuda_test;

namespace {
// 1 element, a partial block, several blocks with a ragged tail, an NHWC map.
const std::vector<Shape> kActShapes = {Shape{1}, Shape{3, 7}, Shape{1, 13, 11, 5}, Shape{2, 9, 7, 33}};
const Act kAllActs[] = {Act::None, Act::ReLU, Act::Swish, Act::Mish, Act::Sigmoid};
}  // namespace

TEST_CASE("cuda activations forward and backward match the float64 reference and the CPU") {
  uint64_t seed = 4000;
  for (const Shape& s : kActShapes) {
    for (Act a : kAllActs) {
      CAPTURE(s.str());
      CAPTURE(std::string(act_name(a)));
      // Wide range, including saturated sigmoid / Mish tails and values near 0 (ReLU's kink).
      const auto xv = random_rounded(s.numel(), ++seed, -12, 12);
      const auto dyv = random_rounded(s.numel(), ++seed);
      const Outputs got = in_all_thread_orders([&] {
        auto x = tensor_of<Cuda>(s, xv);
        auto y = cuda::activation_forward(a, x);
        auto dx = cuda::activation_backward(a, x, tensor_of<Cuda>(s, dyv));
        return Outputs{y.to_vector(), dx.to_vector()};
      });
      SKN_CHECK_CLOSE(got[0], ref::activation_forward(ref_act(a), xv), 1e-6, 1e-5);
      SKN_CHECK_CLOSE(got[1], ref::activation_backward(ref_act(a), xv, dyv), 1e-6, 1e-5);
      // Same scalar formulas as the CPU backend (act::forward / act::derivative are __host__ __device__).
      auto xc = tensor_of<Cpu>(s, xv);
      SKN_CHECK_CLOSE(got[0], cpu::activation_forward(a, xc).to_vector(), 1e-7, 1e-6);
      SKN_CHECK_CLOSE(got[1], cpu::activation_backward(a, xc, tensor_of<Cpu>(s, dyv)).to_vector(), 1e-7, 1e-6);
    }
  }
}

TEST_CASE("cuda activation backward rejects a gradient of another shape") {
  auto x = Tensor<Cuda>::zeros(Shape{2, 3});
  auto dy = Tensor<Cuda>::zeros(Shape{3, 2});
  CHECK_THROWS_WITH_AS(cuda::activation_backward(Act::Swish, x, dy), doctest::Contains("swish"), ShapeError);
}

TEST_CASE("cuda add and add_into match the element sums") {
  uint64_t seed = 4100;
  for (const Shape& s : kActShapes) {
    CAPTURE(s.str());
    const auto av = random_rounded(s.numel(), ++seed), bv = random_rounded(s.numel(), ++seed);
    std::vector<double> want(av.size());
    for (size_t i = 0; i < av.size(); ++i) want[i] = static_cast<double>(static_cast<float>(av[i] + bv[i]));
    const Outputs got = in_all_thread_orders([&] {
      auto a = tensor_of<Cuda>(s, av), b = tensor_of<Cuda>(s, bv);
      auto sum = cuda::add(a, b);
      cuda::add_into(a, b);
      return Outputs{sum.to_vector(), a.to_vector()};
    });
    SKN_CHECK_CLOSE(got[0], want, 0, 0);  // one float addition: exact
    SKN_CHECK_CLOSE(got[1], want, 0, 0);
  }
  auto a = Tensor<Cuda>::zeros(Shape{2, 3});
  auto b = Tensor<Cuda>::zeros(Shape{6});
  CHECK_THROWS_AS(cuda::add_into(a, b), ShapeError);
  CHECK_THROWS_AS(cuda::add(a, b), ShapeError);
}

TEST_CASE("Activation layer on Cuda equals Activation on Cpu") {
  const Shape s{2, 5, 3, 7};
  const auto xv = random_rounded(s.numel(), 77, -4, 4), dyv = random_rounded(s.numel(), 78);
  for (Act a : {Act::ReLU, Act::Mish}) {
    CAPTURE(std::string(act_name(a)));
    Activation<Cpu> host(a);
    Activation<Cuda> dev(a);
    SKN_CHECK_CLOSE(dev.forward(tensor_of<Cuda>(s, xv), Mode::Train).to_vector(),
                    host.forward(tensor_of<Cpu>(s, xv), Mode::Train).to_vector(), 1e-7, 1e-6);
    SKN_CHECK_CLOSE(dev.backward(tensor_of<Cuda>(s, dyv)).to_vector(),
                    host.backward(tensor_of<Cpu>(s, dyv)).to_vector(), 1e-7, 1e-6);
  }
}
