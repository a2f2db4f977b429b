// The Loader (determinism across worker counts, epoch order, balanced sampling, cache, error
// propagation) and the synthetic dermoscopy generator.
#include <doctest/doctest.h>

#include <cmath>
#include <map>
#include <set>

#include "skinnet/data/folder_dataset.hpp"
#include "skinnet/data/loader.hpp"
#include "skinnet/data/synth.hpp"
#include "test_data_fixtures.hpp"

using namespace skinnet;
using fixtures::TempDir;

namespace {
struct EpochDump {
  std::vector<std::vector<float>> images;
  std::vector<std::vector<int>> labels;
  std::vector<std::vector<int64_t>> samples;
};
EpochDump dump(Loader& l, uint32_t epoch) {
  EpochDump d;
  l.start_epoch(epoch);
  while (auto b = l.next()) {
    d.images.push_back(b->images.to_vector());
    d.labels.push_back(b->labels);
    d.samples.push_back(b->samples);
  }
  return d;
}
}  // namespace

TEST_CASE("data loader: the same seed gives bit-identical batches with 0, 1 and 2 workers") {
  SynthOptions so;
  so.per_class = 4;
  so.image_size = 40;
  const Dataset d = synth_dataset(so);
  LoaderOptions o;
  o.batch_size = 5;
  o.image_size = 32;
  o.seed = 99;
  o.augment = parse_augment("hflip,vflip,rot90,rotate=30,shift=0.1,shear=0.15,zoom=0.1,brightness=0.2,contrast=0.2,hue=0.05");
  o.norm = NormPreset::Torch;
  std::vector<EpochDump> runs;
  for (int workers : {0, 1, 2}) {
    o.workers = workers;
    o.queue_depth = workers == 2 ? 1 : 3;
    Loader l(d, o);
    CHECK(l.batches_per_epoch() == 6);  // 28 images, batches of 5, last one partial
    runs.push_back(dump(l, 0));
    runs.push_back(dump(l, 1));
  }
  for (std::size_t r = 2; r < runs.size(); ++r) {
    CHECK(runs[r].images == runs[r % 2].images);
    CHECK(runs[r].labels == runs[r % 2].labels);
    CHECK(runs[r].samples == runs[r % 2].samples);
  }
  CHECK(runs[0].samples != runs[1].samples);  // epochs are shuffled differently
  // Resuming epoch 1 at batch 4 gives exactly the last two batches of the full epoch.
  o.workers = 2;
  Loader resumed(d, o);
  resumed.start_epoch(1, 4);
  for (std::size_t b = 4; b < 6; ++b) {
    auto batch = resumed.next();
    REQUIRE(batch);
    CHECK(batch->index == static_cast<int64_t>(b));
    CHECK(batch->images.to_vector() == runs[1].images[b]);
  }
  CHECK_FALSE(resumed.next());
  CHECK_THROWS_AS(resumed.start_epoch(1, 7), ValueError);
  // Each epoch visits every image exactly once, with its own label; shapes are NHWC.
  std::set<int64_t> seen;
  for (std::size_t b = 0; b < runs[0].samples.size(); ++b)
    for (std::size_t k = 0; k < runs[0].samples[b].size(); ++k) {
      seen.insert(runs[0].samples[b][k]);
      CHECK(runs[0].labels[b][k] == d.samples[runs[0].samples[b][k]].label);
    }
  CHECK(seen.size() == 28);
  CHECK(runs[0].images.back().size() == 3u * 32 * 32 * 3);
}

TEST_CASE("data loader: without augmentation a batch holds the decoded pixels exactly") {
  TempDir dir;
  for (int c = 0; c < 2; ++c)
    for (int i = 0; i < 3; ++i)
      fixtures::write_file(dir / (c ? "b" : "a") / (std::to_string(i) + ".png"), fixtures::png_bytes(fixtures::pattern(16, 16, c * 10 + i)));
  const Dataset d = load_folder_dataset(dir.path());
  LoaderOptions o;
  o.batch_size = 4;
  o.image_size = 16;
  o.shuffle = false;
  o.workers = 2;
  Loader l(d, o);
  l.start_epoch(0);
  auto b = l.next();
  REQUIRE(b);
  CHECK(b->images.shape() == Shape::nhwc(4, 16, 16, 3));
  CHECK(b->samples == std::vector<int64_t>{0, 1, 2, 3});
  CHECK(b->labels == std::vector<int>{0, 0, 0, 1});
  const Image third = read_image(d.samples[2].path);
  for (int y = 0; y < 16; ++y)
    for (int x = 0; x < 16; ++x)
      for (int c = 0; c < 3; ++c) REQUIRE(b->images.at(2, y, x, c) == float(third.at(x, y)[c]));
  auto last = l.next();
  REQUIRE(last);
  CHECK(last->images.shape().n() == 2);
  CHECK_FALSE(l.next());
  CHECK(l.cached_images() == 6);

  o.drop_last = true;
  o.cache_bytes = 16 * 16 * 3 * 2;  // room for two images
  Loader dropping(d, o);
  CHECK(dropping.batches_per_epoch() == 1);
  dropping.start_epoch(0);
  CHECK(dropping.next());
  CHECK_FALSE(dropping.next());
  CHECK(dropping.cached_images() == 2);
}

