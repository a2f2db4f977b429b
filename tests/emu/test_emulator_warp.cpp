// Warp intrinsics (shuffles with every width, votes, __syncwarp) and atomics, checked against the CUDA
// programming guide's definitions written out as plain loops, in every thread order, including
// partial warps (a block size that is not a multiple of 32).
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <string>
#include <vector>

#include "tests/emu/test_emulator_util.hpp"

using namespace skinnet;
using emu_test::DeviceBuffer;

namespace {

enum Kind { kIdx, kUp, kDown, kXor };

// out[t] = the shuffle of in[t] by `kind` with parameter param (lane or delta) and width.
__global__ void shuffle_kernel(const float* in, float* out, int kind, int param, int width) {
  const unsigned t = threadIdx.x;
  const float v = in[t];
  float r = 0.0f;
  switch (kind) {
    case kIdx: r = __shfl_sync(0xFFFFFFFFu, v, param, width); break;
    case kUp: r = __shfl_up_sync(0xFFFFFFFFu, v, static_cast<unsigned>(param), width); break;
    case kDown: r = __shfl_down_sync(0xFFFFFFFFu, v, static_cast<unsigned>(param), width); break;
    case kXor: r = __shfl_xor_sync(0xFFFFFFFFu, v, param, width); break;
  }
  out[t] = r;
}

// The CUDA programming guide's definitions (not the PTX formulas the emulator uses); -1 = "the source
// lane does not exist" (the last warp of a block may be partial).
int reference_source(int kind, int lane, int param, int width, int lanes_in_warp) {
  const int group = lane / width;
  int src = lane;
  switch (kind) {
    case kIdx: src = group * width + (param % width); break;
    case kUp: src = (lane % width) >= param ? lane - param : lane; break;
    case kDown: src = (lane % width) + param < width ? lane + param : lane; break;
    case kXor: src = ((lane ^ param) / width > group) ? lane : (lane ^ param); break;
  }
  return src < lanes_in_warp ? src : -1;
}

__global__ void shuffle_double_and_int(const double* d, const long long* ll, double* d_out, long long* ll_out) {
  const unsigned t = threadIdx.x;
  d_out[t] = __shfl_xor_sync(0xFFFFFFFFu, d[t], 1);
  ll_out[t] = __shfl_sync(0xFFFFFFFFu, ll[t], 31 - static_cast<int>(t % 32));
}

// Warp sum by butterfly: every lane ends with the sum of its warp.
__global__ void warp_allreduce(const int* in, int* out) {
  int v = in[threadIdx.x];
  for (int offset = 16; offset > 0; offset /= 2) v += __shfl_xor_sync(0xFFFFFFFFu, v, offset);
  out[threadIdx.x] = v;
}

__global__ void votes(const int* pred, unsigned* ballot, int* any, int* all) {
  const int p = pred[threadIdx.x];
  ballot[threadIdx.x] = __ballot_sync(0xFFFFFFFFu, p);
  any[threadIdx.x] = __any_sync(0xFFFFFFFFu, p);
  all[threadIdx.x] = __all_sync(0xFFFFFFFFu, p);
}

// Two half-warps run separate shuffles with their own masks at the same time.
__global__ void half_warp_masks(const int* in, int* out) {
  const unsigned lane = threadIdx.x % 32;
  const unsigned mask = lane < 16 ? 0x0000FFFFu : 0xFFFF0000u;
  out[threadIdx.x] = __shfl_sync(mask, in[threadIdx.x], lane < 16 ? 3 : 20);
}

// Warp-synchronous exchange through shared memory, ordered by __syncwarp.
__global__ void syncwarp_exchange(const int* in, int* out) {
  __shared__ int buf[64];
  const unsigned t = threadIdx.x;
  buf[t] = in[t];
  __syncwarp();
  out[t] = buf[(t / 32) * 32 + (t + 1) % 32];
}

__global__ void shuffle_with_returned_lanes(const float* in, float* out) {
  if (threadIdx.x >= 16) return;
  out[threadIdx.x] = __shfl_down_sync(0xFFFFFFFFu, in[threadIdx.x], 1);
}

__global__ void lane_not_in_mask(float* out) { out[threadIdx.x] = __shfl_sync(0x1u, 1.0f, 0); }

__global__ void bad_width(float* out) { out[threadIdx.x] = __shfl_sync(0xFFFFFFFFu, 1.0f, 0, 12); }

__global__ void mixed_intrinsics(float* out) {
  if (threadIdx.x % 2 == 0) out[threadIdx.x] = __shfl_sync(0xFFFFFFFFu, 1.0f, 0);
  else out[threadIdx.x] = static_cast<float>(__ballot_sync(0xFFFFFFFFu, 1));
}

__global__ void global_atomics(int* counter, float* fsum, unsigned long long* big, int* imax, unsigned* cas_count) {
  const int gid = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x);
  atomicAdd(counter, 1);
  atomicAdd(fsum, 0.5f);
  atomicAdd(big, 1ull << 33);
  atomicMax(imax, (gid * 7919) % 1000);
  unsigned old = atomicAdd(cas_count, 0u), assumed;  // the classic CAS loop (atomic first read: no race)
  do {
    assumed = old;
    old = atomicCAS(cas_count, assumed, assumed + 2u);
  } while (old != assumed);
}

