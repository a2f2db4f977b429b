// nvcc-only translation unit (scripts/check-kernels.sh, kernels/CMakeLists.txt): explicit
// instantiations of every depthwise-convolution kernel the library launches (kernels/depthwise.cuh),
// so ptxas compiles each one and reports its registers, shared memory and spills. The host launchers
// are instantiated too, compiling the real <<<>>> launch path of include/skinnet/cuda/depthwise.hpp.
#include "skinnet/cuda/depthwise.hpp"

namespace skinnet::cuda {

// K = 0: any kernel size (read from the dims); 3, 5, 7: the unrolled specialisations.
#define SKN_INSTANTIATE_DEPTHWISE(K)                                                                      \
  template __global__ void kernels::depthwise_forward<K>(kernels::ConvDims, const float*, const float*, \
                                                         const float*, float*);                         \
  template __global__ void kernels::depthwise_backward_input<K>(kernels::ConvDims, const float*,        \
                                                                const float*, float*);

SKN_INSTANTIATE_DEPTHWISE(0)
SKN_INSTANTIATE_DEPTHWISE(3)
SKN_INSTANTIATE_DEPTHWISE(5)
SKN_INSTANTIATE_DEPTHWISE(7)
#undef SKN_INSTANTIATE_DEPTHWISE

template __global__ void kernels::depthwise_weight_grad<float>(kernels::ConvDims, const float*, const float*, int,
                                                               int, float*);

// The public ops (inline functions: taking their addresses makes nvcc emit them and their launches).
using DwForwardFn = Tensor<Cuda> (*)(const Tensor<Cuda>&, const Tensor<Cuda>&, const Tensor<Cuda>*,
                                     const ConvGeometry&);
using DwBackwardInputFn = Tensor<Cuda> (*)(const Tensor<Cuda>&, const Tensor<Cuda>&, const ConvGeometry&);
using DwBackwardParamsFn = void (*)(const Tensor<Cuda>&, const Tensor<Cuda>&, const ConvGeometry&, Tensor<Cuda>&,
                                    Tensor<Cuda>*);
using DwBackwardFn = Tensor<Cuda> (*)(const Tensor<Cuda>&, const Tensor<Cuda>&, const Tensor<Cuda>&,
                                      const ConvGeometry&, Tensor<Cuda>&, Tensor<Cuda>*);
[[maybe_unused]] DwForwardFn depthwise_forward_entry = &depthwise_conv2d_forward;
[[maybe_unused]] DwBackwardInputFn depthwise_backward_input_entry = &depthwise_conv2d_backward_input;
[[maybe_unused]] DwBackwardParamsFn depthwise_backward_params_entry = &depthwise_conv2d_backward_params;
[[maybe_unused]] DwBackwardFn depthwise_backward_entry = &depthwise_conv2d_backward;

}  // namespace skinnet::cuda
