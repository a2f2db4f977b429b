// nvcc-only translation unit (scripts/check-kernels.sh, kernels/CMakeLists.txt) for kernels/se.cuh (and the
// SE gate gradient's column sum of kernels/reduce.cuh). Taking the address of every host launcher of
// include/skinnet/cuda/se.hpp makes nvcc compile it — the real <<<>>> launch path — and with it every
// kernel template specialisation it launches, so ptxas reports each one.
#include <tuple>

#include "skinnet/cuda/se.hpp"

namespace skinnet::cuda {

extern const auto se_launchers = std::make_tuple(&se_scale_forward, &se_gate_gradient, &se_input_gradient);

}  // namespace skinnet::cuda