// Per-block histogram in shared memory, then merged into global memory.
__global__ void shared_histogram(const int* values, int n, int* hist) {
  __shared__ int local[16];
  if (threadIdx.x < 16) local[threadIdx.x] = 0;
  __syncthreads();
  for (int i = static_cast<int>(blockIdx.x * blockDim.x + threadIdx.x); i < n; i += gridDim.x * blockDim.x)
    atomicAdd(&local[values[i] % 16], 1);
  __syncthreads();
  if (threadIdx.x < 16) atomicAdd(&hist[threadIdx.x], local[threadIdx.x]);
}

__global__ void atomic_min_exch_sub(int* m, int* ex, int* sub) {
  atomicMin(m, -static_cast<int>(threadIdx.x));
  atomicExch(ex, 42);
  atomicSub(sub, 3);
}

}  // namespace

TEST_CASE("emulator: shuffles follow CUDA for every width, delta and lane, in full and partial warps") {
  for (unsigned n : {64u, 45u}) {  // 45: the second warp has 13 lanes
    std::vector<float> in(n);
    for (unsigned t = 0; t < n; ++t) in[t] = 1000.0f + static_cast<float>(t);
    DeviceBuffer<float> d_in(in), d_out(n);
    for (int kind : {kIdx, kUp, kDown, kXor}) {
      for (int width : {1, 2, 4, 8, 16, 32}) {
        for (int param : {0, 1, 3, 5, 8, 16, 31, 33}) {
          if (kind != kIdx && param >= 32) continue;  // only __shfl_sync defines lanes past 31 (modulo width)
          emu::ScopedThreadOrder guard(param % 2 ? emu::ThreadOrder::Reverse : emu::ThreadOrder::Forward);
          SKN_LAUNCH(shuffle_kernel, 1, n, 0, nullptr, d_in.get(), d_out.get(), kind, param, width);
          const std::vector<float> out = d_out.download();
          for (unsigned t = 0; t < n; ++t) {
            const unsigned warp = t / 32;
            const int lanes = static_cast<int>(std::min(32u, n - warp * 32));
            const int src = reference_source(kind, static_cast<int>(t % 32), param, width, lanes);
            if (src < 0) {
              CHECK_MESSAGE(std::isnan(out[t]), "reading a missing lane must give poison");
            } else {
              CHECK_MESSAGE(out[t] == in[warp * 32 + src], "kind ", kind, " width ", width, " param ", param,
                            " thread ", t);
            }
          }
        }
      }
    }
  }
}

