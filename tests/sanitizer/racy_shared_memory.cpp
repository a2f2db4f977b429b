// Deliberately broken: a shared-memory tile reversal WITHOUT the __syncthreads between writing the
// tile and reading it back, so thread t reads tile[n-1-t] while thread n-1-t may not have written it.
// Registered as a test only in the ThreadSanitizer build (tests/CMakeLists.txt), where it passes only
// if TSan reports "ThreadSanitizer: data race": proof that the emulator's fiber annotations let TSan
// see races between the emulated threads of a block (docs/emulator.md).
#include <cstdio>
#include <vector>

#include "skinnet/cuda/runtime.hpp"

__global__ void reverse_without_barrier(const float* in, float* out) {
  __shared__ float tile[64];
  const unsigned t = threadIdx.x;
  tile[t] = in[t];
  // missing: __syncthreads();
  out[t] = tile[blockDim.x - 1 - t];
}

int main() {
  const int n = 64;
  std::vector<float> host(n, 1.0f);
  float *in = nullptr, *out = nullptr;
  SKN_CUDA_CHECK(cudaMalloc(&in, n * sizeof(float)));
  SKN_CUDA_CHECK(cudaMalloc(&out, n * sizeof(float)));
  SKN_CUDA_CHECK(cudaMemcpy(in, host.data(), n * sizeof(float), cudaMemcpyHostToDevice));
  SKN_LAUNCH(reverse_without_barrier, 1, n, 0, nullptr, in, out);
  SKN_CUDA_CHECK(cudaFree(in));
  SKN_CUDA_CHECK(cudaFree(out));
  std::puts("kernel finished (TSan must have reported the race above)");
  return 0;
}
