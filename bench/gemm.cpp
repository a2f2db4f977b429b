// SGEMM benchmark: skinnet::cpu::gemm against OpenBLAS's cblas_sgemm and against the machine's
// measured FP32 FMA peak, for square sizes 256 ... 4096 on 1 and 2 threads.
//
// Every run reports a GFLOP/s counter (2 n^3 flops per multiply). After the runs a table gives, per
// size and thread count, skinnet / OpenBLAS and skinnet / peak, from the median over the repetitions
// (--benchmark_repetitions=N). skinnet and OpenBLAS run back to back for each size so that they see
// the same machine load; on a shared machine compare ratios, not absolute figures.
//
// Run (see docs/gemm.md): env -u OPENBLAS_CORETYPE build/gemm/bench/skinnet_bench_gemm
// OPENBLAS_CORETYPE forces OpenBLAS onto one kernel family; unset it so OpenBLAS picks its best.
#include <benchmark/benchmark.h>
#if defined(__AVX2__) || defined(__AVX512F__)
#include <immintrin.h>
#endif

#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "skinnet/core/parallel.hpp"
#include "skinnet/cpu/gemm.hpp"

#if SKINNET_BENCH_HAVE_CBLAS
#include <cblas.h>
#endif

namespace {

using skinnet::cpu::Trans;

const int kSizes[] = {256, 512, 1024, 2048, 4096};
const int kThreads[] = {1, 2};

// Matrices for one size, filled once and shared by every run of that size (C is overwritten).
struct Operands {
  std::vector<float> a, b, c;
};

Operands& operands(int n) {
  static std::map<int, std::unique_ptr<Operands>> cache;
  auto& slot = cache[n];
  if (!slot) {
    slot = std::make_unique<Operands>();
    std::mt19937 gen(42);
    std::uniform_real_distribution<float> dist(-1.f, 1.f);
    const size_t count = static_cast<size_t>(n) * n;
    slot->a.resize(count);
    slot->b.resize(count);
    slot->c.assign(count, 0.f);
    for (float& x : slot->a) x = dist(gen);
    for (float& x : slot->b) x = dist(gen);
  }
  return *slot;
}

void set_gflops(benchmark::State& state, double flops_per_iteration) {
  state.counters["GFLOP/s"] =
      benchmark::Counter(flops_per_iteration * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
}

void bench_skinnet(benchmark::State& state, int n, int threads) {
  skinnet::set_num_threads(threads);
  Operands& op = operands(n);
  float* c = op.c.data();
  for (auto _ : state) {
    skinnet::cpu::gemm(Trans::No, Trans::No, n, n, n, 1.f, op.a.data(), n, op.b.data(), n, 0.f, c, n);
    benchmark::ClobberMemory();
  }
  set_gflops(state, 2.0 * n * n * n);
}

#if SKINNET_BENCH_HAVE_CBLAS
void bench_openblas(benchmark::State& state, int n, int threads) {
#if defined(OPENBLAS_VERSION)
  openblas_set_num_threads(threads);
#else
  (void)threads;  // a BLAS other than OpenBLAS: its own threading
#endif
  Operands& op = operands(n);
  float* c = op.c.data();
  for (auto _ : state) {
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, n, n, n, 1.f, op.a.data(), n, op.b.data(), n, 0.f,
                c, n);
    benchmark::ClobberMemory();
  }
  set_gflops(state, 2.0 * n * n * n);
}
#endif

// FP32 FMA peak: each thread runs independent FMA chains that stay in registers. kChains chains hide
// the FMA latency (4-5 cycles) on two pipes; the multiplier and addend are chosen so values stay
// finite and normal for any iteration count.
constexpr int kChains = 12;
constexpr int64_t kPeakIters = 1 << 22;

template <class Vec, class Set1, class Fma, class Sum>
float fma_chains(Set1 set1, Fma fma, Sum sum) {
  // The chains are unrolled at compile time (a fold over an index pack), so each lives in its own
  // register instead of an array in memory.
  return [&]<int... I>(std::integer_sequence<int, I...>) {
    Vec acc[kChains] = {set1(1.f + 0.01f * static_cast<float>(I))...};
    Vec mul = set1(0.999999f), add = set1(1e-7f);
    for (int64_t it = 0; it < kPeakIters; ++it) {
      // Keep mul/add opaque so the compiler cannot fold the chains.
      __asm__ volatile("" : "+v"(mul), "+v"(add));
      ((acc[I] = fma(acc[I], mul, add)), ...);
    }
    return (sum(acc[I]) + ...);
  }
  (std::make_integer_sequence<int, kChains>{});
}

template <class Vec, int Lanes>
float horizontal_sum(Vec v) {
  alignas(64) float t[Lanes];
  std::memcpy(t, &v, sizeof v);
  float s = 0.f;
  for (float x : t) s += x;
  return s;
}

template <class Body>
void bench_peak(benchmark::State& state, int threads, int lanes, Body body) {
  skinnet::set_num_threads(threads);
  for (auto _ : state) {
    float sink = 0.f;
    skinnet::parallel_for(0, threads, [&](int64_t) {
      const float s = body();
#pragma omp atomic
      sink += s;
    });
    benchmark::DoNotOptimize(sink);
  }
  set_gflops(state, 2.0 * lanes * kChains * static_cast<double>(kPeakIters) * threads);
}

#if defined(__AVX512F__)
float peak_body_avx512() {
  return fma_chains<__m512>([](float x) { return _mm512_set1_ps(x); },
                            [](__m512 a, __m512 b, __m512 c) { return _mm512_fmadd_ps(a, b, c); },
                            horizontal_sum<__m512, 16>);
}
#endif
#if defined(__AVX2__) && defined(__FMA__)
float peak_body_avx2() {
  return fma_chains<__m256>([](float x) { return _mm256_set1_ps(x); },
                            [](__m256 a, __m256 b, __m256 c) { return _mm256_fmadd_ps(a, b, c); },
                            horizontal_sum<__m256, 8>);
}
#endif

// Collects each run's GFLOP/s by (what, size, threads) while printing as usual, then the table.
struct Key {
  std::string what;  // "skinnet", "openblas", "peak-avx512", "peak-avx2"
  int n, threads;
  bool operator<(const Key& o) const { return std::tie(what, n, threads) < std::tie(o.what, o.n, o.threads); }
};
std::map<std::string, Key> g_keys;  // benchmark name -> key

class TableReporter : public benchmark::ConsoleReporter {
 public:
  explicit TableReporter(OutputOptions options) : ConsoleReporter(options) {}

