// The CUDA SGEMM (kernels/gemm.cuh, launched by skinnet::cuda::gemm) run through the emulator and
// compared with the float64 reference (tests/reference/gemm.hpp).
//
// What the tests are built to catch (tests/mutation/gemm_mutations.sh deletes each barrier and
// shifts each bounds check by one, and checks that some test here fails):
//   * a missing __syncthreads: every case runs in forward, reverse and random thread order, and the
//     three results must be bitwise identical and match the reference;
//   * reads outside op(A) / op(B) along K: every input lives inside a larger buffer whose padding
//     columns and extra rows hold NaN, so a stray read poisons the output;
//   * reads past the end of A or B along M / N (those only feed outputs that are never stored, so
//     the values cannot reveal them): a separate test places tightly packed matrices right before an
//     inaccessible page, so such a read crashes;
//   * writes outside C: C's padding holds a sentinel that must survive;
//   * beta == 0 reading C: C's elements are NaN in those cases, and the result must still be exact.
#include <doctest/doctest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "reference/check.hpp"
#include "reference/gemm.hpp"
#include "skinnet/cuda/gemm.hpp"
#include "skinnet/cuda/runtime.hpp"

namespace {

using skinnet::cuda::Trans;
namespace kernels = skinnet::cuda::kernels;
namespace emu = skinnet::emu;

constexpr float kNaN = std::numeric_limits<float>::quiet_NaN();
constexpr float kSentinel = -12345.f;  // C's padding: any write outside C changes it
// Float32 FMA sums of at most ~100 products of values in [-1, 1], against float64.
constexpr double kAtol = 2e-5, kRtol = 1e-5;

// Which kernel configuration runs: the launcher's own choice, or one tile shape forced, so that every
// tile shape sees every ragged problem regardless of what the launcher would pick for its size.
enum class Path { Launcher, Small, Large };
const char* path_name(Path p) { return p == Path::Launcher ? "launcher" : p == Path::Small ? "small tile" : "large tile"; }

// A rows x cols row-major matrix inside a bigger buffer: 3 padding columns (ld = cols + 3) and 2
// extra rows, all holding `outside`. `host` is the whole buffer.
struct Canvas {
  static constexpr int64_t kPadCols = 3, kPadRows = 2;
  int64_t rows, cols, ld;
  std::vector<float> host;

  Canvas(int64_t r, int64_t c, float outside)
      : rows(r), cols(c), ld(c + kPadCols), host(static_cast<size_t>((r + kPadRows) * (c + kPadCols)), outside) {}
  float& at(int64_t i, int64_t j) { return host[static_cast<size_t>(i * ld + j)]; }
  float at(int64_t i, int64_t j) const { return host[static_cast<size_t>(i * ld + j)]; }
  bool inside(size_t flat) const {
    return static_cast<int64_t>(flat) / ld < rows && static_cast<int64_t>(flat) % ld < cols;
  }
  std::vector<double> as_double() const { return {host.begin(), host.end()}; }
  std::vector<float> matrix() const {  // the rows x cols elements, densely packed
    std::vector<float> m;
    for (int64_t i = 0; i < rows; ++i)
      for (int64_t j = 0; j < cols; ++j) m.push_back(at(i, j));
    return m;
  }
};

void fill_random(Canvas& c, std::mt19937& rng) {
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  for (int64_t i = 0; i < c.rows; ++i)
    for (int64_t j = 0; j < c.cols; ++j) c.at(i, j) = u(rng);
}

// Device copy of a host vector (emulated cudaMalloc), freed on scope exit.
class DeviceBuffer {
 public:
  explicit DeviceBuffer(const std::vector<float>& host) : n_(host.size()) {
    SKN_CUDA_CHECK(cudaMalloc(reinterpret_cast<void**>(&ptr_), std::max<size_t>(n_, 1) * sizeof(float)));
    if (n_) SKN_CUDA_CHECK(cudaMemcpy(ptr_, host.data(), n_ * sizeof(float), cudaMemcpyHostToDevice));
  }
  ~DeviceBuffer() { cudaFree(ptr_); }
  DeviceBuffer(const DeviceBuffer&) = delete;
  DeviceBuffer& operator=(const DeviceBuffer&) = delete;
  float* get() const { return ptr_; }
  std::vector<float> download() const {
    std::vector<float> host(n_);
    if (n_) SKN_CUDA_CHECK(cudaMemcpy(host.data(), ptr_, n_ * sizeof(float), cudaMemcpyDeviceToHost));
    return host;
  }

