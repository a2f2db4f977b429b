#pragma once
// The Cuda backend: include this to use Tensor<Cuda> and the CUDA ops. Compiles with nvcc (real GPU)
// or with g++ and SKINNET_CUDA_EMULATION (the CPU emulator; link skinnet::emulator).
#include "skinnet/core/tensor.hpp"
#include "skinnet/cuda/runtime.hpp"
#include "skinnet/cuda/caching_allocator.hpp"
#include "skinnet/cuda/device_memory.hpp"
#include "skinnet/cuda/gemm.hpp"
#include "skinnet/cuda/conv2d.hpp"
#include "skinnet/cuda/depthwise.hpp"
#include "skinnet/cuda/pool.hpp"
