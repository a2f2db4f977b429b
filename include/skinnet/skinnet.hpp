#pragma once
// Umbrella header: tensors, the CPU backend, every layer and the model zoo.
//
// Heavier parts have their own umbrellas, so a program only compiles what it uses:
//   <skinnet/data/all.hpp>           images, datasets, splits, augmentation, the loader (compiles stb)
//   <skinnet/train/trainer.hpp>      optimizers, schedules, metrics, checkpoints, the Trainer
//   <skinnet/models/saved_model.hpp> load a saved model and classify image files
//   <skinnet/cuda.hpp>               the Cuda backend (nvcc, or g++ with the skinnet::emulator target)
#include "skinnet/version.hpp"
#include "skinnet/core/error.hpp"
#include "skinnet/core/shape.hpp"
#include "skinnet/core/device.hpp"
#include "skinnet/core/tensor.hpp"
#include "skinnet/core/philox.hpp"
#include "skinnet/core/parallel.hpp"
#include "skinnet/core/conv_geometry.hpp"
#include "skinnet/cpu/gemm.hpp"
#include "skinnet/layers/module.hpp"
#include "skinnet/layers/activation.hpp"
#include "skinnet/layers/batchnorm.hpp"
#include "skinnet/layers/conv2d.hpp"
#include "skinnet/layers/dense.hpp"
#include "skinnet/layers/depthwise_conv2d.hpp"
#include "skinnet/layers/drop_connect.hpp"
#include "skinnet/layers/dropout.hpp"
#include "skinnet/layers/flatten.hpp"
#include "skinnet/layers/global_avg_pool.hpp"
#include "skinnet/layers/mbconv.hpp"
#include "skinnet/layers/pool.hpp"
#include "skinnet/layers/residual.hpp"
#include "skinnet/layers/se_block.hpp"
#include "skinnet/layers/separable_conv2d.hpp"
#include "skinnet/layers/sequential.hpp"
#include "skinnet/models/zoo.hpp"
#include "skinnet/train/loss.hpp"