  void ReportRuns(const std::vector<Run>& runs) override {
    for (const Run& run : runs) {
      if (run.run_type != Run::RT_Iteration || run.error_occurred) continue;
      auto key = g_keys.find(run.run_name.function_name);
      auto counter = run.counters.find("GFLOP/s");
      if (key != g_keys.end() && counter != run.counters.end())
        samples_[key->second].push_back(counter->second.value);
    }
    ConsoleReporter::ReportRuns(runs);
  }

  // Median GFLOP/s over the repetitions, or 0 when the run is absent (filtered out or unsupported).
  double gflops(const std::string& what, int n, int threads) const {
    auto it = samples_.find({what, n, threads});
    if (it == samples_.end() || it->second.empty()) return 0.0;
    std::vector<double> v = it->second;
    std::sort(v.begin(), v.end());
    return v.size() % 2 ? v[v.size() / 2] : 0.5 * (v[v.size() / 2 - 1] + v[v.size() / 2]);
  }

  void print_table() const {
    const std::string peak_name = std::string("peak-") + skinnet::cpu::gemm_detail::Kernel::name;
    std::printf("\nskinnet SGEMM (%s kernel) vs OpenBLAS and the %s FMA peak, medians in GFLOP/s:\n",
                skinnet::cpu::gemm_detail::Kernel::name, peak_name.c_str() + 5);
    std::printf("%6s %7s %10s %10s %10s %15s %14s\n", "n", "threads", "skinnet", "OpenBLAS", "peak",
                "skinnet/OpenBLAS", "skinnet/peak");
    for (int n : kSizes)
      for (int t : kThreads) {
        const double s = gflops("skinnet", n, t), o = gflops("openblas", n, t), p = gflops(peak_name, 0, t);
        if (s == 0.0) continue;
        char ratio_o[32] = "-", ratio_p[32] = "-";
        if (o > 0) std::snprintf(ratio_o, sizeof ratio_o, "%.3f", s / o);
        if (p > 0) std::snprintf(ratio_p, sizeof ratio_p, "%.3f", s / p);
        std::printf("%6d %7d %10.1f %10.1f %10.1f %15s %14s\n", n, t, s, o, p, ratio_o, ratio_p);
      }
  }

 private:
  std::map<Key, std::vector<double>> samples_;
};

void register_all() {
  auto add = [](const std::string& name, Key key, auto fn) {
    g_keys[name] = key;
    auto* b = benchmark::RegisterBenchmark(name.c_str(), fn);
    b->UseRealTime()->Unit(benchmark::kMillisecond);
    if (key.n >= 4096) b->Iterations(2);  // ~1 s per multiply: two are enough
    return b;
  };
  auto add_peak = [&](int threads) {
#if defined(__AVX512F__)
    add("peak_fma/avx512/threads:" + std::to_string(threads), {"peak-avx512", 0, threads},
        [threads](benchmark::State& s) { bench_peak(s, threads, 16, peak_body_avx512); });
#endif
#if defined(__AVX2__) && defined(__FMA__)
    add("peak_fma/avx2/threads:" + std::to_string(threads), {"peak-avx2", 0, threads},
        [threads](benchmark::State& s) { bench_peak(s, threads, 8, peak_body_avx2); });
#endif
  };
  for (int t : kThreads) add_peak(t);
  for (int n : kSizes)
    for (int t : kThreads) {
      const std::string suffix = "/n:" + std::to_string(n) + "/threads:" + std::to_string(t);
      add("sgemm/skinnet" + suffix, {"skinnet", n, t},
          [n, t](benchmark::State& s) { bench_skinnet(s, n, t); });
#if SKINNET_BENCH_HAVE_CBLAS
      add("sgemm/openblas" + suffix, {"openblas", n, t},
          [n, t](benchmark::State& s) { bench_openblas(s, n, t); });
#endif
    }
}

}  // namespace

int main(int argc, char** argv) {
  if (const char* core = std::getenv("OPENBLAS_CORETYPE"))
    std::fprintf(stderr,
                 "note: OPENBLAS_CORETYPE=%s pins OpenBLAS to that kernel family; for a fair comparison "
                 "run with `env -u OPENBLAS_CORETYPE`.\n",
                 core);
#if !SKINNET_BENCH_HAVE_CBLAS
  std::fprintf(stderr, "note: built without a CBLAS (CMake found no BLAS): OpenBLAS columns are empty.\n");
#endif
  register_all();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  // Colours only on a terminal (a custom reporter does not see --benchmark_color).
  TableReporter reporter(isatty(fileno(stdout)) ? benchmark::ConsoleReporter::OO_ColorTabular
                                                : benchmark::ConsoleReporter::OO_Tabular);
  benchmark::RunSpecifiedBenchmarks(&reporter);
  reporter.print_table();
  benchmark::Shutdown();
  return 0;
}
