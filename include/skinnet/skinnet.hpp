#pragma once
// Umbrella header: the CPU side of skinnet. For the Cuda backend also include <skinnet/cuda.hpp>.
#include "skinnet/version.hpp"
#include "skinnet/core/error.hpp"
#include "skinnet/core/shape.hpp"
#include "skinnet/core/device.hpp"
#include "skinnet/core/tensor.hpp"
#include "skinnet/core/philox.hpp"
#include "skinnet/core/parallel.hpp"
#include "skinnet/cpu/gemm.hpp"