TEST_CASE("emulator: shuffles move 64-bit values intact") {
  const unsigned n = 32;
  std::vector<double> d(n);
  std::vector<long long> ll(n);
  for (unsigned t = 0; t < n; ++t) {
    d[t] = 1.0 + t * 1e-12;
    ll[t] = (1ll << 40) + t;
  }
  DeviceBuffer<double> d_in(d), d_out(n);
  DeviceBuffer<long long> ll_in(ll), ll_out(n);
  SKN_LAUNCH(shuffle_double_and_int, 1, n, 0, nullptr, d_in.get(), ll_in.get(), d_out.get(), ll_out.get());
  const auto dout = d_out.download();
  const auto llout = ll_out.download();
  for (unsigned t = 0; t < n; ++t) {
    CHECK(dout[t] == d[t ^ 1]);
    CHECK(llout[t] == ll[31 - t]);
  }
}

TEST_CASE("emulator: butterfly warp reduction gives every lane the warp sum in every order") {
  const unsigned n = 128;
  std::vector<int> in(n);
  for (unsigned t = 0; t < n; ++t) in[t] = static_cast<int>((t * 31) % 17) - 5;
  std::vector<int> expected(n);
  for (unsigned w = 0; w < n / 32; ++w) {
    int s = 0;
    for (unsigned l = 0; l < 32; ++l) s += in[w * 32 + l];
    for (unsigned l = 0; l < 32; ++l) expected[w * 32 + l] = s;
  }
  DeviceBuffer<int> d_in(in), d_out(n);
  for (emu::ThreadOrder order : emu_test::kAllOrders) {
    emu::ScopedThreadOrder guard(order, 21);
    SKN_LAUNCH(warp_allreduce, 1, n, 0, nullptr, d_in.get(), d_out.get());
    CHECK(d_out.download() == expected);
  }
}

TEST_CASE("emulator: ballot, any and all, with a partial last warp") {
  const unsigned n = 50;  // warp 1 has lanes 0..17
  for (int pattern = 0; pattern < 4; ++pattern) {
    std::vector<int> pred(n);
    for (unsigned t = 0; t < n; ++t)
      pred[t] = pattern == 0 ? (t % 5 == 1) : pattern == 1 ? 1 : pattern == 2 ? 0 : (t == 40) * 3;
    DeviceBuffer<int> d_pred(pred), d_any(n), d_all(n);
    DeviceBuffer<unsigned> d_ballot(n);
    for (emu::ThreadOrder order : emu_test::kAllOrders) {
      emu::ScopedThreadOrder guard(order, 4);
      SKN_LAUNCH(votes, 1, n, 0, nullptr, d_pred.get(), d_ballot.get(), d_any.get(), d_all.get());
      const auto ballot = d_ballot.download();
      const auto any = d_any.download();
      const auto all = d_all.download();
      for (unsigned t = 0; t < n; ++t) {
        const unsigned warp = t / 32;
        unsigned expected = 0;
        bool every = true;
        for (unsigned l = 0; l < 32 && warp * 32 + l < n; ++l) {
          if (pred[warp * 32 + l]) expected |= 1u << l;
          every = every && pred[warp * 32 + l] != 0;
        }
        CHECK(ballot[t] == expected);
        CHECK(any[t] == (expected != 0));
        CHECK(all[t] == int(every));
      }
    }
  }
}

TEST_CASE("emulator: disjoint masks within one warp complete independently") {
  const unsigned n = 64;
  std::vector<int> in(n);
  std::iota(in.begin(), in.end(), 100);
  DeviceBuffer<int> d_in(in), d_out(n);
  for (emu::ThreadOrder order : emu_test::kAllOrders) {
    emu::ScopedThreadOrder guard(order, 8);
    SKN_LAUNCH(half_warp_masks, 1, n, 0, nullptr, d_in.get(), d_out.get());
    const auto out = d_out.download();
    for (unsigned t = 0; t < n; ++t) CHECK(out[t] == in[(t / 32) * 32 + ((t % 32) < 16 ? 3 : 20)]);
  }
}

