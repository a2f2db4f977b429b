// Deliberately broken: the kernel indexes dynamic shared memory by blockDim.x + threadIdx.x but the
// launch provides only blockDim.x floats. Registered only in the AddressSanitizer build, where it passes
// only if ASan reports the overflow: each block's dynamic shared memory is its own exact-size buffer.
#include <cstdio>

#include "skinnet/cuda/runtime.hpp"

__global__ void write_past_dynamic_smem(float* out) {
  SKN_DYNAMIC_SHARED(float, buf);
  buf[blockDim.x + threadIdx.x] = 1.0f;  // bug: the buffer holds blockDim.x floats
  __syncthreads();
  out[threadIdx.x] = buf[threadIdx.x];
}

int main() {
  const int n = 32;
  float* out = nullptr;
  SKN_CUDA_CHECK(cudaMalloc(&out, n * sizeof(float)));
  SKN_LAUNCH(write_past_dynamic_smem, 1, n, n * sizeof(float), nullptr, out);
  SKN_CUDA_CHECK(cudaFree(out));
  std::puts("kernel finished: the shared-memory overflow went unnoticed");
  return 0;
}
