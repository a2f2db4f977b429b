#pragma once
// `skinnet info`: what this build of skinnet is and which devices it can use.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <string>

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

inline void register_info(CLI::App& app) {
  auto* cmd = app.add_subcommand("info", "Show the build configuration and available devices");
  cmd->callback([] {
    std::printf("skinnet %s\n", version());
    std::printf("devices:\n");
    std::printf("  cpu   %d OpenMP thread(s), SIMD GEMM micro-kernel: %s\n", max_threads(), simd_target());
#if SKINNET_BUILT_WITH_EMULATOR
    std::printf("  cuda  emulated on the CPU (skinnet's CUDA emulator; correctness, not speed)\n");
#else
    std::printf("  cuda  not available in this build\n");
#endif
    std::printf("CUDA kernels: compiled by nvcc for sm_80/sm_90 in CI%s; tested through the emulator;\n",
                SKINNET_BUILT_WITH_NVCC_CHECK ? " (nvcc found at configure time)" : " (nvcc not found here)");
    std::printf("              never run on a real GPU by this project so far.\n");
  });
}

}  // namespace skinnet::cli
