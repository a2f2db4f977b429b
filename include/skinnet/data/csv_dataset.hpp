#pragma once
// Datasets described by a CSV label file, images found under a data directory.
//
// Supported forms (columns chosen by name; "auto" tries the usual names in order):
//   path,label                         generic: --path-col / --label-col (auto: path, image_id, image,
//                                      filename, file / label, dx, diagnosis, class)
//   lesion_id,image_id,dx,...          HAM10000_metadata.csv: image_id + dx, --group-by lesion_id
//   image,MEL,NV,BCC,AKIEC,BKL,DF,VASC ISIC challenge ground truth, one-hot: every column other than the
//                                      path (and group) column is a class, lower-cased; each row must
//                                      have exactly one 1.
// Resolving a row to a file (DESIGN.md §8): a value that names an existing file relative to the data
// directory is used as is; otherwise the value's stem is looked up in an index of every image under the
// data directory, recursively, by file stem — HAM10000 ships its images in two part folders, the shared
// copy keeps them in class folders, and both work. A stem that matches no file or several files is an
// error naming the row. Duplicate ids, unknown labels (when the class list is fixed), empty labels and
// missing columns are errors too; nothing is silently dropped or relabelled. With skip_missing, rows
// whose image is absent are skipped and counted in Dataset::notes.
#include <cstdlib>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "skinnet/data/csv.hpp"
#include "skinnet/data/dataset.hpp"

namespace skinnet {

struct CsvOptions {
  std::string path_col;               // empty: auto
  std::string label_col;              // empty: auto (or one-hot when no label column exists)
  std::string group_col;              // e.g. "lesion_id"; empty: no groups
  bool one_hot = false;               // force the ISIC one-hot form
  std::vector<std::string> classes;   // when set: the class list (labels outside it are errors)
  bool skip_missing = false;          // --skip-bad: skip rows whose image file is missing
};

// Every image file under a directory, by stem. Built once per load.
class StemIndex {
 public:
  explicit StemIndex(const fs::path& dir) : dir_(dir) {
    std::error_code ec;
    SKN_REQUIRE(fs::is_directory(dir, ec), IoError, display_path(dir), ": data directory not found");
    fs::recursive_directory_iterator it(dir, fs::directory_options::follow_directory_symlink, ec);
    SKN_REQUIRE(!ec, IoError, display_path(dir), ": cannot list: ", ec.message());
    for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
      SKN_REQUIRE(!ec, IoError, display_path(dir), ": cannot list: ", ec.message());
      if (it->is_regular_file(ec) && has_image_extension(it->path()))
        by_stem_[it->path().stem().string()].push_back(it->path());
    }
  }
  // The files whose stem is `stem` (empty when none).
  const std::vector<fs::path>& find(const std::string& stem) const {
    static const std::vector<fs::path> none;
    const auto it = by_stem_.find(stem);
    return it == by_stem_.end() ? none : it->second;
  }
  std::size_t size() const { return by_stem_.size(); }

 private:
  fs::path dir_;
  std::unordered_map<std::string, std::vector<fs::path>> by_stem_;
};

namespace csv_detail {
inline int pick_column(const CsvTable& t, const std::string& requested, std::initializer_list<const char*> candidates,
                       const char* what) {
  if (!requested.empty()) return t.column(requested);
  for (const char* c : candidates)
    if (int i = t.find_column(c); i >= 0) return i;
  if (what == nullptr) return -1;
  throw DataError(detail::concat(t.source, ": cannot tell which column holds the ", what, " (columns: ", t.header_list(),
                                 "); name it with --", what, "-col"));
}
// "1", "1.0", "0", "0.0" and friends; anything else is not a one-hot value.
inline bool parse_01(const std::string& s, int& v) {
  if (s.empty()) return false;
  char* end = nullptr;
  const double x = std::strtod(s.c_str(), &end);
  if (end == s.c_str() || *end != '\0') return false;
  if (x == 0.0) v = 0;
  else if (x == 1.0) v = 1;
  else return false;
  return true;
}
}  // namespace csv_detail

