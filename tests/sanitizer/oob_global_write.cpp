// Deliberately broken: the bounds check is off by one (`i <= n`), so the last thread writes one float
// past the end of a cudaMalloc'd buffer. Registered as a test only in the AddressSanitizer build, where
// it passes only if ASan reports the heap-buffer-overflow: proof that emulated device buffers keep
// their exact bounds (no caching allocator, no rounding) under the emulator.
#include <cstdio>

#include "skinnet/cuda/runtime.hpp"

__global__ void fill_off_by_one(float* out, int n) {
  const int i = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  if (i <= n) out[i] = 1.0f;  // bug: should be i < n
}

int main() {
  const int n = 100;
  float* out = nullptr;
  SKN_CUDA_CHECK(cudaMalloc(&out, n * sizeof(float)));
  SKN_LAUNCH(fill_off_by_one, 1, 128, 0, nullptr, out, n);
  SKN_CUDA_CHECK(cudaFree(out));
  std::puts("kernel finished: the out-of-bounds write went unnoticed");
  return 0;
}
