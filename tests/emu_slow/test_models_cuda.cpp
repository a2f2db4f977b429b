// Model-level tests on the emulated Cuda device (label emu-slow: minutes, not seconds, so they run in
// the release build only, in one thread order). Every family at a tiny size and reduced width: the
// Cuda model built from the same seed must give the CPU model's logits, input gradient and every
// parameter gradient; and a tiny model must train on the synthetic set on the Cuda device as on the CPU.
#include <doctest/doctest.h>

#include <cmath>
#include <string>
#include <vector>

#include "reference/check.hpp"
#include "skinnet/cuda.hpp"
#include "skinnet/cuda/activation.hpp"
#include "skinnet/cuda/batchnorm.hpp"
#include "skinnet/cuda/conv2d.hpp"
#include "skinnet/cuda/dense.hpp"
#include "skinnet/cuda/depthwise.hpp"
#include "skinnet/cuda/dropout.hpp"
#include "skinnet/cuda/elementwise.hpp"
#include "skinnet/cuda/global_pool.hpp"
#include "skinnet/cuda/optim.hpp"
#include "skinnet/cuda/pool.hpp"
#include "skinnet/cuda/se.hpp"
#include "skinnet/cuda/softmax_ce.hpp"
#include "skinnet/data/synth.hpp"
#include "skinnet/models/zoo.hpp"
#include "skinnet/train/adam.hpp"
#include "skinnet/train/loss.hpp"

using namespace skinnet;

namespace {

std::vector<float> images(int64_t n, int64_t size, uint64_t seed) {
  std::vector<float> v(static_cast<size_t>(n * size * size * 3));
  for (size_t i = 0; i < v.size(); ++i) v[i] = 2.f * philox_uniform(seed, 77, 0, i) - 1.f;
  return v;
}

double max_abs(const std::vector<float>& v) {
  double m = 0;
  for (float x : v) m = std::max(m, static_cast<double>(std::fabs(x)));
  return m;
}

// Same values within float tolerance, relative to `scale` (the largest magnitude among comparable
// tensors: sums of many products are accumulated in different orders on the two devices, and some
// quantities are zero up to rounding — e.g. the bias gradient of a BN whose output feeds another BN in
// training mode — so each tensor's own maximum would be a meaningless yardstick).
void check_same(const std::vector<float>& cuda, const std::vector<float>& cpu, const std::string& what,
                double scale = -1) {
  if (scale < 0) scale = max_abs(cpu);
  scale = std::max(scale, 1e-6);
  auto r = ref::all_close(cuda, cpu, 2e-4 * scale, 1e-3, what);
  if (!r) FAIL_CHECK(r.report);
  else CHECK(r.ok);
}

}  // namespace

TEST_CASE("emulated Cuda models equal CPU models: logits, input gradient, every parameter gradient") {
  struct Case {
    const char* name;
    int64_t size;
    double width;
  };
  for (const Case& c : {Case{"simple_cnn", 32, 0.25}, Case{"seresnet18", 48, 0.125}, Case{"xception", 40, 0.0625},
                        Case{"efficientnet_b0", 48, 0.25}}) {
    // Sizes keep every BatchNorm above 1x1 per sample: with batch 2 on a 1x1 map the normalisation of
    // two values is +-1 and amplifies rounding differences without bound (no bug, just conditioning).
    CAPTURE(c.name);
    ModelOptions opt;
    opt.seed = 9;
    opt.width_multiplier = c.width;
    auto cpu_model = create_model<Cpu>(c.name, 5, opt);
    auto cuda_model = create_model<Cuda>(c.name, 5, opt);
    uint32_t s1 = 1, s2 = 1;
    cpu_model->set_rng(4, s1);
    cuda_model->set_rng(4, s2);
    const Shape shape = Shape::nhwc(2, c.size, c.size, 3);
    const auto x = images(2, c.size, 3);
    Tensor<Cpu> y_cpu = cpu_model->forward(Tensor<Cpu>::from_vector(shape, x), Mode::Train);
    Tensor<Cuda> y_cuda = cuda_model->forward(Tensor<Cuda>::from_vector(shape, x), Mode::Train);
    check_same(y_cuda.to_vector(), y_cpu.to_vector(), std::string(c.name) + " logits");
    SoftmaxCrossEntropy<Cpu> loss_cpu;
    SoftmaxCrossEntropy<Cuda> loss_cuda;
    const float l_cpu = loss_cpu.forward(y_cpu, {1, 4});
    const float l_cuda = loss_cuda.forward(y_cuda, {1, 4});
    CHECK(l_cuda == doctest::Approx(l_cpu).epsilon(1e-4));
    cpu_model->zero_grad();
    cuda_model->zero_grad();
    check_same(cuda_model->backward(loss_cuda.backward()).to_vector(), cpu_model->backward(loss_cpu.backward()).to_vector(),
               std::string(c.name) + " dx");
    auto pc = cpu_model->parameters();
    auto pg = cuda_model->parameters();
    REQUIRE(pc.size() == pg.size());
    double grad_scale = 0, buffer_scale = 0;
    for (auto& p : pc) grad_scale = std::max(grad_scale, max_abs(p.param->grad.to_vector()));
    for (size_t i = 0; i < pc.size(); ++i) {
      REQUIRE(pc[i].name == pg[i].name);
      check_same(pg[i].param->grad.to_vector(), pc[i].param->grad.to_vector(), pc[i].name + ".grad", grad_scale);
    }
    auto bc = cpu_model->buffers();
    auto bg = cuda_model->buffers();
    REQUIRE(bc.size() == bg.size());
    for (auto& b : bc) buffer_scale = std::max(buffer_scale, max_abs(b.value->to_vector()));
    for (size_t i = 0; i < bc.size(); ++i)
      check_same(bg[i].value->to_vector(), bc[i].value->to_vector(), bc[i].name, buffer_scale);
  }
}

