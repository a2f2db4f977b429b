// The emulated CUDA runtime API: memory (poisoning, copies, bounds checks), error reporting,
// streams, events and device queries.
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "skinnet/cuda.hpp"
#include "tests/emu/test_emulator_util.hpp"

using namespace skinnet;
using emu_test::DeviceBuffer;

namespace {
__global__ void scale(float* x, int n, float s) {
  const int i = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  if (i < n) x[i] *= s;
}
}  // namespace

TEST_CASE("emulator memory: new allocations hold the NaN poison pattern") {
  const std::size_t n = 1001;
  DeviceBuffer<float> f(n);
  for (float v : f.download()) {
    REQUIRE(std::isnan(v));
    CHECK(emu_test::bits_of(v) == 0x7FFFFFFFu);
  }
  DeviceBuffer<double> d(17);
  for (double v : d.download()) CHECK(std::isnan(v));
  DeviceBuffer<int> i(5);
  for (int v : i.download()) CHECK(v == 0x7FFFFFFF);
  // An odd byte count is poisoned to its last byte.
  unsigned char* bytes = nullptr;
  SKN_CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&bytes), 7));
  unsigned char host[7];
  SKN_CUDA_CHECK(cudaMemcpy(host, bytes, 7, cudaMemcpyDeviceToHost));
  const unsigned char expected[7] = {0xFF, 0xFF, 0xFF, 0x7F, 0xFF, 0xFF, 0xFF};
  for (int k = 0; k < 7; ++k) CHECK(host[k] == expected[k]);
  SKN_CUDA_CHECK(cudaFree(bytes));
}

TEST_CASE("emulator memory: host-device-device-host round trip, memset and a kernel in between") {
  const int n = 300;
  std::vector<float> host(n);
  for (int k = 0; k < n; ++k) host[k] = 0.25f * static_cast<float>(k) - 3.0f;
  DeviceBuffer<float> a(host), b(n);
  SKN_CUDA_CHECK(cudaMemcpy(b.get(), a.get(), n * sizeof(float), cudaMemcpyDeviceToDevice));
  SKN_LAUNCH(scale, (n + 127) / 128, 128, 0, nullptr, b.get(), n, -2.0f);
  const std::vector<float> out = b.download();
  for (int k = 0; k < n; ++k) CHECK(out[k] == -2.0f * host[k]);
  CHECK(a.download() == host);  // the source is untouched

  SKN_CUDA_CHECK(cudaMemset(b.get(), 0, n * sizeof(float)));
  for (float v : b.download()) CHECK(v == 0.0f);
  cudaStream_t s;
  SKN_CUDA_CHECK(cudaStreamCreate(&s));
  SKN_CUDA_CHECK(cudaMemsetAsync(b.get() + 10, 0xFF, 4, s));
  SKN_CUDA_CHECK(cudaMemcpyAsync(a.get(), b.get(), n * sizeof(float), cudaMemcpyDeviceToDevice, s));
  SKN_CUDA_CHECK(cudaStreamSynchronize(s));
  SKN_CUDA_CHECK(cudaStreamDestroy(s));
  const std::vector<float> c = a.download();
  CHECK(emu_test::bits_of(c[10]) == 0xFFFFFFFFu);
  CHECK(c[9] == 0.0f);
  CHECK(c[11] == 0.0f);
}

TEST_CASE("emulator memory: copies and memsets outside an allocation are rejected") {
  DeviceBuffer<float> d(16);
  std::vector<float> host(32, 1.0f);
  CHECK(cudaMemcpy(d.get(), host.data(), 17 * sizeof(float), cudaMemcpyHostToDevice) == cudaErrorInvalidValue);
  CHECK(cudaMemcpy(host.data(), d.get() + 8, 9 * sizeof(float), cudaMemcpyDeviceToHost) == cudaErrorInvalidValue);
  CHECK(cudaMemcpy(host.data(), host.data() + 16, 4, cudaMemcpyDeviceToHost) == cudaErrorInvalidValue);  // not device
  CHECK(cudaMemset(d.get() + 1, 0, 16 * sizeof(float)) == cudaErrorInvalidValue);
  CHECK(cudaMemcpy(d.get(), host.data(), 4, static_cast<cudaMemcpyKind>(9)) == cudaErrorInvalidMemcpyDirection);
  CHECK(cudaGetLastError() == cudaErrorInvalidMemcpyDirection);
  CHECK(cudaGetLastError() == cudaSuccess);
  // Exactly in bounds is fine.
  CHECK(cudaMemcpy(d.get() + 8, host.data(), 8 * sizeof(float), cudaMemcpyHostToDevice) == cudaSuccess);
}

