// Whole training and inference steps of the zoo's models on the CPU: the check that a faster layer
// benchmark is also a faster network. A layer win that does not show here (streaming stores, see
// docs/kernels.md) is not a win for training.
//
// Train step = what skinnet::Trainer does per batch: forward in training mode, softmax cross-entropy,
// zero_grad, backward, Adam. Inference = forward in inference mode. Inputs are fixed random images, so
// the time excludes data loading. bench/peers/models.sh runs the same steps in PyTorch in one session
// and prints the ratios.
//   ./skinnet_bench_model_step --benchmark_filter='TrainStep/seresnet50/16/224'
// Environment: SKINNET_BENCH_MODELS (comma-separated, default seresnet50,xception,efficientnet_b0),
// SKINNET_BENCH_BATCH (default 16), SKINNET_BENCH_SIZE (default 224), SKINNET_BENCH_STEPS (timed steps
// per case, default 5; three untimed steps run first).
#include <benchmark/benchmark.h>

#include <cstdint>
#include <cstdlib>
#include <sstream>
#include <string>
#include <vector>

#include "skinnet/core/philox.hpp"
#include "skinnet/models/zoo.hpp"
#include "skinnet/train/adam.hpp"
#include "skinnet/train/loss.hpp"

using namespace skinnet;

namespace {

constexpr int64_t kClasses = 7;  // HAM10000's seven lesion classes, as bench_torch.py uses
constexpr int kWarmupSteps = 3;  // untimed steps before timing (bench_torch.py: 2 warm-up steps)

struct StepCase {
  std::string model;
  int64_t batch;
  int64_t size;
};

Tensor<Cpu> random_images(int64_t batch, int64_t size) {
  const Shape s = Shape::nhwc(batch, size, size, 3);
  std::vector<float> v(static_cast<size_t>(s.numel()));
  for (size_t i = 0; i < v.size(); ++i) v[i] = 2.0f * philox_uniform(7, 0, 0, i) - 1.0f;
  return Tensor<Cpu>::from_vector(s, v);
}

std::vector<int32_t> cycling_labels(int64_t batch) {
  std::vector<int32_t> labels(static_cast<size_t>(batch));
  for (size_t i = 0; i < labels.size(); ++i) labels[i] = static_cast<int32_t>(i % kClasses);
  return labels;
}

void report_images(benchmark::State& state, int64_t batch) {
  state.counters["img/s"] = benchmark::Counter(static_cast<double>(batch),
                                               benchmark::Counter::kIsIterationInvariantRate);
}

void train_step(benchmark::State& state, const StepCase& c) {
  ModelOptions options;
  options.image_size = c.size;
  auto model = create_model<Cpu>(c.model, kClasses, options);
  model->set_input_grad(false);  // as skinnet::Trainer (and PyTorch for images without requires_grad)
  Adam<Cpu> adam(model->parameters(), AdamOptions{});
  SoftmaxCrossEntropy<Cpu> loss;
  const auto images = random_images(c.batch, c.size);
  const auto labels = cycling_labels(c.batch);
  uint32_t step = 0;
  auto one_step = [&] {
    model->set_step(step++);
    Tensor<Cpu> logits = model->forward(images, Mode::Train);
    benchmark::DoNotOptimize(loss.forward(logits, labels));
    model->zero_grad();
    model->backward(loss.backward());
    adam.step();
  };
  // The first steps of a process allocate every buffer fresh from the kernel (page faults: the second
  // SE-ResNet-50 step measured 2.5x slower than the third), so steady state starts later.
  for (int i = 0; i < kWarmupSteps; ++i) one_step();
  for (auto _ : state) one_step();
  report_images(state, c.batch);
}

void inference_step(benchmark::State& state, const StepCase& c) {
  ModelOptions options;
  options.image_size = c.size;
  auto model = create_model<Cpu>(c.model, kClasses, options);
  const auto images = random_images(c.batch, c.size);
  auto one_step = [&] {
    Tensor<Cpu> logits = model->forward(images, Mode::Infer);
    benchmark::DoNotOptimize(logits.data());
  };
  for (int i = 0; i < kWarmupSteps; ++i) one_step();
  for (auto _ : state) one_step();
  report_images(state, c.batch);
}

std::vector<std::string> models_from_env() {
  const char* env = std::getenv("SKINNET_BENCH_MODELS");
  std::stringstream list(env && *env ? env : "seresnet50,xception,efficientnet_b0");
  std::vector<std::string> models;
  for (std::string m; std::getline(list, m, ',');)
    if (!m.empty()) models.push_back(m);
  return models;
}

int64_t int_from_env(const char* name, int64_t fallback) {
  const char* env = std::getenv(name);
  return env && *env ? std::strtoll(env, nullptr, 10) : fallback;
}

}  // namespace

int main(int argc, char** argv) {
  const int64_t batch = int_from_env("SKINNET_BENCH_BATCH", 16);
  const int64_t size = int_from_env("SKINNET_BENCH_SIZE", 224);
  // A fixed count: Google Benchmark would otherwise call each case twice (a probe, then the timed run),
  // building the model and running the warm-up steps each time.
  const int64_t steps = int_from_env("SKINNET_BENCH_STEPS", 5);
  for (const auto& m : models_from_env()) {
    const StepCase c{m, batch, size};
    const std::string suffix = "/" + m + "/" + std::to_string(batch) + "/" + std::to_string(size);
    // A step takes seconds on two cores: a few timed iterations, wall-clock time (the library's own
    // OpenMP threads do the work); the warm-up steps run inside the benchmark function.
    benchmark::RegisterBenchmark(("TrainStep" + suffix).c_str(), train_step, c)
        ->Unit(benchmark::kMillisecond)
        ->Iterations(steps)
        ->UseRealTime();
    benchmark::RegisterBenchmark(("InferStep" + suffix).c_str(), inference_step, c)
        ->Unit(benchmark::kMillisecond)
        ->Iterations(steps)
        ->UseRealTime();
  }
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
