#pragma once
// The bad-input scan: every file of a dataset is checked before training, and every problem is reported
// with the file and the reason — unreadable, zero bytes, not an image, truncated or corrupt, over or
// under the size limits, or a duplicate (the same bytes filed under two classes: at least one label is
// wrong). Policy (apply_bad_input_policy): by default a non-empty report stops the run with the report
// as the error message; with skip_bad (--skip-bad) the bad files are removed and the number skipped is
// recorded in Dataset::notes. Nothing is ever relabelled.
//
// Two depths: a full scan decodes every image (finds truncation; what `skinnet train` does), a header
// scan only reads headers (fast indexing of large sets; finds zero-byte, non-image and size problems).
#include <algorithm>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "skinnet/core/parallel.hpp"
#include "skinnet/data/dataset.hpp"
#include "skinnet/data/split.hpp"

namespace skinnet {

struct ScanOptions {
  ImageLimits limits;
  bool decode = true;           // full decode (else: headers only)
  bool duplicates = true;       // hash every file to find the same bytes under two classes
  int expected_width = 0;       // when > 0: images must have exactly this size (a pre-resized set)
  int expected_height = 0;
};

struct BadFile {
  int64_t sample = -1;
  std::string path;
  std::string reason;
};

struct ScanReport {
  int64_t scanned = 0;
  std::vector<BadFile> bad;
  std::vector<std::string> notes;  // e.g. duplicates within one class (not an error)

  bool ok() const { return bad.empty(); }
  std::string text(std::size_t max_lines = 40) const {
    std::string s = detail::concat(bad.size(), " bad file(s) among ", scanned, " scanned:\n");
    for (std::size_t i = 0; i < bad.size() && i < max_lines; ++i) s += "  " + bad[i].reason + "\n";
    if (bad.size() > max_lines) s += detail::concat("  ... and ", bad.size() - max_lines, " more\n");
    return s;
  }
};

namespace scan_detail {
inline uint64_t fnv1a(const std::vector<uint8_t>& b) {
  uint64_t h = 1469598103934665603ull;
  for (uint8_t x : b) h = (h ^ x) * 1099511628211ull;
  return h;
}
}  // namespace scan_detail

inline ScanReport scan_dataset(const Dataset& d, const ScanOptions& opt = {}) {
  ScanReport rep;
  rep.scanned = d.size();
  if (d.generator) return rep;  // generated images have no files to check
  const std::size_t n = d.samples.size();
  std::vector<std::string> reason(n);
  std::vector<uint64_t> hash(n, 0), size(n, 0);
  parallel_for(0, static_cast<int64_t>(n), [&](int64_t i) {
    const Sample& s = d.samples[static_cast<std::size_t>(i)];
    try {
      ImageInfo info;
      if (opt.decode || opt.duplicates) {
        const auto bytes = read_file_bytes(s.path, opt.limits.max_bytes);
        hash[static_cast<std::size_t>(i)] = scan_detail::fnv1a(bytes);
        size[static_cast<std::size_t>(i)] = bytes.size();
        if (opt.decode) {
          const Image img = decode_image(bytes, display_path(s.path), opt.limits);
          info.width = img.width;
          info.height = img.height;
        } else {
          info = probe_image_memory(bytes.data(), bytes.size(), display_path(s.path), opt.limits);
        }
      } else {
        info = probe_image(s.path, opt.limits);
      }
      if (opt.expected_width > 0 && (info.width != opt.expected_width || info.height != opt.expected_height))
        reason[static_cast<std::size_t>(i)] = detail::concat(display_path(s.path), ": image is ", info.width, "x", info.height,
                                                             ", expected ", opt.expected_width, "x", opt.expected_height);
    } catch (const Error& e) {
      reason[static_cast<std::size_t>(i)] = e.what();  // messages already name the file
    } catch (const std::exception& e) {
      reason[static_cast<std::size_t>(i)] = display_path(s.path) + ": " + e.what();
    }
  }, 4);

  if (opt.duplicates) {
    // Candidates share (size, hash); the bytes are compared to be certain.
    std::map<std::pair<uint64_t, uint64_t>, std::vector<std::size_t>> same;
    for (std::size_t i = 0; i < n; ++i)
      if (size[i] > 0 && reason[i].empty()) same[{size[i], hash[i]}].push_back(i);
    for (const auto& [key, members] : same) {
      if (members.size() < 2) continue;
      const auto first = read_file_bytes(d.samples[members[0]].path);
      std::vector<std::size_t> equal{members[0]};
      for (std::size_t k = 1; k < members.size(); ++k)
        if (read_file_bytes(d.samples[members[k]].path) == first) equal.push_back(members[k]);
      if (equal.size() < 2) continue;
      bool cross_class = false;
      for (auto i : equal) cross_class |= d.samples[i].label != d.samples[equal[0]].label;
      std::string list;
      for (auto i : equal)
        list += detail::concat(list.empty() ? "" : ", ", display_path(d.samples[i].path), " (class ",
                               display_path(d.classes[static_cast<std::size_t>(d.samples[i].label)]), ")");
      if (cross_class) {
        for (auto i : equal)
          reason[i] = detail::concat(display_path(d.samples[i].path),
                                     ": duplicate: the same bytes are filed under different classes: ", list);
      } else {
        rep.notes.push_back("identical files within one class: " + list);
      }
    }
  }
  for (std::size_t i = 0; i < n; ++i)
    if (!reason[i].empty()) rep.bad.push_back({static_cast<int64_t>(i), display_path(d.samples[i].path), reason[i]});
  return rep;
}

namespace scan_detail {
template <class Keep>
void remove_bad(Dataset& d, const ScanReport& rep, Keep&& keep_extra) {
  std::vector<bool> drop(d.samples.size(), false);
  for (const auto& b : rep.bad) drop[static_cast<std::size_t>(b.sample)] = true;
  std::vector<Sample> kept;
  for (std::size_t i = 0; i < d.samples.size(); ++i)
    if (!drop[i]) {
      kept.push_back(std::move(d.samples[i]));
      keep_extra(i);
    }
  d.samples = std::move(kept);
}
}  // namespace scan_detail

// Stops with the report (DataError) unless skip_bad; with skip_bad removes the bad files and returns how
// many were skipped (also noted in the dataset).
inline int64_t apply_bad_input_policy(Dataset& d, const ScanReport& rep, bool skip_bad) {
  if (rep.ok()) return 0;
  if (!skip_bad)
    throw DataError(d.source + ": " + rep.text() + "fix or remove these files, or pass --skip-bad to continue without them");
  scan_detail::remove_bad(d, rep, [](std::size_t) {});
  d.notes.push_back(detail::concat("skipped ", rep.bad.size(), " bad file(s) (--skip-bad)"));
  return static_cast<int64_t>(rep.bad.size());
}

inline int64_t apply_bad_input_policy(SplitDataset& s, const ScanReport& rep, bool skip_bad) {
  if (rep.ok()) return 0;
  if (!skip_bad)
    throw DataError(s.data.source + ": " + rep.text() +
                    "fix or remove these files, or pass --skip-bad to continue without them");
  std::vector<Split> kept;
  scan_detail::remove_bad(s.data, rep, [&](std::size_t i) { kept.push_back(s.split[i]); });
  s.split = std::move(kept);
  s.data.notes.push_back(detail::concat("skipped ", rep.bad.size(), " bad file(s) (--skip-bad)"));
  return static_cast<int64_t>(rep.bad.size());
}

}  // namespace skinnet