 private:
  size_t n_;
  float* ptr_ = nullptr;
};

void run_gemm(Path path, Trans ta, Trans tb, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
              int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc,
              cudaStream_t stream = 0) {
  namespace d = skinnet::cuda::detail;
  const int m = static_cast<int>(M), n = static_cast<int>(N), k = static_cast<int>(K);
  switch (path) {
    case Path::Launcher: skinnet::cuda::gemm(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, stream); break;
    case Path::Small:
      d::launch_sgemm<kernels::GemmTileSmall>(ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc, stream);
      break;
    case Path::Large:
      d::launch_sgemm<kernels::GemmTileLarge>(ta, tb, m, n, k, alpha, A, lda, B, ldb, beta, C, ldc, stream);
      break;
  }
  SKN_CUDA_CHECK(cudaStreamSynchronize(stream));
}

struct Problem {
  int64_t M, N, K;
  float alpha, beta;
};

std::string describe(const Problem& p, Trans ta, Trans tb, Path path) {
  std::ostringstream s;
  s << p.M << "x" << p.N << "x" << p.K << " op(A)=" << (ta == Trans::Yes ? "A^T" : "A")
    << " op(B)=" << (tb == Trans::Yes ? "B^T" : "B") << " alpha=" << p.alpha << " beta=" << p.beta << " ("
    << path_name(path) << ")";
  return s.str();
}

// Runs one problem in all three thread orders and checks: the matrix part of C against the float64
// reference, C's padding unchanged, and the three orders' results bitwise identical.
void check_problem(const Problem& p, Trans ta, Trans tb, Path path, uint32_t seed) {
  const std::string what = describe(p, ta, tb, path);
  INFO(what);
  std::mt19937 rng(seed);
  const bool a_t = ta == Trans::Yes, b_t = tb == Trans::Yes;
  Canvas a(a_t ? p.K : p.M, a_t ? p.M : p.K, kNaN);  // stored shapes
  Canvas b(b_t ? p.N : p.K, b_t ? p.K : p.N, kNaN);
  Canvas c(p.M, p.N, kSentinel);
  fill_random(a, rng);
  fill_random(b, rng);
  if (p.beta == 0.f) {  // C must not be read: poison it
    for (int64_t i = 0; i < p.M; ++i)
      for (int64_t j = 0; j < p.N; ++j) c.at(i, j) = kNaN;
  } else {
    fill_random(c, rng);
  }

  // Expected values (float64, same canvases, so the same strides are exercised).
  std::vector<double> expected = c.as_double();
  skinnet::ref::gemm(a_t, b_t, p.M, p.N, p.K, p.alpha, a.as_double(), a.ld, b.as_double(), b.ld, p.beta,
                     expected, c.ld);
  std::vector<double> expected_matrix;
  for (int64_t i = 0; i < p.M; ++i)
    for (int64_t j = 0; j < p.N; ++j) expected_matrix.push_back(expected[static_cast<size_t>(i * c.ld + j)]);

  const DeviceBuffer da(a.host), db(b.host);
  std::vector<float> first;  // the forward-order result, bit for bit
  const std::pair<emu::ThreadOrder, const char*> orders[] = {
      {emu::ThreadOrder::Forward, "forward"}, {emu::ThreadOrder::Reverse, "reverse"}, {emu::ThreadOrder::Random, "random"}};
  for (const auto& entry : orders) {  // (no structured binding: clang 14 cannot capture one in INFO)
    const emu::ThreadOrder order = entry.first;
    INFO("thread order: " << entry.second);
    const DeviceBuffer dc(c.host);
    {
      emu::ScopedThreadOrder guard(order, seed);
      run_gemm(path, ta, tb, p.M, p.N, p.K, p.alpha, da.get(), a.ld, db.get(), b.ld, p.beta, dc.get(), c.ld);
    }
    Canvas got = c;
    got.host = dc.download();

    const std::vector<float> result = got.matrix();
    SKN_CHECK_CLOSE(result, expected_matrix, kAtol, kRtol);

    int64_t clobbered = 0, first_clobbered = -1;
    for (size_t i = 0; i < got.host.size(); ++i)
      if (!c.inside(i) && std::memcmp(&got.host[i], &c.host[i], sizeof(float)) != 0) {
        if (first_clobbered < 0) first_clobbered = static_cast<int64_t>(i);
        ++clobbered;
      }
    INFO("first write outside C at row " << first_clobbered / c.ld << ", column " << first_clobbered % c.ld);
    CHECK_MESSAGE(clobbered == 0, clobbered, " elements outside the ", p.M, " x ", p.N, " matrix C were written");

    if (first.empty()) {
      first = result;
    } else {
      CHECK_MESSAGE(std::memcmp(first.data(), result.data(), result.size() * sizeof(float)) == 0,
                    "result differs from the forward-order run: a race between threads of a block");
    }
  }
}

constexpr Trans kNo = Trans::No, kYes = Trans::Yes;
const Trans kBoth[] = {kNo, kYes};

// Ragged shapes for both tile configurations (small: 64x64, large: 128x128; both BK = 8): sizes
// below, at, one past and far from the tile edges, primes, K below / at / not a multiple of BK.
const Problem kProblems[] = {
    {1, 1, 1, 1.f, 0.f},        // smallest: one thread of one block does anything
    {37, 53, 71, 1.5f, -0.5f},  // primes: every edge ragged, K = 8 * 8 + 7
    {129, 65, 17, 1.f, 1.f},    // one row past the large tile, one column past the small one
    {200, 3, 9, -0.75f, 0.f},   // tall and skinny
    {2, 150, 33, 2.f, 0.25f},   // short and wide
    {64, 64, 16, 1.f, 0.f},     // exact multiples of the small tile: no bounds check triggers
    {130, 128, 12, 1.f, 0.5f},  // N an exact multiple of both tiles, M ragged over several tile rows
    {5, 7, 1, 0.5f, 2.f},       // K = 1: a single partial slice
    {6, 4, 0, 3.f, -1.f},       // K = 0: C = beta * C
};

}  // namespace

