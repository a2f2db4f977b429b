#pragma once
// The dataset flags shared by `train` and `evaluate`, and the one function that turns them into a split
// dataset, whatever the layout (docs/data.md):
//   --data synth                      the built-in synthetic dermoscopy set (no files)
//   --data DIR                        folder-per-class, or a pre-split train/ val/ test/ tree
//   --data DIR --csv FILE             a CSV (HAM10000 metadata, ISIC one-hot ground truth, path,label)
//   --data runs/NAME                  the split.csv of an earlier training run
#include <CLI/CLI.hpp>

#include <cstdio>
#include <filesystem>
#include <map>
#include <string>

#include "skinnet/data/all.hpp"

namespace skinnet::cli {

struct DataFlags {
  std::string data;
  std::string csv;
  std::string path_col, label_col, group_by;
  std::string split = "7:2:1";
  bool skip_bad = false;
  bool scan = true;
  int synth_per_class = 80;
  int synth_size = 64;
};

inline void add_data_flags(CLI::App* cmd, DataFlags& f, bool training) {
  cmd->add_option("--data", f.data, "Dataset: a folder, a train/val/test tree, a runs/NAME directory, or 'synth'")
      ->required();
  cmd->add_option("--csv", f.csv, "CSV of labels (HAM10000_metadata.csv, ISIC ground truth, path,label)");
  cmd->add_option("--path-col", f.path_col, "CSV column with the image id or path (default: auto)");
  cmd->add_option("--label-col", f.label_col, "CSV column with the label (default: auto; one-hot when absent)");
  cmd->add_option("--group-by", f.group_by, "CSV column keeping related images in one split (e.g. lesion_id)");
  if (training) cmd->add_option("--split", f.split, "train:val:test ratio for unsplit datasets")->capture_default_str();
  cmd->add_flag("--skip-bad", f.skip_bad, "Skip unreadable / corrupt / duplicate images instead of stopping");
  cmd->add_flag("!--no-scan", f.scan, "Do not decode every image up front to look for bad files");
  cmd->add_option("--synth-per-class", f.synth_per_class, "Images per class of --data synth")->capture_default_str();
  cmd->add_option("--synth-size", f.synth_size, "Image side of --data synth")->capture_default_str();
}

inline SplitOptions parse_split_ratio(const std::string& text, uint64_t seed, bool by_group) {
  double a = 0, b = 0, c = 0;
  char tail = 0;
  SKN_REQUIRE(std::sscanf(text.c_str(), "%lf:%lf:%lf%c", &a, &b, &c, &tail) == 3 && a > 0 && b > 0 && c >= 0,
              ValueError, "--split '", text, "': expected train:val:test such as 7:2:1 (test may be 0)");
  const double sum = a + b + c;
  return SplitOptions{a / sum, b / sum, c / sum, seed, by_group};
}

inline Dataset synth_from_flags(const DataFlags& f, uint64_t seed) {
  SynthOptions so;
  so.per_class = f.synth_per_class;
  so.image_size = f.synth_size;
  so.seed = seed;
  return synth_dataset(so);
}

// Metadata recorded in model files so `evaluate --data runs/NAME` can regenerate a synthetic split.
inline std::map<std::string, std::string> data_metadata(const DataFlags& f, uint64_t seed) {
  if (f.data != "synth") return {{"data.source", f.data}};
  return {{"data.source", "synth"},
          {"data.synth_per_class", std::to_string(f.synth_per_class)},
          {"data.synth_size", std::to_string(f.synth_size)},
          {"data.synth_seed", std::to_string(seed)}};
}

// Opens the dataset named by the flags and assigns every image to train / val / test.
inline SplitDataset open_split_dataset(const DataFlags& f, uint64_t seed) {
  namespace fs = std::filesystem;
  SplitDataset s;
  const bool by_group = !f.group_by.empty();
  if (f.data == "synth") {
    s = make_split(synth_from_flags(f, seed), parse_split_ratio(f.split, seed, false));
  } else {
    SKN_REQUIRE(fs::exists(f.data), IoError, "--data ", f.data, ": no such file or directory");
    if (!f.csv.empty()) {
      CsvOptions co;
      co.path_col = f.path_col;
      co.label_col = f.label_col;
      co.group_col = f.group_by;
      co.skip_missing = f.skip_bad;
      s = make_split(load_csv_dataset(f.csv, f.data, co), parse_split_ratio(f.split, seed, by_group));
    } else if (fs::exists(fs::path(f.data) / "split.csv")) {
      s = read_split_csv(fs::path(f.data) / "split.csv");
    } else if (is_presplit_tree(f.data)) {
      PresplitOptions po;
      po.seed = seed;
      po.drop_empty_classes = f.skip_bad;
      s = load_presplit(f.data, po);
    } else {
      FolderOptions fo;
      fo.drop_empty_classes = f.skip_bad;
      s = make_split(load_folder_dataset(f.data, fo), parse_split_ratio(f.split, seed, by_group));
    }
  }
  for (const auto& n : s.data.notes) std::fprintf(stderr, "note: %s\n", n.c_str());
  std::fprintf(stderr, "%s", class_summary(s.data).c_str());
  if (f.scan && !s.data.generator) {
    std::fprintf(stderr, "scanning %lld images for unreadable, truncated or duplicate files...\n",
                 static_cast<long long>(s.data.size()));
    const ScanReport rep = scan_dataset(s.data);
    const int64_t skipped = apply_bad_input_policy(s, rep, f.skip_bad);
    if (skipped) std::fprintf(stderr, "warning: skipped %lld bad file(s):\n%s", static_cast<long long>(skipped), rep.text().c_str());
  }
  return s;
}

}  // namespace skinnet::cli
