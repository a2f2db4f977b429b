#pragma once
// Text renderings of an Evaluation (train/metrics.hpp):
//   classification_report_text()  scikit-learn's classification_report layout, byte for byte
//   confusion_matrix_text()       aligned plain-text table (rows true, columns predicted)
//   markdown_report()             the evaluation report a run writes (report.md): summary, per-class
//                                 table, sklearn-style report, confusion matrix, calibration bins, links
//                                 to pictures (PNG charts are drawn elsewhere and passed in by path)
//   write_text_file()             atomic write (temporary file + rename), IoError naming the path
// Undefined values (ROC AUC of a class absent from the test set) print as "n/a".
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "skinnet/core/error.hpp"
#include "skinnet/train/metrics.hpp"

namespace skinnet {

namespace report_detail {
inline std::string fixed(double v, int digits) {
  if (std::isnan(v)) return "n/a";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", digits, v);
  return buf;
}
inline std::string pad_left(const std::string& s, size_t width) {
  return s.size() >= width ? s : std::string(width - s.size(), ' ') + s;
}
inline std::string pad_right(const std::string& s, size_t width) {
  return s.size() >= width ? s : s + std::string(width - s.size(), ' ');
}
// Class names for K classes: the given ones, or "0", "1", ... when none are given.
inline std::vector<std::string> class_labels(const std::vector<std::string>& names, int k, const char* what) {
  if (names.empty()) {
    std::vector<std::string> out;
    for (int c = 0; c < k; ++c) out.push_back(std::to_string(c));
    return out;
  }
  SKN_REQUIRE(static_cast<int>(names.size()) == k, ValueError, what, ": ", names.size(), " class names for ", k,
              " classes");
  return names;
}
// A table cell: '|' would end the cell early.
inline std::string md_cell(const std::string& s) {
  std::string out;
  for (char ch : s) {
    if (ch == '|') out += '\\';
    out += ch;
  }
  return out;
}
}  // namespace report_detail

// scikit-learn's classification_report(y_true, y_pred, labels=range(K), target_names=names, digits=d,
// zero_division=0), same spacing: names right-aligned to the widest of them and "weighted avg", then
// four columns of width 9, each preceded by a space.
inline std::string classification_report_text(const ClassificationSummary& s, const std::vector<std::string>& names,
                                              int digits = 2) {
  const int k = static_cast<int>(s.per_class.size());
  const std::vector<std::string> labels = report_detail::class_labels(names, k, "classification_report_text");
  size_t width = std::string("weighted avg").size();
  for (const std::string& n : labels) width = std::max(width, n.size());
  width = std::max(width, static_cast<size_t>(digits));
  auto row = [&](const std::string& name, const std::string& a, const std::string& b, const std::string& c,
                 const std::string& d) {
    return report_detail::pad_left(name, width) + " " + " " + report_detail::pad_left(a, 9) + " " + report_detail::pad_left(b, 9) + " " +
           report_detail::pad_left(c, 9) + " " + report_detail::pad_left(d, 9);
  };
  auto scores = [&](const std::string& name, const ClassScores& cs) {
    return row(name, report_detail::fixed(cs.precision, digits), report_detail::fixed(cs.recall, digits),
               report_detail::fixed(cs.f1, digits), std::to_string(cs.support)) + "\n";
  };
  std::string out = row("", "precision", "recall", "f1-score", "support") + "\n\n";
  for (int c = 0; c < k; ++c) out += scores(labels[static_cast<size_t>(c)], s.per_class[static_cast<size_t>(c)]);
  out += "\n";
  out += row("accuracy", "", "", report_detail::fixed(s.accuracy, digits), std::to_string(s.samples)) + "\n";
  out += scores("macro avg", s.macro);
  out += scores("weighted avg", s.weighted);
  return out;
}

// Counts with class names, rows = true class, columns = predicted class:
//   true \ pred  akiec  bcc  ...
//         akiec     12    3
inline std::string confusion_matrix_text(const ConfusionMatrix& m, const std::vector<std::string>& names) {
  const int k = m.num_classes();
  const std::vector<std::string> labels = report_detail::class_labels(names, k, "confusion_matrix_text");
  const std::string corner = "true \\ pred";
  size_t row_width = corner.size();
  for (const std::string& n : labels) row_width = std::max(row_width, n.size());
  std::vector<size_t> col_width(static_cast<size_t>(k));
  for (int p = 0; p < k; ++p) {
    size_t w = labels[static_cast<size_t>(p)].size();
    for (int t = 0; t < k; ++t) w = std::max(w, std::to_string(m(t, p)).size());
    col_width[static_cast<size_t>(p)] = w;
  }
  std::string out = report_detail::pad_left(corner, row_width);
  for (int p = 0; p < k; ++p) out += "  " + report_detail::pad_left(labels[static_cast<size_t>(p)], col_width[static_cast<size_t>(p)]);
  out += "\n";
  for (int t = 0; t < k; ++t) {
    out += report_detail::pad_left(labels[static_cast<size_t>(t)], row_width);
    for (int p = 0; p < k; ++p) out += "  " + report_detail::pad_left(std::to_string(m(t, p)), col_width[static_cast<size_t>(p)]);
    out += "\n";
  }
  return out;
}

// What a report says besides the metrics.
struct ReportInfo {
  std::string title = "Evaluation report";
  // Key facts shown as a list under the title (model, checkpoint, dataset, split, command, date ...).
  std::vector<std::pair<std::string, std::string>> facts;
  struct Picture {
    std::string caption;
    std::string path;  // relative to the report's directory
  };
  std::vector<Picture> pictures;
  int digits = 4;  // decimals in the Markdown tables (the sklearn-style block uses 2, as sklearn does)
};

inline std::string markdown_report(const Evaluation& e, const std::vector<std::string>& names,
                                   const ReportInfo& info = {}) {
  const int k = e.num_classes;
  const std::vector<std::string> labels = report_detail::class_labels(names, k, "markdown_report");
  const int d = info.digits;
  const ClassificationSummary& s = e.summary;
  std::ostringstream md;
  md << "# " << info.title << "\n\n";
  for (const auto& [key, value] : info.facts) md << "- **" << key << "**: " << value << "\n";
  if (!info.facts.empty()) md << "\n";

  md << "## Summary\n\n| metric | value |\n|---|---:|\n";
  md << "| samples | " << s.samples << " |\n";
  md << "| accuracy | " << report_detail::fixed(s.accuracy, d) << " |\n";
  md << "| balanced accuracy | " << report_detail::fixed(s.balanced_accuracy, d) << " |\n";
  md << "| macro F1 | " << report_detail::fixed(s.macro.f1, d) << " |\n";
  md << "| weighted F1 | " << report_detail::fixed(s.weighted.f1, d) << " |\n";
  for (const auto& [kk, acc] : e.top_k) md << "| top-" << kk << " accuracy | " << report_detail::fixed(acc, d) << " |\n";
  md << "| macro ROC AUC (one-vs-rest, " << e.roc_auc.defined_classes << " of " << k << " classes) | "
     << report_detail::fixed(e.roc_auc.macro, d) << " |\n";
  md << "| expected calibration error (" << e.calibration.bins.size() << " bins) | "
     << report_detail::fixed(e.calibration.ece, d) << " |\n";
  md << "| maximum calibration error | " << report_detail::fixed(e.calibration.mce, d) << " |\n\n";

  md << "## Per-class metrics\n\n| class | precision | recall | F1 | support | ROC AUC |\n"
     << "|---|---:|---:|---:|---:|---:|\n";
  for (int c = 0; c < k; ++c) {
    const ClassScores& cs = s.per_class[static_cast<size_t>(c)];
    md << "| " << report_detail::md_cell(labels[static_cast<size_t>(c)]) << " | " << report_detail::fixed(cs.precision, d) << " | "
       << report_detail::fixed(cs.recall, d) << " | " << report_detail::fixed(cs.f1, d) << " | " << cs.support << " | "
       << report_detail::fixed(e.roc_auc.per_class[static_cast<size_t>(c)], d) << " |\n";
  }
  md << "| **macro avg** | " << report_detail::fixed(s.macro.precision, d) << " | " << report_detail::fixed(s.macro.recall, d)
     << " | " << report_detail::fixed(s.macro.f1, d) << " | " << s.macro.support << " | "
     << report_detail::fixed(e.roc_auc.macro, d) << " |\n";
  md << "| **weighted avg** | " << report_detail::fixed(s.weighted.precision, d) << " | "
     << report_detail::fixed(s.weighted.recall, d) << " | " << report_detail::fixed(s.weighted.f1, d) << " | "
     << s.weighted.support << " | |\n\n";

  md << "## Classification report\n\nIn scikit-learn's `classification_report` layout:\n\n```text\n"
     << classification_report_text(s, labels, 2) << "```\n\n";

  md << "## Confusion matrix\n\nRows: true class; columns: predicted class.\n\n| true \\\\ predicted |";
  for (int p = 0; p < k; ++p) md << " " << report_detail::md_cell(labels[static_cast<size_t>(p)]) << " |";
  md << "\n|---|";
  for (int p = 0; p < k; ++p) md << "---:|";
  md << "\n";
  for (int t = 0; t < k; ++t) {
    md << "| **" << report_detail::md_cell(labels[static_cast<size_t>(t)]) << "** |";
    for (int p = 0; p < k; ++p) md << " " << e.confusion(t, p) << " |";
    md << "\n";
  }
  md << "\n";

  md << "## Calibration\n\nTop-class confidence in " << e.calibration.bins.size()
     << " equal-width bins; gap = |accuracy - mean confidence|.\n\n"
     << "| confidence | samples | accuracy | mean confidence | gap |\n|---|---:|---:|---:|---:|\n";
  for (const CalibrationBin& b : e.calibration.bins) {
    if (b.count == 0) continue;
    md << "| (" << report_detail::fixed(b.lower, 3) << ", " << report_detail::fixed(b.upper, 3) << "] | " << b.count << " | "
       << report_detail::fixed(b.accuracy, d) << " | " << report_detail::fixed(b.confidence, d) << " | "
       << report_detail::fixed(std::fabs(b.accuracy - b.confidence), d) << " |\n";
  }
  md << "\n(empty bins omitted)\n\n";

  if (!info.pictures.empty()) {
    md << "## Pictures\n\n";
    for (const auto& pic : info.pictures) md << "![" << pic.caption << "](" << pic.path << ")\n\n";
  }

  md << "## Conventions\n\n"
     << "- Predicted class: highest probability (ties: lower class index).\n"
     << "- Precision, recall or F1 with a zero denominator are reported as 0 (scikit-learn's "
        "`zero_division=0`); the macro average includes every class, the weighted average weighs by support.\n"
     << "- Balanced accuracy: mean recall over the classes present in the test set.\n"
     << "- ROC AUC: one class against the rest, ties counted as one half; n/a for a class with no test "
        "samples (or no other classes), and such classes are left out of the macro average.\n"
     << "- Expected calibration error: sum over bins of (bin samples / all samples) x gap.\n";
  return md.str();
}

// Writes text to path atomically: a temporary file in the same directory is written, flushed and then
// renamed over path, so a reader never sees half a file.
inline void write_text_file(const std::filesystem::path& path, const std::string& text) {
  const std::filesystem::path tmp = path.string() + ".tmp";
  {
    std::ofstream f(tmp, std::ios::binary | std::ios::trunc);
    SKN_REQUIRE(f.good(), IoError, "cannot create '", tmp.string(), "'");
    f.write(text.data(), static_cast<std::streamsize>(text.size()));
    f.flush();
    SKN_REQUIRE(f.good(), IoError, "error writing '", tmp.string(), "'");
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::filesystem::remove(tmp, ec);
    throw IoError(detail::concat("cannot rename '", tmp.string(), "' to '", path.string(), "': ", ec.message()));
  }
}

}  // namespace skinnet