TEST_CASE("emulator memory: SKN_CUDA_CHECK names the call, the error and the place") {
  DeviceBuffer<float> d(4);
  std::vector<float> host(8);
  try {
    SKN_CUDA_CHECK(cudaMemcpy(host.data(), d.get(), 8 * sizeof(float), cudaMemcpyDeviceToHost));
    FAIL("expected CudaError");
  } catch (const CudaError& e) {
    const std::string msg = e.what();
    CHECK(msg.find("cudaMemcpy(host.data(), d.get(), 8 * sizeof(float), cudaMemcpyDeviceToHost)") != std::string::npos);
    CHECK(msg.find("cudaErrorInvalidValue") != std::string::npos);
    CHECK(msg.find("invalid argument") != std::string::npos);
    CHECK(msg.find("test_emulator_memory.cpp:") != std::string::npos);
  }
  CHECK(cudaGetLastError() == cudaSuccess);  // the check cleared the error it reported
}

TEST_CASE("emulator memory: cudaFree, cudaMalloc of 0 bytes and cudaMemGetInfo") {
  std::size_t free0 = 0, total = 0;
  SKN_CUDA_CHECK(cudaMemGetInfo(&free0, &total));
  CHECK(total >= free0);
  void* p = nullptr;
  SKN_CUDA_CHECK(cudaMalloc(&p, 1 << 20));
  CHECK(reinterpret_cast<std::uintptr_t>(p) % 256 == 0);
  std::size_t free1 = 0;
  SKN_CUDA_CHECK(cudaMemGetInfo(&free1, &total));
  CHECK(free0 - free1 == (1u << 20));
  SKN_CUDA_CHECK(cudaFree(p));
  CHECK(cudaFree(p) == cudaErrorInvalidDevicePointer);  // double free
  int on_stack = 0;
  CHECK(cudaFree(&on_stack) == cudaErrorInvalidDevicePointer);
  SKN_CUDA_CHECK(cudaFree(nullptr));
  void* z = reinterpret_cast<void*>(1);
  SKN_CUDA_CHECK(cudaMalloc(&z, 0));
  CHECK(z == nullptr);
  (void)cudaGetLastError();
}

TEST_CASE("emulator runtime: streams and events") {
  cudaEvent_t start, stop;
  SKN_CUDA_CHECK(cudaEventCreate(&start));
  SKN_CUDA_CHECK(cudaEventCreate(&stop));
  float ms = -1.0f;
  CHECK(cudaEventElapsedTime(&ms, start, stop) == cudaErrorNotReady);
  DeviceBuffer<float> x(std::vector<float>(4096, 1.0f));
  SKN_CUDA_CHECK(cudaEventRecord(start));
  SKN_LAUNCH(scale, 32, 128, 0, nullptr, x.get(), 4096, 3.0f);
  SKN_CUDA_CHECK(cudaEventRecord(stop));
  SKN_CUDA_CHECK(cudaEventSynchronize(stop));
  SKN_CUDA_CHECK(cudaEventElapsedTime(&ms, start, stop));
  CHECK(ms >= 0.0f);
  SKN_CUDA_CHECK(cudaEventDestroy(start));
  SKN_CUDA_CHECK(cudaEventDestroy(stop));
  CHECK(cudaEventDestroy(reinterpret_cast<cudaEvent_t>(std::uintptr_t{0x40})) == cudaErrorInvalidResourceHandle);
  cudaStream_t s;
  SKN_CUDA_CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  SKN_CUDA_CHECK(cudaStreamSynchronize(s));
  SKN_CUDA_CHECK(cudaStreamDestroy(s));
  CHECK(cudaStreamDestroy(reinterpret_cast<cudaStream_t>(std::uintptr_t{0x40})) == cudaErrorInvalidResourceHandle);
  SKN_CUDA_CHECK(cudaDeviceSynchronize());
  (void)cudaGetLastError();
}

