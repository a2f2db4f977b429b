// nvcc-only translation unit (scripts/check-kernels.sh, kernels/CMakeLists.txt): explicit
// instantiations of every Conv2D kernel the library launches (kernels/conv.cuh), so ptxas compiles
// each one and reports its registers, shared memory and spills. Instantiating the host launchers
// compiles the real <<<>>> launch path of include/skinnet/cuda/conv2d.hpp as well.
#include "skinnet/cuda/conv2d.hpp"

namespace skinnet::cuda {

#define SKN_INSTANTIATE_CONV_GEMM(Tile)                                                                    \
  template __global__ void kernels::conv_gemm<kernels::Tile, kernels::ConvForwardProblem>(                 \
      kernels::ConvForwardProblem, int);                                                                   \
  template __global__ void kernels::conv_gemm<kernels::Tile, kernels::ConvBackwardInputProblem>(           \
      kernels::ConvBackwardInputProblem, int);                                                             \
  template __global__ void kernels::conv_gemm<kernels::Tile, kernels::ConvBackwardWeightProblem>(          \
      kernels::ConvBackwardWeightProblem, int);

SKN_INSTANTIATE_CONV_GEMM(ConvTile)
SKN_INSTANTIATE_CONV_GEMM(ConvTileNarrow)
#undef SKN_INSTANTIATE_CONV_GEMM

template __global__ void kernels::column_sums<float>(const float*, int, int, int, float*);
template __global__ void kernels::add_split_sums<float>(const float*, int, int64_t, int64_t, float*);

// The public ops (inline functions: taking their addresses makes nvcc emit them and their launches).
using ConvForwardFn = Tensor<Cuda> (*)(const Tensor<Cuda>&, const Tensor<Cuda>&, const Tensor<Cuda>*,
                                       const ConvGeometry&);
using ConvBackwardInputFn = Tensor<Cuda> (*)(const Tensor<Cuda>&, const Tensor<Cuda>&, const ConvGeometry&);
using ConvBackwardParamsFn = void (*)(const Tensor<Cuda>&, const Tensor<Cuda>&, const ConvGeometry&,
                                      Tensor<Cuda>&, Tensor<Cuda>*);
[[maybe_unused]] ConvForwardFn conv_forward_entry = &conv2d_forward;
[[maybe_unused]] ConvBackwardInputFn conv_backward_input_entry = &conv2d_backward_input;
[[maybe_unused]] ConvBackwardParamsFn conv_backward_params_entry = &conv2d_backward_params;

}  // namespace skinnet::cuda
