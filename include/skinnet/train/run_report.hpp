#pragma once
// The evaluation report of a run: report.md (metrics tables, confusion matrix as text) plus the pictures
// a person would rather look at — confusion_matrix.png and, for training runs, loss.png and accuracy.png.
#include <filesystem>
#include <string>
#include <vector>

#include "skinnet/train/evaluate.hpp"
#include "skinnet/train/metrics.hpp"
#include "skinnet/train/plot.hpp"
#include "skinnet/train/report.hpp"

namespace skinnet {

struct EpochLog {
  int64_t epoch = 0;
  double lr = 0, train_loss = 0, train_acc = 0, val_loss = 0, val_acc = 0, val_balanced_acc = 0, val_macro_f1 = 0;
  double seconds = 0, images_per_second = 0;
};

// Writes report.md and the pictures into `dir`; returns the report's path.
inline std::filesystem::path write_run_report(const std::filesystem::path& dir, const Predictions& p,
                                              const std::vector<std::string>& class_names, ReportInfo info,
                                              const std::vector<EpochLog>& history = {}) {
  std::filesystem::create_directories(dir);
  const Evaluation e = evaluate_predictions(p.labels, p.probs, p.num_classes);
  std::vector<std::vector<int64_t>> cm(static_cast<size_t>(p.num_classes), std::vector<int64_t>(static_cast<size_t>(p.num_classes)));
  for (int t = 0; t < p.num_classes; ++t)
    for (int q = 0; q < p.num_classes; ++q) cm[static_cast<size_t>(t)][static_cast<size_t>(q)] = e.confusion(t, q);
  confusion_matrix_png(dir / "confusion_matrix.png", cm, class_names);
  info.pictures.push_back({"Confusion matrix (rows: true class)", "confusion_matrix.png"});
  if (!history.empty()) {
    std::vector<double> tl, vl, ta, va, vb;
    for (const auto& h : history) {
      tl.push_back(h.train_loss);
      vl.push_back(h.val_loss);
      ta.push_back(h.train_acc);
      va.push_back(h.val_acc);
      vb.push_back(h.val_balanced_acc);
    }
    line_chart_png(dir / "loss.png", "Loss per epoch", "loss",
                   {{"train", tl, {31, 119, 180}}, {"validation", vl, {255, 127, 14}}});
    line_chart_png(dir / "accuracy.png", "Accuracy per epoch", "accuracy",
                   {{"train", ta, {31, 119, 180}}, {"validation", va, {255, 127, 14}},
                    {"validation balanced", vb, {44, 160, 44}}});
    info.pictures.push_back({"Loss per epoch", "loss.png"});
    info.pictures.push_back({"Accuracy per epoch", "accuracy.png"});
  }
  const auto path = dir / "report.md";
  write_text_file(path, markdown_report(e, class_names, info));
  return path;
}

}  // namespace skinnet
