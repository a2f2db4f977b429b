#pragma once
// skinnet's CUDA emulator: runs CUDA kernels written for nvcc on the CPU, compiled by g++.
// Include "skinnet/cuda/runtime.hpp" instead of this header (it picks nvcc's runtime or this).
// How it works, what it catches and its limits: docs/emulator.md.
#include "skinnet/cuda/emulator/config.hpp"
#include "skinnet/cuda/emulator/vector_types.hpp"
#include "skinnet/cuda/emulator/error.hpp"
#include "skinnet/cuda/emulator/limits.hpp"
#include "skinnet/cuda/emulator/thread_order.hpp"
#include "skinnet/cuda/emulator/builtins.hpp"
#include "skinnet/cuda/emulator/warp.hpp"
#include "skinnet/cuda/emulator/atomics.hpp"
#include "skinnet/cuda/emulator/device_math.hpp"
#include "skinnet/cuda/emulator/stream.hpp"
#include "skinnet/cuda/emulator/memory.hpp"
#include "skinnet/cuda/emulator/launch.hpp"
