#pragma once
// Folder-per-class datasets (the Kaggle layout): root/<class>/<image>.jpg, class = folder name.
//
// Images are found recursively inside each class folder, by extension (.jpg .jpeg .png .bmp, any case).
// Other files (README, .DS_Store, .txt) are not images: they are skipped and counted in
// Dataset::notes, never decoded. Files directly under root belong to no class and are noted too.
// A class folder without a single image is an error (it would silently shift every later label), unless
// the caller allows dropping it (skip_bad), in which case the drop is noted.
#include <algorithm>
#include <string>
#include <vector>

#include "skinnet/data/dataset.hpp"

namespace skinnet {

struct FolderOptions {
  bool drop_empty_classes = false;  // --skip-bad: drop class folders without images instead of failing
};

namespace folder_detail {
// Sorted image files under dir (recursive); non-image regular files are counted in `ignored`.
inline std::vector<fs::path> list_images(const fs::path& dir, int64_t& ignored) {
  std::vector<fs::path> files;
  std::error_code ec;
  fs::recursive_directory_iterator it(dir, fs::directory_options::follow_directory_symlink, ec);
  SKN_REQUIRE(!ec, IoError, display_path(dir), ": cannot list: ", ec.message());
  for (; it != fs::recursive_directory_iterator(); it.increment(ec)) {
    SKN_REQUIRE(!ec, IoError, display_path(dir), ": cannot list: ", ec.message());
    if (!it->is_regular_file(ec)) continue;
    if (has_image_extension(it->path())) files.push_back(it->path());
    else ++ignored;
  }
  std::sort(files.begin(), files.end());
  return files;
}

inline std::vector<fs::path> subdirectories(const fs::path& root) {
  std::vector<fs::path> dirs;
  std::error_code ec;
  for (fs::directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec))
    if (it->is_directory(ec)) dirs.push_back(it->path());
  SKN_REQUIRE(!ec, IoError, display_path(root), ": cannot list: ", ec.message());
  std::sort(dirs.begin(), dirs.end());
  return dirs;
}
}  // namespace folder_detail

inline Dataset load_folder_dataset(const fs::path& root, const FolderOptions& opt = {}) {
  std::error_code ec;
  SKN_REQUIRE(fs::is_directory(root, ec), IoError, display_path(root), ": dataset folder not found");
  Dataset d;
  d.source = "folder " + display_path(root);
  int64_t loose = 0;
  for (fs::directory_iterator it(root, ec), end; !ec && it != end; it.increment(ec))
    if (it->is_regular_file(ec) && has_image_extension(it->path())) ++loose;
  const auto dirs = folder_detail::subdirectories(root);
  SKN_REQUIRE(!dirs.empty(), DataError, display_path(root),
              ": no class folders (expected root/<class>/<image>.jpg)");

  std::vector<std::vector<fs::path>> per_class;
  int64_t ignored = 0;
  for (const auto& dir : dirs) {
    auto files = folder_detail::list_images(dir, ignored);
    if (files.empty()) {
      SKN_REQUIRE(opt.drop_empty_classes, DataError, display_path(dir),
                  ": class folder contains no images (.jpg .jpeg .png .bmp); remove it or pass --skip-bad to drop it");
      d.notes.push_back("dropped empty class folder " + display_path(dir));
      continue;
    }
    d.classes.push_back(dir.filename().string());
    per_class.push_back(std::move(files));
  }
  SKN_REQUIRE(!d.classes.empty(), DataError, display_path(root), ": no class folder contains images");
  // Directory order is already sorted byte-wise, which is the class order.
  for (std::size_t c = 0; c < per_class.size(); ++c)
    for (auto& f : per_class[c]) d.samples.push_back(Sample{f, static_cast<int>(c), f.stem().string(), {}});
  if (ignored) d.notes.push_back(detail::concat("ignored ", ignored, " file(s) without an image extension"));
  if (loose) d.notes.push_back(detail::concat("ignored ", loose, " image(s) directly under the root (no class folder)"));
  return d;
}

}  // namespace skinnet