TEST_CASE("data loader: class-balanced sampling sees every class about equally often") {
  Dataset d;
  d.classes = {"common", "rare"};
  for (int i = 0; i < 190; ++i) d.samples.push_back({"x", 0, "c" + std::to_string(i), ""});
  for (int i = 0; i < 10; ++i) d.samples.push_back({"x", 1, "r" + std::to_string(i), ""});
  LoaderOptions o;
  o.balanced = true;
  o.seed = 3;
  Loader l(d, o);  // only the epoch order is used: no images are decoded
  int rare = 0, total = 0;
  std::set<int64_t> rare_seen;
  for (uint32_t e = 0; e < 5; ++e)
    for (int64_t i : l.epoch_order(e)) {
      ++total;
      if (d.samples[i].label == 1) {
        ++rare;
        rare_seen.insert(i);
      }
    }
  CHECK(double(rare) / total == doctest::Approx(0.5).epsilon(0.1));
  CHECK(rare_seen.size() == 10);
  CHECK(l.epoch_order(0) == Loader(d, o).epoch_order(0));
  o.balanced = false;
  int plain_rare = 0;
  for (int64_t i : Loader(d, o).epoch_order(0)) plain_rare += d.samples[i].label;
  CHECK(plain_rare == 10);
}

TEST_CASE("data loader: a corrupt image stops the epoch with an error naming the file") {
  TempDir dir;
  for (int i = 0; i < 6; ++i) fixtures::write_file(dir / "a" / (std::to_string(i) + ".png"), fixtures::png_bytes(fixtures::pattern(16, 16, i)));
  auto png = fixtures::png_bytes(fixtures::pattern(16, 16, 9));
  png.resize(png.size() / 2);
  fixtures::write_file(dir / "a" / "3.png", png);
  LoaderOptions o;
  o.batch_size = 2;
  o.image_size = 16;
  o.shuffle = false;
  o.workers = 2;
  Loader l(load_folder_dataset(dir.path()), o);
  l.start_epoch(0);
  CHECK(l.next());
  CHECK_THROWS_WITH_AS(l.next(), doctest::Contains("3.png: truncated or corrupt PNG"), IoError);
  CHECK_THROWS_WITH_AS(Loader(Dataset{}, o), doctest::Contains("has no images"), DataError);
  o.batch_size = 0;
  CHECK_THROWS_AS(Loader(load_folder_dataset(dir.path()), o), ValueError);
}

TEST_CASE("data synth: deterministic, sized, and its classes are separable by colour and texture") {
  CHECK(synth_image(4, 3, 32, 1) == synth_image(4, 3, 32, 1));
  CHECK(synth_image(4, 3, 32, 1) != synth_image(4, 3, 32, 2));
  CHECK(synth_image(4, 3, 32, 1) != synth_image(4, 4, 32, 1));
  CHECK(synth_image(0, 0, 224, 0).width == 224);
  CHECK_THROWS_AS(synth_image(7, 0, 32, 0), ValueError);

  // Nearest-centroid on 4 simple features (mean R, G, B and luminance spread of the centre) must beat
  // chance (1/7) by far: the classes differ as documented, not only by name.
  auto features = [](const Image& im) {
    double s[3] = {0, 0, 0}, l2 = 0, l1 = 0;
    int n = 0;
    for (int y = im.height / 4; y < 3 * im.height / 4; ++y)
      for (int x = im.width / 4; x < 3 * im.width / 4; ++x) {
        const uint8_t* p = im.at(x, y);
        for (int c = 0; c < 3; ++c) s[c] += p[c];
        const double lum = 0.3 * p[0] + 0.6 * p[1] + 0.1 * p[2];
        l1 += lum;
        l2 += lum * lum;
        ++n;
      }
    return std::vector<double>{s[0] / n, s[1] / n, s[2] / n, std::sqrt(l2 / n - (l1 / n) * (l1 / n))};
  };
  std::vector<std::vector<double>> centroid(7, std::vector<double>(4, 0));
  for (int c = 0; c < 7; ++c)
    for (int i = 0; i < 12; ++i) {
      const auto f = features(synth_image(c, i, 48, 5));
      for (int k = 0; k < 4; ++k) centroid[c][k] += f[k] / 12;
    }
  int correct = 0;
  for (int c = 0; c < 7; ++c)
    for (int i = 100; i < 112; ++i) {
      const auto f = features(synth_image(c, i, 48, 5));
      int best = 0;
      double best_d = 1e300;
      for (int k = 0; k < 7; ++k) {
        double dist = 0;
        for (int j = 0; j < 4; ++j) dist += (f[j] - centroid[k][j]) * (f[j] - centroid[k][j]);
        if (dist < best_d) best_d = dist, best = k;
      }
      correct += best == c;
    }
  MESSAGE("synthetic nearest-centroid accuracy: ", correct, "/84");
  CHECK(correct >= 50);
}

TEST_CASE("data synth: written to disk as a folder-per-class set it reads back identically") {
  TempDir dir;
  SynthOptions so;
  so.per_class = 2;
  so.image_size = 32;
  so.seed = 4;
  const Dataset written = write_synth_dataset(dir / "synth", so);
  CHECK(written.classes == synth_class_names());
  CHECK(written.size() == 14);
  const Dataset mem = synth_dataset(so);
  for (int64_t i = 0; i < mem.size(); ++i) {
    CHECK(written.samples[i].label == mem.samples[i].label);
    CHECK(written.load(i) == mem.load(i));
  }
}
