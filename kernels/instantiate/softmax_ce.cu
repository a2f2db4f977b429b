// nvcc-only translation unit (scripts/check-kernels.sh, kernels/CMakeLists.txt) for kernels/softmax_ce.cuh.
// Taking the address of every host launcher of include/skinnet/cuda/softmax_ce.hpp makes nvcc compile it —
// the real <<<>>> launch path — and with it every kernel template specialisation it launches, so ptxas
// reports each one.
#include <tuple>

#include "skinnet/cuda/softmax_ce.hpp"

namespace skinnet::cuda {

extern const auto softmax_ce_launchers = std::make_tuple(&softmax_cross_entropy);

}  // namespace skinnet::cuda