TEST_CASE("cuda gemm small tiles match the float64 reference: ragged shapes, all transposes, all thread orders") {
  uint32_t seed = 1;
  for (const Problem& p : kProblems)
    for (Trans ta : kBoth)
      for (Trans tb : kBoth) check_problem(p, ta, tb, Path::Small, seed++);
}

TEST_CASE("cuda gemm large tiles match the float64 reference: ragged shapes, all transposes, all thread orders") {
  uint32_t seed = 100;
  for (const Problem& p : kProblems)
    for (Trans ta : kBoth)
      for (Trans tb : kBoth) check_problem(p, ta, tb, Path::Large, seed++);
  // Several tiles in both directions, each ragged, with enough slices for the prefetch pipeline.
  for (Trans ta : kBoth)
    for (Trans tb : kBoth) check_problem({131, 259, 27, 1.f, 0.5f}, ta, tb, Path::Large, seed++);
}

TEST_CASE("cuda gemm launcher matches the reference with beta 0 on a NaN-filled C") {
  uint32_t seed = 200;
  for (Trans ta : kBoth)
    for (Trans tb : kBoth) {
      check_problem({70, 90, 20, 1.25f, 0.f}, ta, tb, Path::Launcher, seed++);
      check_problem({3, 5, 2, -1.f, 0.f}, ta, tb, Path::Launcher, seed++);
    }
}

