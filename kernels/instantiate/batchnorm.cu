// nvcc-only translation unit (scripts/check-kernels.sh, kernels/CMakeLists.txt) for kernels/batchnorm.cuh.
// The kernels are templates on the fused activation, launched from the host launchers of
// include/skinnet/cuda/batchnorm.hpp through act::dispatch. Taking the address of every launcher makes
// nvcc compile it — the real <<<>>> launch path — and with it every kernel specialisation it can
// launch (all five activations, the statistics and backward column sums), so ptxas reports each one.
#include <tuple>

#include "skinnet/cuda/batchnorm.hpp"

namespace skinnet::cuda {

using BatchnormBackwardInto = void (*)(const Tensor<Cuda>&, const Tensor<Cuda>&, const Tensor<Cuda>&,
                                       const Tensor<Cuda>&, const Tensor<Cuda>&, const Tensor<Cuda>&, Act,
                                       Tensor<Cuda>&, Tensor<Cuda>&, Tensor<Cuda>&);
using BatchnormBackward = Tensor<Cuda> (*)(const Tensor<Cuda>&, const Tensor<Cuda>&, const Tensor<Cuda>&,
                                           const Tensor<Cuda>&, const Tensor<Cuda>&, const Tensor<Cuda>&, Act,
                                           Tensor<Cuda>&, Tensor<Cuda>&);

extern const auto batchnorm_launchers =
    std::make_tuple(&batchnorm_forward_train, &batchnorm_forward_infer,
                    static_cast<BatchnormBackwardInto>(&batchnorm_backward),
                    static_cast<BatchnormBackward>(&batchnorm_backward));

}  // namespace skinnet::cuda
