#pragma once
// `skinnet info`: what this build of skinnet is and which devices it can use; with --model, one zoo
// model's parameters, multiply-adds and layer table (models/summary.hpp); with --models, the zoo.
//
//   skinnet info
//   skinnet info --models
//   skinnet info --model seresnet50 [--image-size 224] [--classes 7]
#include <CLI/CLI.hpp>

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>

#include "skinnet/models/summary.hpp"
#include "skinnet/models/zoo.hpp"
#include "skinnet/skinnet.hpp"

namespace skinnet::cli {

inline const char* simd_target() {
#if defined(__AVX512F__)
  return "AVX-512";
#elif defined(__AVX2__) && defined(__FMA__)
  return "AVX2+FMA";
#else
  return "portable (no AVX2/AVX-512 at compile time)";
#endif
}

inline void print_build_info() {
  std::printf("skinnet %s\n", version());
  std::printf("devices:\n");
  std::printf("  cpu   %d OpenMP thread(s), SIMD GEMM micro-kernel: %s\n", max_threads(), simd_target());
#if defined(SKINNET_CUDA_EMULATION)
  std::printf("  cuda  emulated on the CPU (skinnet's CUDA emulator; correctness, not speed)\n");
#else
  std::printf("  cuda  not available in this build\n");
#endif
  std::printf("CUDA kernels: compiled by nvcc for sm_80/sm_90 in CI%s; tested through the emulator;\n",
              SKINNET_BUILT_WITH_NVCC_CHECK ? " (nvcc found at configure time)" : " (nvcc not found here)");
  std::printf("              never run on a real GPU by this project so far.\n");
}

// One line per zoo model: what it is and its default resolution. Nothing is built (EfficientNet-B7
// alone is 66 M parameters); `--model NAME` gives the exact counts.
inline void print_zoo() {
  std::printf("%-16s %-8s %s\n", "model", "default", "architecture");
  for (const std::string& name : model_names()) {
    std::string what = "see docs/architectures.md";
    int64_t size = 224;
    if (name == "simple_cnn") {
      what = "plain CNN baseline: 4 x (conv 3x3, BN+ReLU, max pool), widths 32..256";
      size = 64;
    } else if (name == "xception") {
      what = "Xception (Keras): entry/middle/exit flows of separable convolutions";
      size = 299;
    } else if (name.rfind("efficientnet_b", 0) == 0) {
      const int variant = name.back() - '0';
      const EfficientNetScaling sc = efficientnet_scaling(variant);
      char buf[160];
      std::snprintf(buf, sizeof buf, "EfficientNet-B%d: MBConv + SE, width x%.1f, depth x%.1f, dropout %.1f", variant,
                    sc.width, sc.depth, static_cast<double>(sc.dropout));
      what = buf;
      size = sc.resolution;
    } else if (name.find("resnet") != std::string::npos) {
      const ResNetSpec spec = resnet_spec(name);
      what = std::string(spec.se ? "SE-ResNet" : "ResNet") + "-" + name.substr(name.find("resnet") + 6) + ": " +
             (spec.bottleneck ? "bottleneck" : "basic") + " blocks" +
             (spec.se ? " with squeeze-and-excitation" : "");
    }
    std::printf("%-16s %3lldx%-4lld %s\n", name.c_str(), static_cast<long long>(size), static_cast<long long>(size),
                what.c_str());
  }
  std::printf("\n`skinnet info --model NAME [--image-size S] [--classes N]` prints parameters, multiply-adds and layers.\n");
}

inline void print_model_summary(const std::string& name, int64_t image_size, int64_t classes) {
  ModelOptions opt;
  opt.image_size = image_size;
  auto model = create_model<Cpu>(name, classes, opt);
  std::fputs(format_summary(summarize<Cpu>(*model, image_size)).c_str(), stdout);
}

inline void register_info(CLI::App& app) {
  struct Args {
    std::string model;
    int64_t image_size = 0;
    int64_t classes = 1000;
    bool models = false;
  };
  auto args = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("info", "Show the build configuration and available devices, or describe a model");
  cmd->add_flag("--models", args->models, "List the model zoo");
  cmd->add_option("--model", args->model, "Print a zoo model's parameters, multiply-adds and layer table");
  cmd->add_option("--image-size", args->image_size, "Input side in pixels for --model (default: the model's)")
      ->check(CLI::Range(int64_t{32}, int64_t{4096}));
  cmd->add_option("--classes", args->classes, "Classifier outputs for --model")
      ->capture_default_str()
      ->check(CLI::Range(int64_t{1}, int64_t{1000000}));
  cmd->callback([args] {
    if (args->models) {
      print_zoo();
    } else if (!args->model.empty()) {
      print_model_summary(args->model, args->image_size, args->classes);
    } else {
      print_build_info();
    }
  });
}

}  // namespace skinnet::cli
