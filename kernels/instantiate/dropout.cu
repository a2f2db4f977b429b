// nvcc-only translation unit (scripts/check-kernels.sh, kernels/CMakeLists.txt) for kernels/dropout.cuh.
// Taking the address of every host launcher of include/skinnet/cuda/dropout.hpp makes nvcc compile it — the
// real <<<>>> launch path — and with it every kernel template specialisation it launches, so ptxas reports
// each one.
#include <tuple>

#include "skinnet/cuda/dropout.hpp"

namespace skinnet::cuda {

extern const auto dropout_launchers = std::make_tuple(
    &dropout_forward, &dropout_backward, &drop_connect_forward, &drop_connect_backward);

}  // namespace skinnet::cuda
