#pragma once
// Train / validation / test splits.
//
// stratified_split keeps every class's share the same in each part (default 7:2:1, the ratio of the
// published scalp study). With a group key (HAM10000 `lesion_id`: several photos of one lesion) whole
// groups are assigned together, so no lesion is seen in training and then "predicted" in the test set;
// a group is stratified by the label of its first image. Seeded and independent of thread count:
// units are shuffled per class with Philox (stream kSplit, step = class).
//
// Assignment rule, per class: units in shuffled order take consecutive runs of images; a unit goes to
// the part in which the midpoint of its run falls, with part boundaries at round(n * 0.7) and
// round(n * 0.9). Without groups this gives exactly round(n * fraction) images to train and val.
#include <cmath>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "skinnet/core/error.hpp"
#include "skinnet/data/dataset.hpp"
#include "skinnet/data/random.hpp"

namespace skinnet {

enum class Split : uint8_t { Train = 0, Val = 1, Test = 2 };

inline const char* split_name(Split s) {
  switch (s) {
    case Split::Train: return "train";
    case Split::Val: return "val";
    default: return "test";
  }
}
inline Split parse_split(const std::string& s) {
  if (s == "train") return Split::Train;
  if (s == "val" || s == "valid" || s == "validation") return Split::Val;
  if (s == "test") return Split::Test;
  throw DataError("unknown split '" + s + "' (expected train, val or test)");
}

// A dataset and the part each sample belongs to.
struct SplitDataset {
  Dataset data;
  std::vector<Split> split;  // one per sample

  std::vector<int64_t> indices(Split s) const {
    std::vector<int64_t> r;
    for (std::size_t i = 0; i < split.size(); ++i)
      if (split[i] == s) r.push_back(static_cast<int64_t>(i));
    return r;
  }
  Dataset part(Split s) const { return data.subset(indices(s)); }
};

struct SplitOptions {
  double train = 0.7, val = 0.2, test = 0.1;
  uint64_t seed = 0;
  bool by_group = false;  // keep samples with the same Sample::group together
};

inline std::vector<Split> stratified_split(const Dataset& d, const SplitOptions& opt = {}) {
  SKN_REQUIRE(opt.train >= 0 && opt.val >= 0 && opt.test >= 0 && std::abs(opt.train + opt.val + opt.test - 1.0) < 1e-6,
              ValueError, "split fractions ", opt.train, ":", opt.val, ":", opt.test,
              " must be non-negative and sum to 1");
  // Units: groups of samples that must stay together.
  std::vector<std::vector<int64_t>> units;
  std::map<std::string, std::size_t> unit_of_group;
  for (int64_t i = 0; i < d.size(); ++i) {
    const Sample& s = d.samples[static_cast<std::size_t>(i)];
    if (opt.by_group && !s.group.empty()) {
      auto [it, fresh] = unit_of_group.emplace(s.group, units.size());
      if (fresh) units.emplace_back();
      units[it->second].push_back(i);
    } else {
      units.push_back({i});
    }
  }
  std::vector<std::vector<std::size_t>> per_class(d.classes.size());
  for (std::size_t u = 0; u < units.size(); ++u)
    per_class[static_cast<std::size_t>(d.samples[static_cast<std::size_t>(units[u][0])].label)].push_back(u);

  std::vector<Split> out(d.samples.size(), Split::Train);
  for (std::size_t c = 0; c < per_class.size(); ++c) {
    auto& us = per_class[c];
    // Fisher-Yates with Philox draws addressed by (class, position): reproducible from the seed.
    for (std::size_t i = us.size(); i > 1; --i) {
      const auto j = data_rng::below(opt.seed, data_rng::kSplit, static_cast<uint32_t>(c), i, i);
      std::swap(us[i - 1], us[j]);
    }
    int64_t n = 0;
    for (auto u : us) n += static_cast<int64_t>(units[u].size());
    const double b_train = std::round(static_cast<double>(n) * opt.train);
    const double b_val = std::round(static_cast<double>(n) * (opt.train + opt.val));
    int64_t cum = 0;
    for (auto u : us) {
      const double mid = static_cast<double>(cum) + 0.5 * static_cast<double>(units[u].size());
      const Split s = mid < b_train ? Split::Train : (mid < b_val ? Split::Val : Split::Test);
      for (int64_t i : units[u]) out[static_cast<std::size_t>(i)] = s;
      cum += static_cast<int64_t>(units[u].size());
    }
  }
  return out;
}

inline SplitDataset make_split(Dataset d, const SplitOptions& opt = {}) {
  SplitDataset s;
  s.split = stratified_split(d, opt);
  s.data = std::move(d);
  return s;
}

// Moves a stratified `fraction` of the training samples to validation (for pre-split trees that ship
// only train/ and test/).
inline void carve_validation(SplitDataset& s, double fraction, uint64_t seed, bool by_group = false) {
  SKN_REQUIRE(fraction > 0 && fraction < 1, ValueError, "validation fraction ", fraction, " must be in (0, 1)");
  const auto train = s.indices(Split::Train);
  const Dataset t = s.data.subset(train);
  const auto parts = stratified_split(t, SplitOptions{1.0 - fraction, fraction, 0.0, seed, by_group});
  for (std::size_t k = 0; k < train.size(); ++k) s.split[static_cast<std::size_t>(train[k])] = parts[k];
}

}  // namespace skinnet