TEST_CASE("emulator: __syncwarp orders warp-synchronous shared-memory exchange") {
  const unsigned n = 64;
  std::vector<int> in(n);
  std::iota(in.begin(), in.end(), 7);
  DeviceBuffer<int> d_in(in), d_out(n);
  for (emu::ThreadOrder order : emu_test::kAllOrders) {
    emu::ScopedThreadOrder guard(order, 13);
    SKN_LAUNCH(syncwarp_exchange, 1, n, 0, nullptr, d_in.get(), d_out.get());
    const auto out = d_out.download();
    for (unsigned t = 0; t < n; ++t) CHECK(out[t] == in[(t / 32) * 32 + (t + 1) % 32]);
  }
}

TEST_CASE("emulator: misused warp intrinsics are reported with their call site") {
  DeviceBuffer<float> in(std::vector<float>(32, 1.0f)), out(32);
  CHECK_THROWS_WITH_AS(SKN_LAUNCH(shuffle_with_returned_lanes, 1, 32, 0, nullptr, in.get(), out.get()),
                       doctest::Contains("lanes 0xffff0000 have returned"), CudaError);
  CHECK_THROWS_WITH_AS(SKN_LAUNCH(lane_not_in_mask, 1, 32, 0, nullptr, out.get()),
                       doctest::Contains("which is not in the member mask 0x00000001"), CudaError);
  CHECK_THROWS_WITH_AS(SKN_LAUNCH(bad_width, 1, 32, 0, nullptr, out.get()),
                       doctest::Contains("width 12 must be a power of two"), CudaError);
  CHECK_THROWS_WITH_AS(SKN_LAUNCH(mixed_intrinsics, 1, 32, 0, nullptr, out.get()),
                       doctest::Contains("warp divergence"), CudaError);
}

TEST_CASE("emulator: atomics on global memory across blocks and workers") {
  const unsigned blocks = 37, threads = 96, total = blocks * threads;
  DeviceBuffer<int> counter(1), imax(1);
  DeviceBuffer<float> fsum(1);
  DeviceBuffer<unsigned long long> big(1);
  DeviceBuffer<unsigned> cas(1);
  counter.zero();
  fsum.zero();
  big.zero();
  cas.zero();
  imax.upload({-1});
  SKN_LAUNCH(global_atomics, blocks, threads, 0, nullptr, counter.get(), fsum.get(), big.get(), imax.get(), cas.get());
  int expected_max = -1;
  for (unsigned g = 0; g < total; ++g) expected_max = std::max(expected_max, int((g * 7919) % 1000));
  CHECK(counter.download()[0] == int(total));
  CHECK(fsum.download()[0] == 0.5f * total);  // exact: multiples of 0.5 below 2^23
  CHECK(big.download()[0] == (unsigned long long)total << 33);
  CHECK(imax.download()[0] == expected_max);
  CHECK(cas.download()[0] == 2u * total);
  DeviceBuffer<int> m(std::vector<int>{5}), ex(std::vector<int>{0}), sub(std::vector<int>{0});
  SKN_LAUNCH(atomic_min_exch_sub, 1, 40, 0, nullptr, m.get(), ex.get(), sub.get());
  CHECK(m.download()[0] == -39);
  CHECK(ex.download()[0] == 42);
  CHECK(sub.download()[0] == -120);
}

TEST_CASE("emulator: atomics on __shared__ memory (block histograms)") {
  const int n = 5000;
  std::vector<int> values(n);
  for (int i = 0; i < n; ++i) values[i] = (i * 7 + i / 3) % 101;
  std::vector<int> expected(16, 0);
  for (int v : values) ++expected[v % 16];
  DeviceBuffer<int> d_values(values), hist(16);
  for (emu::ThreadOrder order : emu_test::kAllOrders) {
    emu::ScopedThreadOrder guard(order, 99);
    hist.zero();
    SKN_LAUNCH(shared_histogram, 6, 128, 0, nullptr, d_values.get(), n, hist.get());
    CHECK(hist.download() == expected);
  }
}
