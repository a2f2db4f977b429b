// Loader throughput: images per second decoded (or generated) + resized + augmented + normalised into
// NHWC batches, on 1 and 2 worker threads, with the decoded-image cache off (every image decoded every
// epoch, the cold-start cost) and on (the steady state after the first epoch).
//   synthetic: 280 PNGs of 224x224 written by the synthetic generator to a temporary folder
//   ham10000:  the real HAM10000-224 JPEGs (5,984 files) from $SKINNET_DATA_DIR or ../shared/data
//              relative to the repository root; skipped with a message when absent
// Augmentation: the 10-class skin study's recipe plus flips and colour jitter.
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>

#include "skinnet/data/folder_dataset.hpp"
#include "skinnet/data/loader.hpp"
#include "skinnet/data/synth.hpp"

namespace {
namespace fs = std::filesystem;
using namespace skinnet;

const char* kAugment = "hflip,vflip,rotate=30,shift=0.1,shear=0.15,zoom=0.1,brightness=0.2,contrast=0.2";

const Dataset& synthetic_set() {
  static const Dataset d = [] {
    const fs::path dir = fs::temp_directory_path() / "skinnet_bench_loader_synth";
    fs::remove_all(dir);
    SynthOptions o;
    o.per_class = 40;
    o.image_size = 224;
    o.seed = 1;
    return write_synth_dataset(dir, o);
  }();
  return d;
}

fs::path ham_dir() {
  fs::path root;
  if (const char* env = std::getenv("SKINNET_DATA_DIR"); env && *env) root = env;
  else root = fs::absolute(fs::path(__FILE__)).parent_path().parent_path().parent_path() / "shared" / "data";
  std::error_code ec;
  return fs::is_directory(root / "ham10000-224", ec) ? root / "ham10000-224" : fs::path();
}

void run_epoch(benchmark::State& state, const Dataset& d, bool cache) {
  LoaderOptions o;
  o.batch_size = 32;
  o.image_size = 224;
  o.workers = static_cast<int>(state.range(0));
  o.augment = parse_augment(kAugment);
  o.norm = NormPreset::Torch;
  o.cache_bytes = cache ? (std::size_t{2} << 30) : 0;
  Loader loader(d, o);
  if (cache) {  // warm the cache outside the timed region
    loader.start_epoch(0);
    while (loader.next()) {
    }
  }
  int64_t images = 0;
  uint32_t epoch = 1;
  for (auto _ : state) {
    loader.start_epoch(epoch++);
    while (auto b = loader.next()) {
      images += b->images.shape().n();
      benchmark::DoNotOptimize(b->images.data());
    }
  }
  state.counters["images/s"] = benchmark::Counter(static_cast<double>(images), benchmark::Counter::kIsRate);
}

void BM_synthetic_png_decode(benchmark::State& state) { run_epoch(state, synthetic_set(), false); }
void BM_synthetic_png_cached(benchmark::State& state) { run_epoch(state, synthetic_set(), true); }

void BM_ham10000_jpeg_decode(benchmark::State& state) {
  const fs::path dir = ham_dir();
  if (dir.empty()) {
    state.SkipWithError("HAM10000-224 not found (set SKINNET_DATA_DIR to ../shared/data)");
    return;
  }
  static const Dataset all = load_folder_dataset(dir);
  // 1,000 images spread over all classes keep one iteration around a second.
  static const Dataset d = [] {
    std::vector<int64_t> idx;
    for (int64_t i = 0; i < all.size(); i += 6) idx.push_back(i);
    return all.subset(idx);
  }();
  run_epoch(state, d, false);
}
}  // namespace

BENCHMARK(BM_synthetic_png_decode)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(1.0);
BENCHMARK(BM_synthetic_png_cached)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(1.0);
BENCHMARK(BM_ham10000_jpeg_decode)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(1.0);

BENCHMARK_MAIN();
