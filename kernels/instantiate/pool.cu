// nvcc-only translation unit (scripts/check-kernels.sh, kernels/CMakeLists.txt): explicit
// instantiations of every pooling kernel the library launches (kernels/pool.cuh), so ptxas compiles
// each one and reports its registers, shared memory and spills. The host launchers are instantiated
// too, compiling the real <<<>>> launch path of include/skinnet/cuda/pool.hpp.
#include "skinnet/cuda/pool.hpp"

namespace skinnet::cuda {

template __global__ void kernels::max_pool_forward<float>(kernels::ConvDims, const float*, float*);
template __global__ void kernels::max_pool_backward<float>(kernels::ConvDims, const float*, const float*, float*);
template __global__ void kernels::avg_pool_forward<float>(kernels::ConvDims, const float*, float*);
template __global__ void kernels::avg_pool_backward<float>(kernels::ConvDims, const float*, float*);

// The public ops (inline functions: taking their addresses makes nvcc emit them and their launches).
using PoolForwardFn = Tensor<Cuda> (*)(const Tensor<Cuda>&, const ConvGeometry&);
using MaxPoolBackwardFn = Tensor<Cuda> (*)(const Tensor<Cuda>&, const Tensor<Cuda>&, const ConvGeometry&);
[[maybe_unused]] PoolForwardFn max_pool_forward_entry = &max_pool2d_forward;
[[maybe_unused]] MaxPoolBackwardFn max_pool_backward_entry = &max_pool2d_backward;
[[maybe_unused]] PoolForwardFn avg_pool_forward_entry = &avg_pool2d_forward;
[[maybe_unused]] PoolForwardFn avg_pool_backward_entry = &avg_pool2d_backward;

}  // namespace skinnet::cuda
