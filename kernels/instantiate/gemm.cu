// nvcc-only translation unit (scripts/check-kernels.sh, kernels/CMakeLists.txt): explicit
// instantiations of every SGEMM kernel the library launches, so ptxas compiles each one and reports
// its registers, shared memory and spills. Instantiating the host launchers also compiles the real
// <<<>>> launch path of include/skinnet/cuda/gemm.hpp.
#include "skinnet/cuda/gemm.hpp"

namespace skinnet::cuda {

#define SKN_INSTANTIATE_SGEMM(Tile)                                                                    \
  template __global__ void kernels::sgemm<kernels::Tile, false, false>(int, int, int, float, const float*, \
                                                                       int64_t, const float*, int64_t, \
                                                                       float, float*, int64_t);        \
  template __global__ void kernels::sgemm<kernels::Tile, false, true>(int, int, int, float, const float*, \
                                                                      int64_t, const float*, int64_t,  \
                                                                      float, float*, int64_t);         \
  template __global__ void kernels::sgemm<kernels::Tile, true, false>(int, int, int, float, const float*, \
                                                                      int64_t, const float*, int64_t,  \
                                                                      float, float*, int64_t);         \
  template __global__ void kernels::sgemm<kernels::Tile, true, true>(int, int, int, float, const float*, \
                                                                     int64_t, const float*, int64_t,   \
                                                                     float, float*, int64_t);          \
  template void detail::launch_sgemm<kernels::Tile>(Trans, Trans, int, int, int, float, const float*,  \
                                                    int64_t, const float*, int64_t, float, float*,      \
                                                    int64_t, cudaStream_t);

SKN_INSTANTIATE_SGEMM(GemmTileLarge)
SKN_INSTANTIATE_SGEMM(GemmTileSmall)

#undef SKN_INSTANTIATE_SGEMM

}  // namespace skinnet::cuda