TEST_CASE("emulator runtime: one emulated device with sm_80 limits") {
  int count = 0;
  SKN_CUDA_CHECK(cudaGetDeviceCount(&count));
  CHECK(count == 1);
  SKN_CUDA_CHECK(cudaSetDevice(0));
  CHECK(cudaSetDevice(1) == cudaErrorInvalidDevice);
  (void)cudaGetLastError();
  cudaDeviceProp p;
  SKN_CUDA_CHECK(cudaGetDeviceProperties(&p, 0));
  CHECK(p.warpSize == 32);
  CHECK(p.maxThreadsPerBlock == 1024);
  CHECK(p.maxThreadsDim[2] == 64);
  CHECK(p.maxGridSize[1] == 65535);
  CHECK(p.sharedMemPerBlock == 48 * 1024);
  CHECK(p.sharedMemPerBlockOptin == 166912);
  CHECK(p.regsPerMultiprocessor == 65536);
  CHECK(p.multiProcessorCount >= 1);
  CHECK(std::string(p.name).find("emulator") != std::string::npos);
  CHECK(std::string(cudaGetErrorString(cudaErrorInvalidConfiguration)) == "invalid configuration argument");
}

TEST_CASE("emulator runtime: vector types carry CUDA's size and alignment") {
  CHECK(alignof(float4) == 16);
  CHECK(alignof(float2) == 8);
  CHECK(sizeof(float3) == 12);
  CHECK(alignof(int4) == 16);
  CHECK(alignof(double2) == 16);
  CHECK(alignof(uchar4) == 4);
  const float4 v = make_float4(1, 2, 3, 4);
  CHECK(v.w == 4.0f);
  const dim3 d(5);
  CHECK((d.x == 5 && d.y == 1 && d.z == 1));
}

TEST_CASE("emulator memory: Tensor<Cuda> round trip, clone, zeros, and poisoned fresh tensors") {
  const Shape shape = Shape::nhwc(2, 3, 4, 5);
  std::vector<float> host(static_cast<std::size_t>(shape.numel()));
  for (std::size_t k = 0; k < host.size(); ++k) host[k] = static_cast<float>(k) * 0.5f - 7.0f;
  const auto cpu = Tensor<Cpu>::from_vector(shape, host);
  const Tensor<Cuda> gpu = to_device<Cuda>(cpu);
  Tensor<Cuda> copy = gpu.clone();
  CHECK(copy.to_vector() == host);
  CHECK(to_host(gpu).to_vector() == host);
  CHECK(Tensor<Cuda>::zeros(shape).to_vector() == std::vector<float>(host.size(), 0.0f));
  for (float v : Tensor<Cuda>(shape).to_vector()) CHECK(std::isnan(v));  // never written: poison
  Tensor<Cuda> moved = std::move(copy);
  CHECK(moved.to_vector() == host);
  CHECK_FALSE(DeviceMemory<Cuda>::kCaching);  // every emulated buffer is its own allocation (ASan bounds)
}

TEST_CASE("emulator memory: the caching allocator reuses blocks by rounded size") {
  cuda::CachingAllocator alloc;
  CHECK(cuda::CachingAllocator::rounded_size(1) == 512);
  CHECK(cuda::CachingAllocator::rounded_size(513) == 1024);
  CHECK(cuda::CachingAllocator::rounded_size((1u << 20) + 1) == (2u << 20));
  void* a = alloc.allocate(1000);
  CHECK(alloc.in_use_bytes() == 1024);
  alloc.release(a);
  CHECK(alloc.cached_bytes() == 1024);
  void* b = alloc.allocate(700);  // same 1024-byte bin: the cached block comes back
  CHECK(b == a);
  CHECK(alloc.cached_bytes() == 0);
  void* c = alloc.allocate(2000);
  CHECK(c != a);
  CHECK_THROWS_AS(alloc.release(reinterpret_cast<void*>(std::uintptr_t{0x1000})), CudaError);
  alloc.release(b);
  alloc.release(c);
  std::size_t free_before = 0, total = 0;
  SKN_CUDA_CHECK(cudaMemGetInfo(&free_before, &total));
  alloc.empty_cache();
  std::size_t free_after = 0;
  SKN_CUDA_CHECK(cudaMemGetInfo(&free_after, &total));
  CHECK(free_after - free_before == 1024 + 2048);
  CHECK(alloc.cached_bytes() == 0);
  CHECK_THROWS_WITH_AS(alloc.allocate(std::size_t(64) << 30), doctest::Contains("cannot allocate"), CudaError);
}
