// The fused Cuda softmax cross-entropy (kernels/softmax_ce.cuh) through the emulator: loss and
// dL/dlogits with label smoothing and class weights against the float64 reference and the CPU op, in
// three thread orders (the loss bit-identical across them); SoftmaxCrossEntropy<Cuda> equals the Cpu
// loss; argument errors name the problem.
#include <doctest/doctest.h>

#include <cstdint>
#include <cstring>
#include <vector>

#include "cuda_ops_util.hpp"
#include "reference/check.hpp"
#include "reference/softmax_ce.hpp"
#include "skinnet/cpu/softmax_ce.hpp"
#include "skinnet/cuda.hpp"
#include "skinnet/cuda/softmax_ce.hpp"
#include "skinnet/train/loss.hpp"

using namespace skinnet;
using namespace skinnet::cuda_test;

TEST_CASE("cuda softmax cross-entropy matches the float64 reference and the CPU: smoothing, class weights") {
  struct Case {
    int64_t N, K;
    float eps;
    bool weighted;
  };
  uint64_t seed = 8000;
  // Batch 1 with 2 classes, HAM10000's 7 classes, a weighted batch, 130 rows (two thread blocks), 1000 classes.
  for (const Case& c : {Case{1, 2, 0.0f, false}, Case{8, 7, 0.1f, false}, Case{5, 7, 0.0f, true},
                        Case{130, 10, 0.2f, true}, Case{3, 1000, 0.1f, false}}) {
    CAPTURE(c.N);
    CAPTURE(c.K);
    CAPTURE(c.eps);
    const auto zv = random_rounded(c.N * c.K, ++seed, -5, 5);
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
    const Outputs got = in_all_thread_orders([&] {
      Tensor<Cuda> dz;
      const float loss = cuda::softmax_cross_entropy(tensor_of<Cuda>(Shape{c.N, c.K}, zv), labels32, wf, c.eps, dz);
      return Outputs{{loss}, dz.to_vector()};
    });
    CHECK(got[0][0] == doctest::Approx(want.loss).epsilon(1e-5));
    SKN_CHECK_CLOSE(got[1], want.dlogits, 1e-7, 1e-4);
    Tensor<Cpu> dzc;
    const float lc = cpu::softmax_cross_entropy(tensor_of<Cpu>(Shape{c.N, c.K}, zv), labels32, wf, c.eps, dzc);
    CHECK(got[0][0] == doctest::Approx(lc).epsilon(1e-6));
    SKN_CHECK_CLOSE(got[1], dzc.to_vector(), 1e-8, 1e-6);
  }
}

TEST_CASE("cuda softmax cross-entropy is stable at huge logits") {
  // exp(1000) overflows without the max subtraction; the loss must stay finite.
  const std::vector<double> zv = {1000.0, 0.0, -1000.0, 500.0, 500.0, 500.0};
  Tensor<Cuda> dz;
  const float loss = cuda::softmax_cross_entropy(tensor_of<Cuda>(Shape{2, 3}, zv), {0, 2}, {}, 0.0f, dz);
  const auto want = ref::softmax_cross_entropy(zv, 2, 3, {0, 2}, {}, 0.0);
  CHECK(loss == doctest::Approx(want.loss).epsilon(1e-6));
  SKN_CHECK_CLOSE(dz.to_vector(), want.dlogits, 1e-7, 1e-5);
}

TEST_CASE("cuda softmax cross-entropy argument errors name the problem") {
  auto z = Tensor<Cuda>::zeros(Shape{2, 3});
  Tensor<Cuda> dz;
  CHECK_THROWS_WITH_AS(cuda::softmax_cross_entropy(z, {0, 3}, {}, 0.f, dz), doctest::Contains("label 3"), ValueError);
  CHECK_THROWS_WITH_AS(cuda::softmax_cross_entropy(z, {0}, {}, 0.f, dz), doctest::Contains("1 labels"), ShapeError);
  CHECK_THROWS_WITH_AS(cuda::softmax_cross_entropy(z, {0, 1}, {1.f}, 0.f, dz), doctest::Contains("class weights"),
                       ValueError);
  CHECK_THROWS_AS(cuda::softmax_cross_entropy(z, {0, 1}, {}, 1.5f, dz), ValueError);
  CHECK_THROWS_AS(cuda::softmax_cross_entropy(Tensor<Cuda>::zeros(Shape{6}), {0}, {}, 0.f, dz), ShapeError);
}

TEST_CASE("SoftmaxCrossEntropy loss on Cuda equals the Cpu loss") {
  const int64_t N = 6, K = 7;
  const auto zv = random_rounded(N * K, 81, -3, 3);
  const std::vector<int32_t> labels = {0, 6, 3, 3, 1, 5};
  const LossOptions o{0.1f, {1.f, 2.f, 0.5f, 1.f, 1.f, 3.f, 0.25f}};
  SoftmaxCrossEntropy<Cpu> host(o);
  SoftmaxCrossEntropy<Cuda> dev(o);
  const float lh = host.forward(tensor_of<Cpu>(Shape{N, K}, zv), labels);
  const float ld = dev.forward(tensor_of<Cuda>(Shape{N, K}, zv), labels);
  CHECK(ld == doctest::Approx(lh).epsilon(1e-6));
  SKN_CHECK_CLOSE(dev.backward().to_vector(), host.backward().to_vector(), 1e-8, 1e-6);
}
