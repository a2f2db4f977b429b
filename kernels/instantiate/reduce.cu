// nvcc-only translation unit (scripts/check-kernels.sh, kernels/CMakeLists.txt) for kernels/reduce.cuh (the
// deterministic column sums; global average pooling). Taking the address of every host launcher of
// include/skinnet/cuda/global_pool.hpp makes nvcc compile it — the real <<<>>> launch path — and with it
// every kernel template specialisation it launches, so ptxas reports each one.
#include <tuple>

#include "skinnet/cuda/global_pool.hpp"

namespace skinnet::cuda {

extern const auto reduce_launchers = std::make_tuple(&global_avg_pool_forward, &global_avg_pool_backward);

}  // namespace skinnet::cuda