TEST_CASE("cuda gemm launcher picks small tiles for small outputs and large tiles for large ones") {
  namespace d = skinnet::cuda::detail;
  CHECK(d::choose_gemm_tile(1, 1) == d::GemmTileChoice::Small);
  CHECK(d::choose_gemm_tile(512, 512) == d::GemmTileChoice::Small);     // 16 large tiles
  CHECK(d::choose_gemm_tile(2048, 1000) == d::GemmTileChoice::Large);   // 16 x 8 = 128 large tiles
  CHECK(d::choose_gemm_tile(100000, 64) == d::GemmTileChoice::Large);   // conv-like: many rows
}

// Emulation only: device pointers are host pointers, so a matrix can be placed so that its last
// element is the last float before a page with no access rights. A kernel that reads even one float
// past the end of A or B then crashes instead of silently reading a neighbour's memory.
namespace {

class GuardedMatrix {
 public:
  explicit GuardedMatrix(size_t n) {
    const size_t page = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    data_bytes_ = (n * sizeof(float) + page - 1) / page * page;
    total_ = data_bytes_ + page;
    void* p = mmap(nullptr, total_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    REQUIRE(p != MAP_FAILED);
    base_ = static_cast<char*>(p);
    REQUIRE(mprotect(base_ + data_bytes_, page, PROT_NONE) == 0);
    data_ = reinterpret_cast<float*>(base_ + data_bytes_) - n;
    n_ = n;
  }
  ~GuardedMatrix() { munmap(base_, total_); }
  GuardedMatrix(const GuardedMatrix&) = delete;
  GuardedMatrix& operator=(const GuardedMatrix&) = delete;
  float* data() { return data_; }
  size_t size() const { return n_; }

 private:
  char* base_ = nullptr;
  float* data_ = nullptr;
  size_t n_ = 0, data_bytes_ = 0, total_ = 0;
};

}  // namespace

TEST_CASE("cuda gemm never reads past the end of tightly packed A and B (guard page)") {
  const Problem problems[] = {{37, 53, 71, 1.f, 0.f}, {129, 65, 17, 1.f, 0.f}, {3, 130, 5, 1.f, 0.f}};
  std::mt19937 rng(7);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  for (const Problem& p : problems)
    for (Path path : {Path::Small, Path::Large})
      for (Trans ta : kBoth)
        for (Trans tb : kBoth) {
          INFO(describe(p, ta, tb, path));
          const bool a_t = ta == Trans::Yes, b_t = tb == Trans::Yes;
          const int64_t lda = a_t ? p.M : p.K, ldb = b_t ? p.K : p.N;  // tight: no padding at all
          GuardedMatrix a(static_cast<size_t>(p.M * p.K)), b(static_cast<size_t>(p.K * p.N));
          std::vector<double> ad(a.size()), bd(b.size());
          for (size_t i = 0; i < a.size(); ++i) ad[i] = a.data()[i] = u(rng);
          for (size_t i = 0; i < b.size(); ++i) bd[i] = b.data()[i] = u(rng);
          std::vector<double> expected(static_cast<size_t>(p.M * p.N), 0.0);
          skinnet::ref::gemm(a_t, b_t, p.M, p.N, p.K, p.alpha, ad, lda, bd, ldb, 0.0, expected, p.N);

          const DeviceBuffer dc(std::vector<float>(static_cast<size_t>(p.M * p.N), kNaN));
          run_gemm(path, ta, tb, p.M, p.N, p.K, p.alpha, a.data(), lda, b.data(), ldb, 0.f, dc.get(), p.N);
          SKN_CHECK_CLOSE(dc.download(), expected, kAtol, kRtol);
        }
}

TEST_CASE("cuda gemm runs on a non-default stream") {
  cudaStream_t stream;
  SKN_CUDA_CHECK(cudaStreamCreate(&stream));
  const int64_t M = 33, N = 20, K = 12;
  std::vector<float> a(M * K), b(K * N);
  std::mt19937 rng(11);
  std::uniform_real_distribution<float> u(-1.f, 1.f);
  for (float& x : a) x = u(rng);
  for (float& x : b) x = u(rng);
  std::vector<double> expected(M * N, 0.0);
  skinnet::ref::gemm(false, false, M, N, K, 1.0, {a.begin(), a.end()}, K, {b.begin(), b.end()}, N, 0.0, expected, N);
  const DeviceBuffer da(a), db(b), dc(std::vector<float>(M * N, kNaN));
  run_gemm(Path::Launcher, kNo, kNo, M, N, K, 1.f, da.get(), K, db.get(), N, 0.f, dc.get(), N, stream);
  SKN_CHECK_CLOSE(dc.download(), expected, kAtol, kRtol);
  SKN_CUDA_CHECK(cudaStreamDestroy(stream));
}

TEST_CASE("cuda gemm with an empty output touches nothing") {
  const DeviceBuffer dc(std::vector<float>(12, kSentinel));
  // M = 0 and N = 0 (with K > 0 and null A, B: nothing may be dereferenced).
  skinnet::cuda::gemm(kNo, kNo, 0, 4, 3, 1.f, nullptr, 3, nullptr, 4, 0.f, dc.get(), 4);
  skinnet::cuda::gemm(kNo, kNo, 3, 0, 3, 1.f, nullptr, 3, nullptr, 1, 0.f, dc.get(), 4);
  SKN_CUDA_CHECK(cudaDeviceSynchronize());
  CHECK(dc.download() == std::vector<float>(12, kSentinel));
}

TEST_CASE("cuda gemm rejects bad sizes and leading dimensions with a ValueError naming the argument") {
  const DeviceBuffer buf(std::vector<float>(64, 0.f));
  float* p = buf.get();
  using skinnet::ValueError;
  CHECK_THROWS_AS(skinnet::cuda::gemm(kNo, kNo, -1, 4, 4, 1.f, p, 4, p, 4, 0.f, p, 4), ValueError);
  CHECK_THROWS_WITH_AS(skinnet::cuda::gemm(kNo, kNo, 4, 4, 5, 1.f, p, 4, p, 4, 0.f, p, 4),
                       doctest::Contains("lda=4"), ValueError);
  CHECK_THROWS_WITH_AS(skinnet::cuda::gemm(kYes, kNo, 6, 4, 2, 1.f, p, 4, p, 4, 0.f, p, 4),
                       doctest::Contains("lda=4"), ValueError);  // A^T is stored K x M: lda >= M
  CHECK_THROWS_WITH_AS(skinnet::cuda::gemm(kNo, kNo, 4, 5, 4, 1.f, p, 4, p, 4, 0.f, p, 5),
                       doctest::Contains("ldb=4"), ValueError);
  CHECK_THROWS_WITH_AS(skinnet::cuda::gemm(kNo, kYes, 4, 4, 6, 1.f, p, 6, p, 4, 0.f, p, 4),
                       doctest::Contains("ldb=4"), ValueError);  // B^T is stored N x K: ldb >= K
  CHECK_THROWS_WITH_AS(skinnet::cuda::gemm(kNo, kNo, 4, 6, 4, 1.f, p, 4, p, 6, 0.f, p, 4),
                       doctest::Contains("ldc=4"), ValueError);
  CHECK_THROWS_AS(skinnet::cuda::gemm(kNo, kNo, 4, 4, 4, 1.f, nullptr, 4, p, 4, 0.f, p, 4), ValueError);
}
