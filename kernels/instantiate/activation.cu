// nvcc-only translation unit (scripts/check-kernels.sh) for kernels/activation.cuh: taking the address
// of the host launchers of include/skinnet/cuda/activation.hpp compiles them and every activation's
// forward and backward kernel they dispatch to, so ptxas reports each one.
#include <tuple>

#include "skinnet/cuda/activation.hpp"

namespace skinnet::cuda {

extern const auto activation_launchers = std::make_tuple(&activation_forward, &activation_backward);

}  // namespace skinnet::cuda
