// Core: Shape, Tensor, errors, Philox (Random123 known-answer vectors), parallel_for.
#include <doctest/doctest.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <numeric>
#include <string>

#include "skinnet/skinnet.hpp"

using namespace skinnet;

TEST_CASE("Shape: rank, numel, NHWC accessors and errors") {
  Shape s = Shape::nhwc(2, 5, 7, 3);
  CHECK(s.rank() == 4);
  CHECK(s.numel() == 210);
  CHECK(s.h() == 5);
  CHECK(s.c() == 3);
  CHECK(s.str() == "[2x5x7x3]");
  CHECK(Shape{4, 2} != Shape{2, 4});
  CHECK_THROWS_AS(Shape({1, 2, 3, 4, 5}), ShapeError);
  CHECK_THROWS_AS(Shape({-1}), ShapeError);
  CHECK_THROWS_WITH_AS(Shape{3}.h(), doctest::Contains("[3] is not NHWC"), ShapeError);
}

TEST_CASE("Tensor: move-only ownership, explicit clone, reshape") {
  auto a = Tensor<Cpu>::filled(Shape{2, 3}, 2.0f);
  auto b = a.clone();
  b[0] = 5.0f;
  CHECK(a[0] == 2.0f);  // clone is deep
  const float* p = a.data();
  Tensor<Cpu> c = std::move(a);
  CHECK(c.data() == p);  // move transfers the buffer
  CHECK(a.data() == nullptr);
  CHECK(reinterpret_cast<uintptr_t>(c.data()) % 64 == 0);
  c.reshape(Shape{6});
  CHECK(c.shape() == Shape{6});
  CHECK_THROWS_AS(c.reshape(Shape{5}), ShapeError);
  auto z = Tensor<Cpu>::zeros(Shape::nhwc(1, 2, 2, 3));
  z.at(0, 1, 0, 2) = 7.f;
  CHECK(z[(1 * 2 + 0) * 3 + 2] == 7.f);
  CHECK_THROWS_AS(Tensor<Cpu>::from_vector(Shape{3}, {1.f, 2.f}), ShapeError);
  auto h = to_host(z);
  CHECK(h.to_vector() == z.to_vector());
}

TEST_CASE("Tensor: share() aliases the buffer, keeps it alive, and is never written over by an op") {
  auto a = Tensor<Cpu>::from_vector(Shape{2, 3}, {1, 2, 3, 4, 5, 6});
  CHECK_FALSE(a.buffer_is_shared());
  Tensor<Cpu> s = a.share();
  CHECK(s.data() == a.data());  // no copy
  CHECK(s.shares_buffer_with(a));
  CHECK(a.buffer_is_shared());
  CHECK_FALSE(a.clone().shares_buffer_with(a));
  s.reshape(Shape{6});  // each handle has its own shape
  CHECK(a.shape() == Shape({2, 3}));
  a[1] = 20.f;  // the elements are the same
  CHECK(s[1] == 20.f);
  // The buffer outlives the handle that made it.
  { Tensor<Cpu> gone = std::move(a); }
  CHECK_FALSE(s.buffer_is_shared());
  CHECK(s.to_vector() == std::vector<float>({1, 20, 3, 4, 5, 6}));
  // An op writing into an output tensor reuses its buffer only when nobody else holds it.
  Tensor<Cpu> out = Tensor<Cpu>::zeros(Shape{6});
  const float* own = out.data();
  cpu::detail::ensure_shape(out, Shape{6});
  CHECK(out.data() == own);
  Tensor<Cpu> held = out.share();
  cpu::detail::ensure_shape(out, Shape{6});
  CHECK(out.data() != own);  // fresh buffer; `held` still sees the zeros
  CHECK(held.data() == own);
  // An empty tensor shares nothing.
  Tensor<Cpu> e;
  CHECK_FALSE(e.share().shares_buffer_with(e));
}

// Known-answer vectors from Random123's kat_vectors (philox4x32, 10 rounds).
TEST_CASE("Philox4x32-10 matches the Random123 known-answer vectors") {
  struct Kat {
    Philox4x32 ctr;
    uint32_t k0, k1;
    Philox4x32 expect;
  };
  const Kat kats[] = {
      {{{0, 0, 0, 0}}, 0, 0, {{0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u}}},
      {{{0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu}}, 0xffffffffu, 0xffffffffu,
       {{0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu}}},
      {{{0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u}}, 0xa4093822u, 0x299f31d0u,
       {{0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u}}},
  };
  for (const Kat& k : kats) {
    Philox4x32 out = philox4x32_10(k.ctr, k.k0, k.k1);
    for (int i = 0; i < 4; ++i) CHECK(out.v[i] == k.expect.v[i]);
  }
}

