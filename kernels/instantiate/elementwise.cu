// nvcc-only translation unit (scripts/check-kernels.sh, kernels/CMakeLists.txt) for kernels/elementwise.cuh
// (and Dense, whose bias kernel lives there). Taking the address of every host launcher of
// include/skinnet/cuda/elementwise.hpp and dense.hpp makes nvcc compile it — the real <<<>>> launch path —
// and with it every kernel template specialisation it launches, so ptxas reports each one.
#include <tuple>

#include "skinnet/cuda/dense.hpp"
#include "skinnet/cuda/elementwise.hpp"

namespace skinnet::cuda {

extern const auto elementwise_launchers = std::make_tuple(&add, &add_into, &dense_forward, &dense_backward);

}  // namespace skinnet::cuda
