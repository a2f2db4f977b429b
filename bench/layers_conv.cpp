// CPU convolutions on the layer shapes of ../shared/peers/README.md (the PyTorch yardstick):
//   conv3x3 64->64 56x56 b16, conv1x1 256->64 56x56 b16, depthwise 3x3 96ch 112x112 b16,
//   depthwise 5x5 240ch 28x28 b16; all stride 1, "same" padding, no bias (as bench_torch.py layers).
//
// Reported per benchmark: wall time per iteration (ms) and GFLOP/s counted like bench_torch.py:
// forward = 2 * N * Cout * OH * OW * (Cin/groups) * k * k, forward+backward = 3x forward (the
// input gradient and the weight gradient each cost one forward).
//   BM_*_op     the backend ops alone: forward, then (fwdbwd) conv2d_backward_input +
//               conv2d_backward_params, or the fused depthwise_conv2d_backward
//   BM_*_layer  the Conv2D / DepthwiseConv2D layer: forward(Train) copies its input for backward,
//               then backward; what a training step pays
// Run: build/release/bench/skinnet_bench_layers_conv --benchmark_min_time=2
// With bench/peers/layers_conv.sh the same shapes run in PyTorch in the same session.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <random>
#include <vector>

#include "skinnet/cpu/conv2d.hpp"
#include "skinnet/cpu/depthwise.hpp"
#include "skinnet/layers/conv2d.hpp"
#include "skinnet/layers/depthwise_conv2d.hpp"

using namespace skinnet;

namespace {

struct Case {
  int64_t n, hw, cin, cout, k;
  bool depthwise;
  double fwd_flop() const {
    return 2.0 * static_cast<double>(n * cout * hw * hw * (depthwise ? 1 : cin) * k * k);
  }
};

const Case kConv3x3{16, 56, 64, 64, 3, false};
const Case kConv1x1{16, 56, 256, 64, 1, false};
const Case kDw3x3{16, 112, 96, 96, 3, true};
const Case kDw5x5{16, 28, 240, 240, 5, true};

Tensor<Cpu> random_tensor(const Shape& s, uint64_t seed) {
  std::mt19937_64 gen(seed);
  std::uniform_real_distribution<float> dist(-1.f, 1.f);
  std::vector<float> v(static_cast<size_t>(s.numel()));
  for (auto& x : v) x = dist(gen);
  return Tensor<Cpu>::from_vector(s, v);
}

void set_counters(benchmark::State& state, double flop) {
  state.counters["GFLOP/s"] = benchmark::Counter(flop * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

// The backend ops: forward only (backward = false) or forward + both gradients.
void run_op(benchmark::State& state, const Case& c, bool backward) {
  const Shape in = Shape::nhwc(c.n, c.hw, c.hw, c.cin);
  const ConvGeometry g = ConvGeometry::make(in, c.k, 1, Padding::same(), c.cout, "bench");
  auto x = random_tensor(in, 1);
  auto w = c.depthwise ? random_tensor(Shape{c.k, c.k, c.cin}, 2) : random_tensor(Shape{c.k, c.k, c.cin, c.cout}, 2);
  auto dy = random_tensor(g.out_shape(), 3);
  auto dw = Tensor<Cpu>::zeros(w.shape());
  for (auto _ : state) {
    auto y = c.depthwise ? cpu::depthwise_conv2d_forward(x, w, nullptr, g) : cpu::conv2d_forward(x, w, nullptr, g);
    benchmark::DoNotOptimize(y.data());
    if (backward) {
      // Depthwise: the fused backward (both gradients in one pass), which DepthwiseConv2D uses.
      auto dx = c.depthwise ? cpu::depthwise_conv2d_backward(x, dy, w, g, dw, nullptr) : cpu::conv2d_backward_input(dy, w, g);
      if (!c.depthwise) cpu::conv2d_backward_params(x, dy, g, dw, nullptr);
      benchmark::DoNotOptimize(dx.data());
      benchmark::ClobberMemory();
    }
  }
  set_counters(state, c.fwd_flop() * (backward ? 3 : 1));
}

// The layer, as a training step uses it.
void run_layer(benchmark::State& state, const Case& c) {
  const Shape in = Shape::nhwc(c.n, c.hw, c.hw, c.cin);
  std::unique_ptr<Module<Cpu>> layer;
  if (c.depthwise)
    layer = std::make_unique<DepthwiseConv2D<Cpu>>(c.cin, c.k, 1, Padding::same(), false, 1);
  else
    layer = std::make_unique<Conv2D<Cpu>>(c.cin, c.cout, c.k, 1, Padding::same(), false, 1);
  auto x = random_tensor(in, 1);
  auto dy = random_tensor(layer->output_shape(in), 3);
  for (auto _ : state) {
    auto y = layer->forward(x, Mode::Train);
    auto dx = layer->backward(dy);
    benchmark::DoNotOptimize(y.data());
    benchmark::DoNotOptimize(dx.data());
  }
  set_counters(state, c.fwd_flop() * 3);
}

}  // namespace

#define SKN_CONV_BENCH(name, c)                                                                        \
  static void BM_##name##_fwd_op(benchmark::State& s) { run_op(s, c, false); }                           \
  static void BM_##name##_fwdbwd_op(benchmark::State& s) { run_op(s, c, true); }                         \
  static void BM_##name##_fwdbwd_layer(benchmark::State& s) { run_layer(s, c); }                         \
  BENCHMARK(BM_##name##_fwd_op)->Unit(benchmark::kMillisecond)->UseRealTime();                           \
  BENCHMARK(BM_##name##_fwdbwd_op)->Unit(benchmark::kMillisecond)->UseRealTime();                        \
  BENCHMARK(BM_##name##_fwdbwd_layer)->Unit(benchmark::kMillisecond)->UseRealTime();

SKN_CONV_BENCH(conv3x3_64_64_56_b16, kConv3x3)
SKN_CONV_BENCH(conv1x1_256_64_56_b16, kConv1x1)
SKN_CONV_BENCH(dw3x3_96_112_b16, kDw3x3)
SKN_CONV_BENCH(dw5x5_240_28_b16, kDw5x5)

BENCHMARK_MAIN();
