// Deliberately broken: a float4 load from an address that is only 4-byte aligned (base + 1 float).
// On a GPU this faults (misaligned address); in the emulator float4 carries CUDA's 16-byte alignment,
// so the UndefinedBehaviorSanitizer build reports the load. Registered only in that build.
#include <cstdio>

#include "skinnet/cuda/runtime.hpp"

__global__ void load_misaligned(const float* in, float* out) {
  const float4 v = reinterpret_cast<const float4*>(in + 1)[threadIdx.x];  // bug: in + 1 is not 16-aligned
  out[threadIdx.x] = v.x + v.y + v.z + v.w;
}

int main() {
  const int n = 32;
  float *in = nullptr, *out = nullptr;
  SKN_CUDA_CHECK(cudaMalloc(&in, (4 * n + 4) * sizeof(float)));
  SKN_CUDA_CHECK(cudaMemset(in, 0, (4 * n + 4) * sizeof(float)));
  SKN_CUDA_CHECK(cudaMalloc(&out, n * sizeof(float)));
  SKN_LAUNCH(load_misaligned, 1, n, 0, nullptr, in, out);
  SKN_CUDA_CHECK(cudaFree(in));
  SKN_CUDA_CHECK(cudaFree(out));
  std::puts("kernel finished: the misaligned float4 load went unnoticed");
  return 0;
}
