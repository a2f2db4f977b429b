#pragma once
// Dataset: a list of labelled images and the sorted class names their labels index. Every layout
// (folder per class, pre-split trees, CSV label files, the synthetic generator) produces this one type;
// splits, the bad-input scan and the loader only ever see a Dataset.
//
// Class order (DESIGN.md §8): class names are sorted byte-wise (folder names; HAM10000 `dx`; ISIC
// one-hot columns lower-cased), label i means classes[i], and that order is saved with the model.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

#include "skinnet/core/error.hpp"
#include "skinnet/data/file_util.hpp"
#include "skinnet/data/image.hpp"
#include "skinnet/data/image_io.hpp"

namespace skinnet {

struct Sample {
  fs::path path;      // the image file; for generated samples a descriptive pseudo-path
  int label = -1;     // index into Dataset::classes
  std::string id;     // image id: the file stem, or the CSV's id column
  std::string group;  // grouping key for splits (HAM10000 lesion_id), empty when none
};

struct Dataset {
  std::string source;                 // where it came from, for messages ("folder DIR", "CSV FILE", "synth")
  std::vector<std::string> classes;   // sorted class names
  std::vector<Sample> samples;
  std::vector<std::string> notes;     // what the loader ignored or dropped, for the user to read
  // Set for datasets without files (the synthetic generator): returns the sample's image.
  std::function<Image(const Sample&)> generator;

  int64_t size() const { return static_cast<int64_t>(samples.size()); }
  int num_classes() const { return static_cast<int>(classes.size()); }

  std::vector<int64_t> class_counts() const {
    std::vector<int64_t> counts(classes.size(), 0);
    for (const Sample& s : samples) counts[static_cast<std::size_t>(s.label)] += 1;
    return counts;
  }
  int class_index(const std::string& name) const {
    const auto it = std::lower_bound(classes.begin(), classes.end(), name);
    return (it != classes.end() && *it == name) ? static_cast<int>(it - classes.begin()) : -1;
  }
  // A dataset with the same classes holding only the given samples (in the given order).
  Dataset subset(const std::vector<int64_t>& indices) const {
    Dataset d;
    d.source = source;
    d.classes = classes;
    d.generator = generator;
    d.samples.reserve(indices.size());
    for (int64_t i : indices) d.samples.push_back(samples.at(static_cast<std::size_t>(i)));
    return d;
  }
  // The image of sample i, decoded to RGB (or generated).
  Image load(int64_t i, const ImageLimits& limits = {}) const {
    const Sample& s = samples.at(static_cast<std::size_t>(i));
    if (generator) return generator(s);
    return read_image(s.path, limits);
  }
};

// Sorted, de-duplicated class names.
inline std::vector<std::string> sorted_class_names(std::vector<std::string> names) {
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  return names;
}

// The "EDA" table people print first: images per class, share of the dataset, and a warning for every
// class with fewer than `min_images` images (its validation metrics will be noise).
inline std::string class_summary(const Dataset& d, int64_t min_images = 20) {
  const auto counts = d.class_counts();
  const int64_t total = d.size();
  std::size_t width = 5;
  for (const auto& c : d.classes) width = std::max(width, display_path(c).size());
  std::string out;
  char buf[256];
  std::snprintf(buf, sizeof buf, "%-*s %8s %7s\n", static_cast<int>(width), "class", "images", "share");
  out += buf;
  for (std::size_t i = 0; i < counts.size(); ++i) {
    const double share = total ? 100.0 * static_cast<double>(counts[i]) / static_cast<double>(total) : 0.0;
    std::snprintf(buf, sizeof buf, "%-*s %8lld %6.1f%%\n", static_cast<int>(width), display_path(d.classes[i]).c_str(),
                  static_cast<long long>(counts[i]), share);
    out += buf;
  }
  std::snprintf(buf, sizeof buf, "%-*s %8lld\n", static_cast<int>(width), "total", static_cast<long long>(total));
  out += buf;
  for (std::size_t i = 0; i < counts.size(); ++i)
    if (counts[i] < min_images)
      out += detail::concat("warning: class '", display_path(d.classes[i]), "' has only ", counts[i],
                            " image(s) (fewer than ", min_images, "); its metrics will be unreliable\n");
  for (const auto& n : d.notes) out += "note: " + n + "\n";
  return out;
}

// Classes with fewer than `min_images` images (the warning of class_summary, as data).
inline std::vector<std::string> tiny_classes(const Dataset& d, int64_t min_images = 20) {
  std::vector<std::string> r;
  const auto counts = d.class_counts();
  for (std::size_t i = 0; i < counts.size(); ++i)
    if (counts[i] < min_images) r.push_back(d.classes[i]);
  return r;
}

}  // namespace skinnet
