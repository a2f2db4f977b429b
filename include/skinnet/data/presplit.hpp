#pragma once
// Pre-split trees: root/train/<class>/*, root/val/<class>/* (also "valid" or "validation"),
// root/test/<class>/*. Many published sets ship only train/ and test/ (the ISIC Kaggle layout); the
// validation part is then carved from train/, stratified and seeded (DESIGN.md §8), so test/ stays
// untouched for the final report.
//
// Classes are the union of the class folders of all parts, sorted; a class absent from train/ is an
// error (a model cannot learn it), a class absent from val/ or test/ is noted.
#include <string>
#include <vector>

#include "skinnet/data/folder_dataset.hpp"
#include "skinnet/data/split.hpp"

namespace skinnet {

struct PresplitOptions {
  double val_fraction = 0.2;        // share of train/ moved to validation when there is no val/
  uint64_t seed = 0;
  bool drop_empty_classes = false;  // --skip-bad
};

inline bool is_presplit_tree(const fs::path& root) {
  std::error_code ec;
  return fs::is_directory(root / "train", ec) && !folder_detail::subdirectories(root / "train").empty();
}

inline SplitDataset load_presplit(const fs::path& root, const PresplitOptions& opt = {}) {
  SKN_REQUIRE(is_presplit_tree(root), DataError, display_path(root),
              ": not a pre-split tree (expected root/train/<class>/ with class folders)");
  struct Part {
    Split split;
    Dataset data;
  };
  std::vector<Part> parts;
  std::error_code ec;
  parts.push_back({Split::Train, load_folder_dataset(root / "train", {opt.drop_empty_classes})});
  bool have_val = false;
  for (const char* name : {"val", "valid", "validation"}) {
    if (fs::is_directory(root / name, ec)) {
      SKN_REQUIRE(!have_val, DataError, display_path(root), ": more than one validation folder (val, valid, validation)");
      parts.push_back({Split::Val, load_folder_dataset(root / name, {opt.drop_empty_classes})});
      have_val = true;
    }
  }
  if (fs::is_directory(root / "test", ec))
    parts.push_back({Split::Test, load_folder_dataset(root / "test", {opt.drop_empty_classes})});

  SplitDataset s;
  s.data.source = "pre-split tree " + display_path(root);
  std::vector<std::string> names;
  for (const auto& p : parts) names.insert(names.end(), p.data.classes.begin(), p.data.classes.end());
  s.data.classes = sorted_class_names(names);
  for (const auto& c : s.data.classes) {
    if (parts[0].data.class_index(c) < 0)
      throw DataError(detail::concat(display_path(root / "train"), ": class '", display_path(c),
                                     "' appears in another part but has no folder in train/"));
    for (std::size_t k = 1; k < parts.size(); ++k)
      if (parts[k].data.class_index(c) < 0)
        s.data.notes.push_back(detail::concat("class '", display_path(c), "' has no images in ", split_name(parts[k].split),
                                              "/"));
  }
  for (const auto& p : parts) {
    for (auto& n : p.data.notes) s.data.notes.push_back(std::string(split_name(p.split)) + "/: " + n);
    for (const Sample& smp : p.data.samples) {
      Sample t = smp;
      t.label = s.data.class_index(p.data.classes[static_cast<std::size_t>(smp.label)]);
      s.data.samples.push_back(std::move(t));
      s.split.push_back(p.split);
    }
  }
  if (!have_val) {
    carve_validation(s, opt.val_fraction, opt.seed);
    s.data.notes.push_back(detail::concat("no val/ folder: carved ", s.indices(Split::Val).size(),
                                          " validation images from train/ (", opt.val_fraction * 100, "%, stratified)"));
  }
  return s;
}

}  // namespace skinnet
