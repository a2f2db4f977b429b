#pragma once
// Loader: turns a Dataset into NHWC float batches (Tensor<Cpu>) plus int labels, ahead of the trainer.
//
// Pipeline per image: decode (or generate) -> resize to image_size x image_size (area filter when
// shrinking, bilinear when enlarging; the aspect ratio is not kept, as Keras' flow_from_directory) ->
// [cache] -> augment -> normalise -> its row of the batch tensor.
//
// Threads: `workers` threads build whole batches; at most `queue_depth` finished batches wait for the
// trainer (a bounded queue, so memory stays flat however slow the consumer is). Batches come out in
// order. With workers = 0 the batch is built on the caller's thread.
//
// Determinism: the epoch's order (shuffle or class-balanced draw) and each image's augmentation come
// from Philox addressed by (seed, epoch, position), and a batch is written by exactly one thread, so
// the same seed gives bit-identical batches with any number of workers. Balanced sampling draws a class
// uniformly, then an image of that class uniformly (with replacement), so every class is seen equally
// often — the alternative to class-weighted losses for HAM10000's 72% nevi.
//
// Cache: decoded-and-resized 8-bit images are kept up to `cache_bytes` (first come, first kept; no
// eviction, so the contents never depend on timing); augmentation runs on the cached copy each epoch.
#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include "skinnet/core/tensor.hpp"
#include "skinnet/data/augment.hpp"
#include "skinnet/data/dataset.hpp"
#include "skinnet/data/normalize.hpp"
#include "skinnet/data/random.hpp"
#include "skinnet/data/resize.hpp"

namespace skinnet {

struct LoaderOptions {
  int batch_size = 32;
  int image_size = 224;               // output is image_size x image_size RGB
  AugmentSpec augment;                // empty: no augmentation (evaluation)
  NormPreset norm = NormPreset::Raw;
  int workers = 2;                    // 0: build batches on the calling thread
  int queue_depth = 4;                // batches prepared ahead of the consumer
  uint64_t seed = 0;
  bool shuffle = true;
  bool drop_last = false;             // drop a final partial batch
  bool balanced = false;              // class-balanced sampling (with replacement)
  std::size_t cache_bytes = std::size_t{1} << 30;  // 0 disables the cache
  ImageLimits limits;
  ResizeMode resize = ResizeMode::Auto;
};

struct Batch {
  int64_t index = 0;              // batch number within the epoch
  Tensor<Cpu> images;             // [n, image_size, image_size, 3]
  std::vector<int> labels;        // n labels
  std::vector<int64_t> samples;   // n dataset indices
};

class Loader {
 public:
  Loader(Dataset data, LoaderOptions opt) : data_(std::move(data)), opt_(opt), cache_(data_.samples.size()) {
    SKN_REQUIRE(opt_.batch_size > 0, ValueError, "Loader: batch size ", opt_.batch_size, " must be positive");
    SKN_REQUIRE(opt_.image_size >= 8 && opt_.image_size <= 4096, ValueError, "Loader: image size ", opt_.image_size,
                " must be in [8, 4096]");
    SKN_REQUIRE(opt_.workers >= 0 && opt_.workers <= 256, ValueError, "Loader: ", opt_.workers, " workers");
    SKN_REQUIRE(opt_.queue_depth >= 1, ValueError, "Loader: queue depth must be at least 1");
    SKN_REQUIRE(!data_.samples.empty(), DataError, "Loader: dataset ", data_.source, " has no images");
  }
  Loader(const Loader&) = delete;
  Loader& operator=(const Loader&) = delete;
  ~Loader() { stop_workers(); }

  const Dataset& dataset() const { return data_; }
  const LoaderOptions& options() const { return opt_; }

  int64_t batches_per_epoch() const {
    const int64_t n = data_.size(), b = opt_.batch_size;
    return opt_.drop_last ? n / b : (n + b - 1) / b;
  }

  // Dataset index at each position of the epoch.
  std::vector<int64_t> epoch_order(uint32_t epoch) const {
    const int64_t n = data_.size();
    std::vector<int64_t> order(static_cast<std::size_t>(n));
    if (opt_.balanced) {
      std::vector<std::vector<int64_t>> by_class(data_.classes.size());
      for (int64_t i = 0; i < n; ++i) by_class[static_cast<std::size_t>(data_.samples[static_cast<std::size_t>(i)].label)].push_back(i);
      std::vector<std::size_t> present;
      for (std::size_t c = 0; c < by_class.size(); ++c)
        if (!by_class[c].empty()) present.push_back(c);
      for (int64_t p = 0; p < n; ++p) {
        const auto& members = by_class[present[data_rng::below(opt_.seed, data_rng::kBalance, epoch,
                                                                2 * static_cast<uint64_t>(p), present.size())]];
        order[static_cast<std::size_t>(p)] =
            members[data_rng::below(opt_.seed, data_rng::kBalance, epoch, 2 * static_cast<uint64_t>(p) + 1, members.size())];
      }
      return order;
    }
    for (int64_t i = 0; i < n; ++i) order[static_cast<std::size_t>(i)] = i;
    if (opt_.shuffle)
      for (int64_t i = n; i > 1; --i)
        std::swap(order[static_cast<std::size_t>(i - 1)],
                  order[data_rng::below(opt_.seed, data_rng::kEpoch, epoch, static_cast<uint64_t>(i), static_cast<uint64_t>(i))]);
    return order;
  }

