#pragma once
// Float64 reference metrics for tests: definitions written out as plain loops, sharing no code with
// include/skinnet/train/metrics.hpp (different algorithms where the library is clever: pairwise
// comparisons for ROC AUC instead of ranks, sorting for top-k instead of rank counting, a loop per
// bin for calibration).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <vector>

namespace skinnet::ref {

struct ClassRef {
  double precision = 0, recall = 0, f1 = 0;
  int64_t support = 0;
};

struct MetricsRef {
  std::vector<std::vector<int64_t>> confusion;  // [true][pred]
  std::vector<ClassRef> per_class;
  ClassRef macro, weighted;
  double accuracy = 0, balanced_accuracy = 0;
};

// Everything derived from labels; 0/0 := 0; balanced accuracy over classes present in y_true.
inline MetricsRef metrics_from_labels(const std::vector<int>& y_true, const std::vector<int>& y_pred, int k) {
  MetricsRef r;
  r.confusion.assign(static_cast<size_t>(k), std::vector<int64_t>(static_cast<size_t>(k), 0));
  for (size_t i = 0; i < y_true.size(); ++i) r.confusion[static_cast<size_t>(y_true[i])][static_cast<size_t>(y_pred[i])]++;
  const double n = static_cast<double>(y_true.size());
  double correct = 0, recall_sum = 0;
  int present = 0;
  for (int c = 0; c < k; ++c) {
    int64_t tp = 0, fp = 0, fn = 0;
    for (size_t i = 0; i < y_true.size(); ++i) {
      if (y_true[i] == c && y_pred[i] == c) ++tp;
      if (y_true[i] != c && y_pred[i] == c) ++fp;
      if (y_true[i] == c && y_pred[i] != c) ++fn;
    }
    ClassRef cr;
    cr.support = tp + fn;
    cr.precision = tp + fp == 0 ? 0.0 : static_cast<double>(tp) / static_cast<double>(tp + fp);
    cr.recall = tp + fn == 0 ? 0.0 : static_cast<double>(tp) / static_cast<double>(tp + fn);
    cr.f1 = cr.precision + cr.recall == 0 ? 0.0 : 2 * cr.precision * cr.recall / (cr.precision + cr.recall);
    r.per_class.push_back(cr);
    correct += static_cast<double>(tp);
    if (cr.support > 0) {
      recall_sum += cr.recall;
      ++present;
    }
  }
  for (const ClassRef& cr : r.per_class) {
    r.macro.precision += cr.precision / k;
    r.macro.recall += cr.recall / k;
    r.macro.f1 += cr.f1 / k;
    r.weighted.precision += cr.precision * static_cast<double>(cr.support) / n;
    r.weighted.recall += cr.recall * static_cast<double>(cr.support) / n;
    r.weighted.f1 += cr.f1 * static_cast<double>(cr.support) / n;
  }
  r.accuracy = correct / n;
  r.balanced_accuracy = recall_sum / present;
  return r;
}

// One-vs-rest AUC of class c by the pairwise definition: over all (positive, negative) pairs, 1 when
// the positive scores higher, 1/2 on a tie. NaN without positives or negatives.
inline double auc_pairwise(const std::vector<int>& y_true, const std::vector<float>& scores, int k, int c) {
  double sum = 0;
  int64_t pairs = 0;
  for (size_t i = 0; i < y_true.size(); ++i) {
    if (y_true[i] != c) continue;
    for (size_t j = 0; j < y_true.size(); ++j) {
      if (y_true[j] == c) continue;
      const double si = scores[i * static_cast<size_t>(k) + static_cast<size_t>(c)];
      const double sj = scores[j * static_cast<size_t>(k) + static_cast<size_t>(c)];
      sum += si > sj ? 1.0 : (si == sj ? 0.5 : 0.0);
      ++pairs;
    }
  }
  return pairs == 0 ? std::numeric_limits<double>::quiet_NaN() : sum / static_cast<double>(pairs);
}

// Top-k: sort the class indices by (score descending, index ascending) and look in the first k.
inline double top_k(const std::vector<int>& y_true, const std::vector<float>& scores, int k_classes, int k) {
  int64_t hits = 0;
  for (size_t i = 0; i < y_true.size(); ++i) {
    std::vector<int> idx(static_cast<size_t>(k_classes));
    std::iota(idx.begin(), idx.end(), 0);
    const float* row = scores.data() + i * static_cast<size_t>(k_classes);
    std::stable_sort(idx.begin(), idx.end(), [&](int a, int b) { return row[a] > row[b]; });
    for (int j = 0; j < k && j < k_classes; ++j)
      if (idx[static_cast<size_t>(j)] == y_true[i]) ++hits;
  }
  return static_cast<double>(hits) / static_cast<double>(y_true.size());
}

// ECE over equal-width bins (lo, hi] (the first bin also takes confidence 0), one pass per bin.
inline double ece(const std::vector<int>& y_true, const std::vector<float>& probs, int k, int bins) {
  const size_t n = y_true.size();
  std::vector<double> conf(n);
  std::vector<int> correct(n);
  for (size_t i = 0; i < n; ++i) {
    int best = 0;
    for (int c = 1; c < k; ++c)
      if (probs[i * static_cast<size_t>(k) + static_cast<size_t>(c)] > probs[i * static_cast<size_t>(k) + static_cast<size_t>(best)]) best = c;
    conf[i] = probs[i * static_cast<size_t>(k) + static_cast<size_t>(best)];
    correct[i] = best == y_true[i] ? 1 : 0;
  }
  double total = 0;
  for (int b = 0; b < bins; ++b) {
    const double lo = static_cast<double>(b) / bins, hi = static_cast<double>(b + 1) / bins;
    double cs = 0, as = 0;
    int64_t cnt = 0;
    for (size_t i = 0; i < n; ++i) {
      const bool in = (conf[i] > lo && conf[i] <= hi) || (b == 0 && conf[i] == 0.0);
      if (!in) continue;
      cs += conf[i];
      as += correct[i];
      ++cnt;
    }
    if (cnt > 0) total += static_cast<double>(cnt) / static_cast<double>(n) * std::fabs((as - cs) / static_cast<double>(cnt));
  }
  return total;
}

}  // namespace skinnet::ref