TEST_CASE("a tiny model trains on the emulated Cuda device with the CPU's losses") {
  ModelOptions opt;
  opt.seed = 2;
  opt.width_multiplier = 0.25;
  opt.dropout = 0;
  auto cpu_model = create_model<Cpu>("simple_cnn", 7, opt);
  auto cuda_model = create_model<Cuda>("simple_cnn", 7, opt);
  AdamOptions ao;
  ao.lr = 3e-3;
  Adam<Cpu> opt_cpu(cpu_model->parameters(), ao);
  Adam<Cuda> opt_cuda(cuda_model->parameters(), ao);
  // 28 synthetic images (4 per class), 32 px, normalised to [-1, 1].
  const int size = 32;
  std::vector<float> x;
  std::vector<int> y;
  for (int cls = 0; cls < 7; ++cls)
    for (int i = 0; i < 4; ++i) {
      const Image img = synth_image(cls, i, size, 5);
      for (uint8_t p : img.pixels) x.push_back(static_cast<float>(p) / 127.5f - 1.f);
      y.push_back(cls);
    }
  const Shape shape = Shape::nhwc(28, size, size, 3);
  SoftmaxCrossEntropy<Cpu> loss_cpu;
  SoftmaxCrossEntropy<Cuda> loss_cuda;
  float first = 0, last_cuda = 0;
  for (int step = 0; step < 25; ++step) {
    const float lc = loss_cpu.forward(cpu_model->forward(Tensor<Cpu>::from_vector(shape, x), Mode::Train), y);
    const float lg = loss_cuda.forward(cuda_model->forward(Tensor<Cuda>::from_vector(shape, x), Mode::Train), y);
    if (step < 5) CHECK(lg == doctest::Approx(lc).epsilon(1e-3));  // same trajectory while it is well conditioned
    if (step == 0) first = lg;
    last_cuda = lg;
    cpu_model->zero_grad();
    cuda_model->zero_grad();
    cpu_model->backward(loss_cpu.backward());
    cuda_model->backward(loss_cuda.backward());
    opt_cpu.step();
    opt_cuda.step();
  }
  MESSAGE("emulated Cuda training loss " << first << " -> " << last_cuda);
  CHECK(last_cuda < 0.5f * first);
  // Accuracy on the training images in inference mode.
  const auto logits = cuda_model->forward(Tensor<Cuda>::from_vector(shape, x), Mode::Infer).to_vector();
  int correct = 0;
  for (int i = 0; i < 28; ++i) {
    int best = 0;
    for (int k = 1; k < 7; ++k)
      if (logits[static_cast<size_t>(i * 7 + k)] > logits[static_cast<size_t>(i * 7 + best)]) best = k;
    correct += best == y[static_cast<size_t>(i)];
  }
  MESSAGE("emulated Cuda accuracy after 25 steps: " << correct << "/28");
  CHECK(correct >= 20);
}
