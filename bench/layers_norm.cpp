// BatchNorm (and the other memory-bound layers) on the CPU: time and memory bandwidth.
//
// The headline case is the one bench/peers (PyTorch) measures: BatchNorm training on 16x64x112x112
// NHWC, forward and forward+backward. Bandwidth is reported the way the PyTorch script reports it,
// "nominal" traffic: forward reads x and writes y (2 tensor passes), forward+backward adds reading dy
// and x and writing dx (5 passes in all), so the figures compare directly with
// `bench_torch.py layers` (same session, ratios only: this machine is shared and noisy).
//   ./skinnet_bench_layers_norm --benchmark_filter=BatchNorm
#include <benchmark/benchmark.h>

#include <cstdint>
#include <string>
#include <vector>

#include "skinnet/core/philox.hpp"
#include "skinnet/cpu/activation.hpp"
#include "skinnet/cpu/batchnorm.hpp"
#include "skinnet/cpu/se.hpp"
#include "skinnet/layers/batchnorm.hpp"

using namespace skinnet;

namespace {

Tensor<Cpu> random_tensor(const Shape& s, uint32_t stream) {
  std::vector<float> v(static_cast<size_t>(s.numel()));
  for (size_t i = 0; i < v.size(); ++i) v[i] = 4.0f * philox_uniform(1, stream, 0, i) - 1.0f;
  return Tensor<Cpu>::from_vector(s, v);
}

const Shape kBnShape = Shape::nhwc(16, 112, 112, 64);

void report(benchmark::State& state, const Shape& s, double passes) {
  const double bytes = static_cast<double>(s.numel()) * sizeof(float) * passes;
  state.counters["GB/s_nominal"] =
      benchmark::Counter(bytes, benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
}

// Op level: the layer's buffers are reused between steps, as in training.
void BM_BatchNormTrainForward(benchmark::State& state) {
  const Act act = static_cast<Act>(state.range(0));
  const int64_t C = kBnShape.c();
  auto x = random_tensor(kBnShape, 1);
  auto gamma = Tensor<Cpu>::filled(Shape{C}, 1.0f), beta = Tensor<Cpu>::zeros(Shape{C});
  auto rm = Tensor<Cpu>::zeros(Shape{C}), rv = Tensor<Cpu>::filled(Shape{C}, 1.0f);
  Tensor<Cpu> y, mean, invstd;
  for (auto _ : state) {
    cpu::batchnorm_forward_train(x, gamma, beta, rm, rv, 0.1f, 1e-5f, act, y, mean, invstd);
    benchmark::DoNotOptimize(y.data());
  }
  report(state, kBnShape, 2);
  state.SetLabel(std::string("16x112x112x64 +") + act_name(act));
}

void BM_BatchNormTrainForwardBackward(benchmark::State& state) {
  const Act act = static_cast<Act>(state.range(0));
  const int64_t C = kBnShape.c();
  auto x = random_tensor(kBnShape, 1);
  auto dy = random_tensor(kBnShape, 2);
  auto gamma = Tensor<Cpu>::filled(Shape{C}, 1.0f), beta = Tensor<Cpu>::zeros(Shape{C});
  auto rm = Tensor<Cpu>::zeros(Shape{C}), rv = Tensor<Cpu>::filled(Shape{C}, 1.0f);
  auto dgamma = Tensor<Cpu>::zeros(Shape{C}), dbeta = Tensor<Cpu>::zeros(Shape{C});
  Tensor<Cpu> y, mean, invstd, dx;
  for (auto _ : state) {
    cpu::batchnorm_forward_train(x, gamma, beta, rm, rv, 0.1f, 1e-5f, act, y, mean, invstd);
    cpu::batchnorm_backward(dy, x, gamma, beta, mean, invstd, act, dgamma, dbeta, dx);
    benchmark::DoNotOptimize(dx.data());
  }
  report(state, kBnShape, 5);
  state.SetLabel(std::string("16x112x112x64 +") + act_name(act));
}

// Unfused BN then ReLU, for comparison with the fused path.
void BM_BatchNormThenReluForwardBackward(benchmark::State& state) {
  const int64_t C = kBnShape.c();
  auto x = random_tensor(kBnShape, 1);
  auto dy = random_tensor(kBnShape, 2);
  auto gamma = Tensor<Cpu>::filled(Shape{C}, 1.0f), beta = Tensor<Cpu>::zeros(Shape{C});
  auto rm = Tensor<Cpu>::zeros(Shape{C}), rv = Tensor<Cpu>::filled(Shape{C}, 1.0f);
  auto dgamma = Tensor<Cpu>::zeros(Shape{C}), dbeta = Tensor<Cpu>::zeros(Shape{C});
  Tensor<Cpu> z, mean, invstd;
  for (auto _ : state) {
    cpu::batchnorm_forward_train(x, gamma, beta, rm, rv, 0.1f, 1e-5f, Act::None, z, mean, invstd);
    auto y = cpu::activation_forward(Act::ReLU, z);
    auto dz = cpu::activation_backward(Act::ReLU, z, dy);
    auto dx = cpu::batchnorm_backward(dz, x, gamma, beta, mean, invstd, Act::None, dgamma, dbeta);
    benchmark::DoNotOptimize(y.data());
    benchmark::DoNotOptimize(dx.data());
  }
  report(state, kBnShape, 5);
  state.SetLabel("16x112x112x64 bn, relu separately");
}

// Layer level: what a model pays (fresh output tensors every call).
void BM_BatchNormLayerForwardBackward(benchmark::State& state) {
  BatchNorm<Cpu> bn(kBnShape.c(), 1e-5f, 0.1f, static_cast<Act>(state.range(0)));
  auto x = random_tensor(kBnShape, 1);
  auto dy = random_tensor(kBnShape, 2);
  for (auto _ : state) {
    auto y = bn.forward(x, Mode::Train);
    auto dx = bn.backward(dy);
    benchmark::DoNotOptimize(dx.data());
  }
  report(state, kBnShape, 5);
  state.SetLabel(std::string("BatchNorm<Cpu> layer +") + act_name(static_cast<Act>(state.range(0))));
}

void BM_BatchNormInference(benchmark::State& state) {
  const int64_t C = kBnShape.c();
  auto x = random_tensor(kBnShape, 1);
  auto gamma = Tensor<Cpu>::filled(Shape{C}, 1.0f), beta = Tensor<Cpu>::zeros(Shape{C});
  auto rm = Tensor<Cpu>::zeros(Shape{C}), rv = Tensor<Cpu>::filled(Shape{C}, 1.0f);
  for (auto _ : state) {
    auto y = cpu::batchnorm_forward_infer(x, gamma, beta, rm, rv, 1e-5f, Act::ReLU);
    benchmark::DoNotOptimize(y.data());
  }
  report(state, kBnShape, 2);
}

void BM_Swish(benchmark::State& state) {
  auto x = random_tensor(kBnShape, 1);
  for (auto _ : state) {
    auto y = cpu::activation_forward(Act::Swish, x);
    benchmark::DoNotOptimize(y.data());
  }
  report(state, kBnShape, 2);
}

// SE scale on an EfficientNet-B0 stage-2 sized map (16x112x112x96 would not fit the budget of a bench run).
void BM_SEScale(benchmark::State& state) {
  const Shape s = Shape::nhwc(16, 56, 56, 144);
  auto x = random_tensor(s, 1);
  auto g = random_tensor(Shape{16, 144}, 2);
  for (auto _ : state) {
    auto y = cpu::se_scale_forward(x, g);
    benchmark::DoNotOptimize(y.data());
  }
  report(state, s, 2);
}

}  // namespace

BENCHMARK(BM_BatchNormTrainForward)->Arg(static_cast<int>(Act::None))->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_BatchNormTrainForwardBackward)
    ->Arg(static_cast<int>(Act::None))
    ->Arg(static_cast<int>(Act::ReLU))
    ->Arg(static_cast<int>(Act::Swish))
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_BatchNormThenReluForwardBackward)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_BatchNormLayerForwardBackward)
    ->Arg(static_cast<int>(Act::None))
    ->Arg(static_cast<int>(Act::ReLU))
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(BM_BatchNormInference)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_Swish)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK(BM_SEScale)->Unit(benchmark::kMillisecond)->UseRealTime();
BENCHMARK_MAIN();