  // Begins an epoch (stopping any unfinished one) and starts the workers. `first_batch` > 0 resumes an
  // epoch part-way (after a checkpoint): the batches from there on are exactly those of an epoch run
  // from the start, and the skipped ones are never decoded.
  void start_epoch(uint32_t epoch, int64_t first_batch = 0) {
    SKN_REQUIRE(first_batch >= 0 && first_batch <= batches_per_epoch(), ValueError, "Loader::start_epoch: first batch ",
                first_batch, " is outside the epoch's ", batches_per_epoch(), " batches");
    stop_workers();
    epoch_ = epoch;
    order_ = epoch_order(epoch);
    next_to_build_ = first_batch;
    consumed_ = first_batch;
    ready_.clear();
    stop_ = false;
    started_ = true;
    for (int w = 0; w < opt_.workers; ++w) threads_.emplace_back([this] { worker(); });
  }

  // The next batch of the epoch, in order; std::nullopt when the epoch is done. Rethrows the first error
  // a worker met (e.g. a corrupt image, named in the message).
  std::optional<Batch> next() {
    SKN_REQUIRE(started_, ValueError, "Loader::next: call start_epoch first");
    if (consumed_ >= batches_per_epoch()) {
      stop_workers();
      return std::nullopt;
    }
    if (opt_.workers == 0) return build(consumed_++);
    Slot slot;
    {
      std::unique_lock<std::mutex> lock(m_);
      ready_cv_.wait(lock, [&] { return ready_.count(consumed_) > 0; });
      slot = std::move(ready_[consumed_]);
      ready_.erase(consumed_);
      ++consumed_;
    }
    work_cv_.notify_all();
    if (slot.error) {
      stop_workers();
      std::rethrow_exception(slot.error);
    }
    return std::move(slot.batch);
  }

  // Images held in the cache (for reports and tests).
  int64_t cached_images() const {
    std::lock_guard<std::mutex> lock(cache_m_);
    return cached_count_;
  }

  // One image as the loader feeds it (decoded, resized, augmented for `epoch`/`position`, normalised):
  // a float HWC vector. Used by `build` and handy for previews.
  std::vector<float> prepare(int64_t sample, uint32_t epoch, uint64_t position) {
    const int s = opt_.image_size;
    std::vector<float> out(static_cast<std::size_t>(s) * s * 3);
    prepare_into(sample, epoch, position, out.data());
    return out;
  }

 private:
  struct Slot {
    std::optional<Batch> batch;
    std::exception_ptr error;
  };

  std::shared_ptr<const Image> image(int64_t i) {
    {
      std::lock_guard<std::mutex> lock(cache_m_);
      if (auto& c = cache_[static_cast<std::size_t>(i)]) return c;
    }
    auto img = std::make_shared<const Image>(resize(data_.load(i, opt_.limits), opt_.image_size, opt_.image_size, opt_.resize));
    std::lock_guard<std::mutex> lock(cache_m_);
    auto& c = cache_[static_cast<std::size_t>(i)];
    if (!c && cache_used_ + img->bytes() <= opt_.cache_bytes) {
      c = img;
      cache_used_ += img->bytes();
      ++cached_count_;
    }
    return img;
  }

  void prepare_into(int64_t sample, uint32_t epoch, uint64_t position, float* out) {
    const auto img = image(sample);
    const int s = opt_.image_size;
    augment_into(*img, draw_augment(opt_.augment, opt_.seed, epoch, position), s, s, out);
    normalize_pixels(out, static_cast<int64_t>(s) * s, opt_.norm);
  }

  Batch build(int64_t b) {
    const int64_t n_all = data_.size();
    const int64_t lo = b * opt_.batch_size, hi = std::min(n_all, lo + opt_.batch_size);
    const int s = opt_.image_size;
    Batch batch;
    batch.index = b;
    batch.images = Tensor<Cpu>(Shape::nhwc(hi - lo, s, s, 3));
    const std::size_t per = static_cast<std::size_t>(s) * s * 3;
    for (int64_t p = lo; p < hi; ++p) {
      const int64_t i = order_[static_cast<std::size_t>(p)];
      prepare_into(i, epoch_, static_cast<uint64_t>(p), batch.images.data() + static_cast<std::size_t>(p - lo) * per);
      batch.labels.push_back(data_.samples[static_cast<std::size_t>(i)].label);
      batch.samples.push_back(i);
    }
    return batch;
  }

  void worker() {
    const int64_t nb = batches_per_epoch();
    for (;;) {
      int64_t b;
      {
        std::unique_lock<std::mutex> lock(m_);
        work_cv_.wait(lock, [&] { return stop_ || next_to_build_ >= nb || next_to_build_ < consumed_ + opt_.queue_depth; });
        if (stop_ || next_to_build_ >= nb) return;
        b = next_to_build_++;
      }
      Slot slot;
      try {
        slot.batch = build(b);
      } catch (...) {
        slot.error = std::current_exception();
      }
      {
        std::lock_guard<std::mutex> lock(m_);
        ready_[b] = std::move(slot);
      }
      ready_cv_.notify_all();
    }
  }

  void stop_workers() {
    {
      std::lock_guard<std::mutex> lock(m_);
      stop_ = true;
    }
    work_cv_.notify_all();
    for (auto& t : threads_) t.join();
    threads_.clear();
  }

  Dataset data_;
  LoaderOptions opt_;

  // Epoch state.
  uint32_t epoch_ = 0;
  std::vector<int64_t> order_;
  bool started_ = false;
  std::vector<std::thread> threads_;
  std::mutex m_;
  std::condition_variable work_cv_, ready_cv_;
  int64_t next_to_build_ = 0, consumed_ = 0;
  bool stop_ = false;
  std::map<int64_t, Slot> ready_;

  // Cache of decoded-and-resized images.
  mutable std::mutex cache_m_;
  std::vector<std::shared_ptr<const Image>> cache_;
  std::size_t cache_used_ = 0;
  int64_t cached_count_ = 0;
};

}  // namespace skinnet
