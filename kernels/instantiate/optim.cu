// nvcc-only translation unit (scripts/check-kernels.sh, kernels/CMakeLists.txt) for kernels/optim.cuh.
// Taking the address of every host launcher of include/skinnet/cuda/optim.hpp makes nvcc compile it — the
// real <<<>>> launch path — and with it every kernel template specialisation it launches, so ptxas reports
// each one.
#include <tuple>

#include "skinnet/cuda/optim.hpp"

namespace skinnet::cuda {

extern const auto optim_launchers = std::make_tuple(&sgd_update, &adam_update, &grad_sum_squares, &grad_scale);

}  // namespace skinnet::cuda