inline Dataset load_csv_dataset_from_table(const CsvTable& t, const fs::path& data_dir, const CsvOptions& opt = {}) {
  using csv_detail::pick_column;
  const int path_col = pick_column(t, opt.path_col, {"path", "image_id", "image", "filename", "file"}, "path");
  const int group_col = opt.group_col.empty() ? -1 : t.column(opt.group_col);
  int label_col = -1;
  std::vector<int> onehot_cols;
  if (!opt.one_hot) label_col = pick_column(t, opt.label_col, {"label", "dx", "diagnosis", "class"}, nullptr);
  if (label_col < 0) {
    // One-hot: every other column must hold 0/1 values.
    for (int c = 0; c < static_cast<int>(t.header.size()); ++c)
      if (c != path_col && c != group_col) onehot_cols.push_back(c);
    bool all01 = !onehot_cols.empty() && !t.rows.empty();
    int v = 0;
    for (std::size_t r = 0; all01 && r < t.rows.size(); ++r)
      for (int c : onehot_cols) all01 = all01 && csv_detail::parse_01(t.rows[r][static_cast<std::size_t>(c)], v);
    if (!all01)
      throw DataError(detail::concat(t.source, ": no label column (label, dx, diagnosis, class) and the other columns are not "
                                     "one-hot 0/1 values (columns: ", t.header_list(), "); name it with --label-col"));
  }

  Dataset d;
  d.source = "CSV " + t.source;
  // Class names.
  std::vector<std::string> onehot_names;
  for (int c : onehot_cols) onehot_names.push_back(to_lower(t.header[static_cast<std::size_t>(c)]));
  if (!opt.classes.empty()) {
    d.classes = sorted_class_names(opt.classes);
    SKN_REQUIRE(d.classes.size() == opt.classes.size(), ValueError, t.source, ": the class list names a class twice");
  } else if (label_col >= 0) {
    std::vector<std::string> labels;
    for (const auto& row : t.rows) labels.push_back(row[static_cast<std::size_t>(label_col)]);
    d.classes = sorted_class_names(labels);
  } else {
    d.classes = sorted_class_names(onehot_names);
    SKN_REQUIRE(d.classes.size() == onehot_names.size(), DataError, t.source,
                ": two one-hot columns have the same lower-cased name");
  }

  const StemIndex index(data_dir);
  std::map<std::string, int> id_line;        // id -> line, to report duplicate ids
  std::map<fs::path, int> file_line;         // resolved file -> line, to report two ids naming one file
  int64_t missing = 0;
  for (std::size_t r = 0; r < t.rows.size(); ++r) {
    const auto& row = t.rows[r];
    const int line = t.lines[r];
    const std::string& id = row[static_cast<std::size_t>(path_col)];
    auto where = [&] { return detail::concat(t.source, ": line ", line, ": "); };
    SKN_REQUIRE(!id.empty(), DataError, where(), "empty image id in column '", t.header[static_cast<std::size_t>(path_col)], "'");
    if (auto [it, fresh] = id_line.emplace(id, line); !fresh)
      throw DataError(detail::concat(where(), "image id '", display_path(id), "' already listed on line ", it->second));

    // Label.
    int label = -1;
    if (label_col >= 0) {
      const std::string& name = row[static_cast<std::size_t>(label_col)];
      SKN_REQUIRE(!name.empty(), DataError, where(), "empty label for image '", display_path(id), "'");
      label = d.class_index(name);
      if (label < 0) {
        std::string known;
        for (std::size_t k = 0; k < d.classes.size(); ++k) known += (k ? ", " : "") + d.classes[k];
        throw DataError(detail::concat(where(), "unknown label '", display_path(name), "' for image '", display_path(id),
                                       "' (classes: ", known, ")"));
      }
    } else {
      int ones = 0, v = 0;
      for (std::size_t k = 0; k < onehot_cols.size(); ++k) {
        csv_detail::parse_01(row[static_cast<std::size_t>(onehot_cols[k])], v);
        if (v == 1) {
          ++ones;
          label = d.class_index(onehot_names[k]);
        }
      }
      SKN_REQUIRE(ones == 1, DataError, where(), "image '", display_path(id), "' has ", ones,
                  " one-hot labels set (exactly one expected)");
      SKN_REQUIRE(label >= 0, DataError, where(), "one-hot class of image '", display_path(id), "' is not in the class list");
    }

    // File.
    fs::path file;
    std::error_code ec;
    const fs::path direct = data_dir / fs::path(id);
    if (fs::path(id).has_extension() && fs::is_regular_file(direct, ec)) {
      file = direct;
    } else {
      const auto& hits = index.find(fs::path(id).stem().string());
      if (hits.size() > 1)
        throw DataError(detail::concat(where(), "image id '", display_path(id), "' is ambiguous under ", display_path(data_dir),
                                       ": ", display_path(hits[0]), " and ", display_path(hits[1]),
                                       hits.size() > 2 ? " (and more)" : ""));
      if (hits.empty()) {
        if (opt.skip_missing) {
          ++missing;
          continue;
        }
        throw DataError(detail::concat(where(), "image id '", display_path(id), "' not found under ", display_path(data_dir),
                                       " (no .jpg/.jpeg/.png/.bmp file with that name)"));
      }
      file = hits[0];
    }
    if (auto [it, fresh] = file_line.emplace(file, line); !fresh)
      throw DataError(detail::concat(where(), "image id '", display_path(id), "' resolves to ", display_path(file),
                                     ", already used on line ", it->second));
    Sample s;
    s.path = file;
    s.label = label;
    s.id = fs::path(id).stem().string();
    if (group_col >= 0) s.group = row[static_cast<std::size_t>(group_col)];
    d.samples.push_back(std::move(s));
  }
  SKN_REQUIRE(!d.samples.empty(), DataError, t.source, ": no images (the CSV has no usable rows)");
  if (missing) d.notes.push_back(detail::concat("skipped ", missing, " CSV row(s) whose image was not found"));
  return d;
}

inline Dataset load_csv_dataset(const fs::path& csv_file, const fs::path& data_dir, const CsvOptions& opt = {}) {
  return load_csv_dataset_from_table(parse_csv(read_text_file(csv_file), display_path(csv_file)), data_dir, opt);
}

}  // namespace skinnet