TEST_CASE("philox_uniform: range 0..1, element layout and rough uniformity") {
  double sum = 0;
  const int n = 1 << 16;
  for (int i = 0; i < n; ++i) {
    float u = philox_uniform(42, 3, 7, static_cast<uint64_t>(i));
    REQUIRE(u >= 0.f);
    REQUIRE(u < 1.f);
    sum += u;
  }
  CHECK(sum / n == doctest::Approx(0.5).epsilon(0.01));
  // Element i is word i%4 of block i/4.
  Philox4x32 blk = philox4x32_10(Philox4x32{{3, 7, 1, 0}}, 42, 0);
  CHECK(philox_bits(42, 3, 7, 6) == blk.v[2]);
  CHECK(philox_bits(42, 3, 7, 6) != philox_bits(42, 3, 8, 6));  // step changes the stream
}

TEST_CASE("parallel_for visits every index exactly once") {
  std::vector<std::atomic<int>> hits(1000);
  parallel_for(0, 1000, [&](int64_t i) { hits[static_cast<size_t>(i)]++; });
  for (auto& h : hits) CHECK(h.load() == 1);
  std::vector<int> seen(101, 0);
  parallel_chunks(0, 101, 7, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) seen[static_cast<size_t>(i)]++;
  });
  CHECK(std::accumulate(seen.begin(), seen.end(), 0) == 101);
}

TEST_CASE("Cpu memory: large blocks are reused, small ones are plain allocations") {
  const float* first = nullptr;
  {
    Tensor<Cpu> big(Shape{1 << 20});  // 4 MiB
    big[0] = 1.f;
    first = big.data();
  }
  Tensor<Cpu> again(Shape{1 << 20});
  if (detail::CpuBlockCache::enabled()) {
    CHECK(again.data() == first);  // the freed block came back, no new mapping
  } else {
    MESSAGE("block cache disabled in this build (AddressSanitizer): nothing to check");
  }
  Tensor<Cpu> other(Shape{(1 << 20) + 16});  // a different size never gets that block
  CHECK(other.data() != again.data());
  CHECK(reinterpret_cast<uintptr_t>(other.data()) % 64 == 0);
}

TEST_CASE("Cpu block cache: exact sizes come back, the least recently freed blocks are evicted first") {
  const std::size_t MiB = std::size_t{1} << 20;
  detail::CpuBlockCache cache(3 * MiB);  // room for three 1 MiB blocks
  auto block = [&] { return std::malloc(MiB); };
  void* a = block();
  void* b = block();
  void* c = block();
  CHECK(cache.give(a, MiB));
  CHECK(cache.give(b, MiB));
  CHECK(cache.give(c, MiB));
  CHECK(cache.cached_bytes() == 3 * MiB);
  CHECK(cache.take(2 * MiB) == nullptr);  // no block of that size
  // A fourth block pushes out the oldest one (a), not the newer ones.
  void* d = block();
  CHECK(cache.give(d, MiB));
  CHECK(cache.cached_bytes() == 3 * MiB);
  std::vector<void*> back;
  while (void* p = cache.take(MiB)) back.push_back(p);
  CHECK(back.size() == 3);
  CHECK(std::find(back.begin(), back.end(), a) == back.end());
  for (void* p : {b, c, d}) CHECK(std::find(back.begin(), back.end(), p) != back.end());
  CHECK(cache.cached_bytes() == 0);
  // A block larger than the whole limit is refused (the caller frees it); release_all empties.
  void* huge = std::malloc(4 * MiB);
  CHECK_FALSE(cache.give(huge, 4 * MiB));
  std::free(huge);
  for (void* p : back) CHECK(cache.give(p, MiB));
  cache.release_all();
  CHECK(cache.cached_bytes() == 0);
  CHECK(cache.take(MiB) == nullptr);
}

TEST_CASE("Cpu block cache: the default limit is a quarter of the memory, at least 2 GiB, or SKINNET_CPU_CACHE_MB") {
  const char* saved = std::getenv("SKINNET_CPU_CACHE_MB");
  const std::string old = saved ? saved : "";
  ::unsetenv("SKINNET_CPU_CACHE_MB");
  const std::size_t GiB = std::size_t{1} << 30;
  CHECK(detail::CpuBlockCache::limit_for_memory(64 * GiB) == 16 * GiB);
  CHECK(detail::CpuBlockCache::limit_for_memory(4 * GiB) == 2 * GiB);  // the floor
  CHECK(detail::CpuBlockCache::limit_for_memory(0) == 2 * GiB);        // memory size unknown
  const std::size_t physical =
      static_cast<std::size_t>(sysconf(_SC_PHYS_PAGES)) * static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  CHECK(detail::CpuBlockCache::default_limit() == detail::CpuBlockCache::limit_for_memory(physical));
  ::setenv("SKINNET_CPU_CACHE_MB", "3", 1);
  CHECK(detail::CpuBlockCache::default_limit() == (std::size_t{3} << 20));
  if (saved) ::setenv("SKINNET_CPU_CACHE_MB", old.c_str(), 1);
  else ::unsetenv("SKINNET_CPU_CACHE_MB");
}
