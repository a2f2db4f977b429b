#pragma once
// split.csv: which image went to train, val or test (DESIGN.md §8, written into runs/NAME/). Columns:
//   split,label,path,group
// with absolute paths, so `skinnet evaluate --data runs/NAME` finds the images from any directory, and
// class names rather than indices, so the file stays meaningful on its own. Reading it back with the
// model's class list restores the exact label indices.
#include <string>
#include <vector>

#include "skinnet/data/csv.hpp"
#include "skinnet/data/image_io.hpp"
#include "skinnet/data/split.hpp"

namespace skinnet {

inline void write_split_csv(const fs::path& file, const SplitDataset& s) {
  SKN_REQUIRE(s.split.size() == s.data.samples.size(), ValueError, "write_split_csv: ", s.split.size(),
              " split tags for ", s.data.samples.size(), " samples");
  std::string text = csv_row({"split", "label", "path", "group"});
  for (std::size_t i = 0; i < s.split.size(); ++i) {
    const Sample& smp = s.data.samples[i];
    std::error_code ec;
    fs::path p = fs::absolute(smp.path, ec);
    if (ec) p = smp.path;
    text += csv_row({split_name(s.split[i]), s.data.classes[static_cast<std::size_t>(smp.label)],
                     p.lexically_normal().string(), smp.group});
  }
  write_bytes(file, std::vector<uint8_t>(text.begin(), text.end()));
}

// `classes`: the model's class list (sorted); when empty, the sorted labels found in the file.
inline SplitDataset read_split_csv(const fs::path& file, const std::vector<std::string>& classes = {}) {
  const CsvTable t = parse_csv(read_text_file(file), display_path(file));
  const int c_split = t.column("split"), c_label = t.column("label"), c_path = t.column("path");
  const int c_group = t.find_column("group");
  SplitDataset s;
  s.data.source = "split file " + display_path(file);
  if (!classes.empty()) {
    s.data.classes = sorted_class_names(classes);
  } else {
    std::vector<std::string> labels;
    for (const auto& r : t.rows) labels.push_back(r[static_cast<std::size_t>(c_label)]);
    s.data.classes = sorted_class_names(labels);
  }
  for (std::size_t i = 0; i < t.rows.size(); ++i) {
    const auto& r = t.rows[i];
    Sample smp;
    smp.path = r[static_cast<std::size_t>(c_path)];
    smp.id = smp.path.stem().string();
    smp.label = s.data.class_index(r[static_cast<std::size_t>(c_label)]);
    SKN_REQUIRE(smp.label >= 0, DataError, t.source, ": line ", t.lines[i], ": label '",
                display_path(r[static_cast<std::size_t>(c_label)]), "' is not one of the model's classes");
    if (c_group >= 0) smp.group = r[static_cast<std::size_t>(c_group)];
    try {
      s.split.push_back(parse_split(r[static_cast<std::size_t>(c_split)]));
    } catch (const DataError& e) {
      throw DataError(detail::concat(t.source, ": line ", t.lines[i], ": ", e.what()));
    }
    s.data.samples.push_back(std::move(smp));
  }
  return s;
}

}  // namespace skinnet
