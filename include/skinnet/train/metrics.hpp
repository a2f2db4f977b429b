#pragma once
// Classification metrics for evaluation reports (formatting lives in train/report.hpp).
//
// Inputs: true labels y (ints 0..K-1, in the dataset's class order) and, for score-based metrics, an
// N x K row-major matrix of scores (softmax probabilities; ROC AUC and top-k accept any scores).
// Predicted labels are the first index of each row's maximum (ties go to the lower class index).
//
// Conventions, chosen to match scikit-learn so numbers can be compared with published tables:
//  * Confusion matrix: rows are true classes, columns predicted classes (sklearn's confusion_matrix).
//  * precision_c = TP / (TP + FP), recall_c = TP / (TP + FN), F1_c = 2PR / (P + R); a 0/0 is 0
//    (sklearn's zero_division=0), e.g. the precision of a class that is never predicted.
//  * Every one of the K classes appears in the per-class table and in the macro average, including
//    classes absent from y (support 0, so their recall is 0/0 = 0): this is sklearn's
//    classification_report(labels=range(K)). The weighted average weighs classes by support, so absent
//    classes do not affect it.
//  * Balanced accuracy is the mean recall over classes PRESENT in y (sklearn's balanced_accuracy_score
//    skips absent classes rather than counting them as 0).
//  * One-vs-rest ROC AUC of class c: the probability that a random sample of class c scores higher on
//    column c than a random sample of another class, ties counting one half (Mann-Whitney U / (P * N)),
//    which is exactly the area under the ROC curve sklearn's roc_auc_score computes. A class absent
//    from y (no positives) or making up all of y (no negatives) has no ROC curve: its AUC is NaN ("n/a"
//    in reports) and it is left out of the macro average; sklearn raises an error instead.
//  * Expected calibration error (Guo et al. 2017): confidence = the top probability, correct = whether
//    the prediction is right; B equal-width bins, bin b holding confidences in (b/B, (b+1)/B] (0 goes
//    to the first bin); ECE = sum_b (n_b / N) * |accuracy_b - mean confidence_b|. B = 15 by default.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "skinnet/core/error.hpp"

namespace skinnet {

// ---- input checks -------------------------------------------------------------------------------------
namespace metrics_detail {
inline void check_labels(const std::vector<int>& y, int num_classes, const char* what) {
  SKN_REQUIRE(num_classes > 0, ValueError, what, ": num_classes must be > 0, got ", num_classes);
  for (size_t i = 0; i < y.size(); ++i)
    SKN_REQUIRE(y[i] >= 0 && y[i] < num_classes, ValueError, what, ": label ", y[i], " of sample ", i,
                " is outside 0..", num_classes - 1);
}
inline void check_scores(const std::vector<int>& y, std::span<const float> scores, int num_classes,
                         const char* what) {
  check_labels(y, num_classes, what);
  SKN_REQUIRE(!y.empty(), ValueError, what, ": no samples");
  SKN_REQUIRE(scores.size() == y.size() * static_cast<size_t>(num_classes), ShapeError, what, ": ",
              scores.size(), " scores for ", y.size(), " samples x ", num_classes, " classes");
  for (size_t i = 0; i < scores.size(); ++i)
    SKN_REQUIRE(std::isfinite(scores[i]), NumericError, what, ": score of sample ",
                i / static_cast<size_t>(num_classes), ", class ", i % static_cast<size_t>(num_classes),
                " is ", scores[i]);
}
}  // namespace metrics_detail

// Index of the first maximum of each row of an N x K score matrix.
inline std::vector<int> argmax_rows(std::span<const float> scores, int num_classes) {
  SKN_REQUIRE(num_classes > 0 && scores.size() % static_cast<size_t>(num_classes) == 0, ShapeError,
              "argmax_rows: ", scores.size(), " scores is not a multiple of ", num_classes, " classes");
  const size_t k = static_cast<size_t>(num_classes), n = scores.size() / k;
  std::vector<int> out(n);
  for (size_t i = 0; i < n; ++i) {
    const float* row = scores.data() + i * k;
    size_t best = 0;
    for (size_t c = 1; c < k; ++c)
      if (row[c] > row[best]) best = c;
    out[i] = static_cast<int>(best);
  }
  return out;
}

// ---- confusion matrix ---------------------------------------------------------------------------------
class ConfusionMatrix {
 public:
  explicit ConfusionMatrix(int num_classes = 0)
      : k_(num_classes), counts_(static_cast<size_t>(num_classes) * static_cast<size_t>(num_classes), 0) {
    SKN_REQUIRE(num_classes >= 0, ValueError, "ConfusionMatrix: negative class count ", num_classes);
  }
  static ConfusionMatrix from_labels(const std::vector<int>& y_true, const std::vector<int>& y_pred,
                                     int num_classes) {
    SKN_REQUIRE(y_true.size() == y_pred.size(), ShapeError, "ConfusionMatrix: ", y_true.size(),
                " true labels but ", y_pred.size(), " predictions");
    metrics_detail::check_labels(y_true, num_classes, "ConfusionMatrix (true labels)");
    metrics_detail::check_labels(y_pred, num_classes, "ConfusionMatrix (predictions)");
    ConfusionMatrix m(num_classes);
    for (size_t i = 0; i < y_true.size(); ++i) m.add(y_true[i], y_pred[i]);
    return m;
  }

  void add(int true_class, int predicted_class, int64_t n = 1) {
    SKN_REQUIRE(true_class >= 0 && true_class < k_ && predicted_class >= 0 && predicted_class < k_, ValueError,
                "ConfusionMatrix::add: (", true_class, ", ", predicted_class, ") outside 0..", k_ - 1);
    counts_[index(true_class, predicted_class)] += n;
  }

  int num_classes() const { return k_; }
  int64_t operator()(int true_class, int predicted_class) const { return counts_[index(true_class, predicted_class)]; }
  int64_t total() const { return std::accumulate(counts_.begin(), counts_.end(), int64_t{0}); }
  int64_t support(int c) const {  // row sum: samples of class c
    int64_t s = 0;
    for (int p = 0; p < k_; ++p) s += (*this)(c, p);
    return s;
  }
  int64_t predicted(int c) const {  // column sum: samples predicted as c
    int64_t s = 0;
    for (int t = 0; t < k_; ++t) s += (*this)(t, c);
    return s;
  }
  int64_t correct() const {
    int64_t s = 0;
    for (int c = 0; c < k_; ++c) s += (*this)(c, c);
    return s;
  }

 private:
  size_t index(int t, int p) const { return static_cast<size_t>(t) * static_cast<size_t>(k_) + static_cast<size_t>(p); }
  int k_;
  std::vector<int64_t> counts_;  // row-major [true][predicted]
};

// ---- precision / recall / F1 --------------------------------------------------------------------------
struct ClassScores {
  double precision = 0.0, recall = 0.0, f1 = 0.0;
  int64_t support = 0;
};

struct ClassificationSummary {
  std::vector<ClassScores> per_class;
  ClassScores macro;     // unweighted mean over all K classes; support = N
  ClassScores weighted;  // mean weighted by support; support = N
  double accuracy = 0.0;
  double balanced_accuracy = 0.0;
  int64_t samples = 0;
};

namespace metrics_detail {
inline double safe_div(double num, double den) { return den == 0.0 ? 0.0 : num / den; }  // zero_division=0
}  // namespace metrics_detail

inline double accuracy(const ConfusionMatrix& m) {
  SKN_REQUIRE(m.total() > 0, ValueError, "accuracy: the confusion matrix is empty");
  return static_cast<double>(m.correct()) / static_cast<double>(m.total());
}

inline double balanced_accuracy(const ConfusionMatrix& m) {
  double sum = 0.0;
  int present = 0;
  for (int c = 0; c < m.num_classes(); ++c) {
    const int64_t s = m.support(c);
    if (s == 0) continue;
    sum += static_cast<double>(m(c, c)) / static_cast<double>(s);
    ++present;
  }
  SKN_REQUIRE(present > 0, ValueError, "balanced_accuracy: the confusion matrix is empty");
  return sum / present;
}

inline ClassificationSummary classification_summary(const ConfusionMatrix& m) {
  ClassificationSummary r;
  r.samples = m.total();
  r.accuracy = accuracy(m);
  r.balanced_accuracy = balanced_accuracy(m);
  const int k = m.num_classes();
  for (int c = 0; c < k; ++c) {
    ClassScores s;
    const double tp = static_cast<double>(m(c, c));
    s.support = m.support(c);
    s.precision = metrics_detail::safe_div(tp, static_cast<double>(m.predicted(c)));
    s.recall = metrics_detail::safe_div(tp, static_cast<double>(s.support));
    s.f1 = metrics_detail::safe_div(2.0 * s.precision * s.recall, s.precision + s.recall);
    r.per_class.push_back(s);
    r.macro.precision += s.precision;
    r.macro.recall += s.recall;
    r.macro.f1 += s.f1;
    const double w = static_cast<double>(s.support);
    r.weighted.precision += w * s.precision;
    r.weighted.recall += w * s.recall;
    r.weighted.f1 += w * s.f1;
  }
  // Sums first, one division last: the same rounding as a plain mean.
  const double n = static_cast<double>(r.samples);
  r.macro.precision /= k;
  r.macro.recall /= k;
  r.macro.f1 /= k;
  r.weighted.precision /= n;
  r.weighted.recall /= n;
  r.weighted.f1 /= n;
  r.macro.support = r.weighted.support = r.samples;
  return r;
}

// ---- score-based metrics ------------------------------------------------------------------------------
// Fraction of samples whose true class is among the k highest scores. Ties are broken as argmax breaks
// them (lower class index first), so top_k_accuracy(.., 1) equals the accuracy of argmax_rows.
inline double top_k_accuracy(const std::vector<int>& y_true, std::span<const float> scores, int num_classes,
                             int k) {
  metrics_detail::check_scores(y_true, scores, num_classes, "top_k_accuracy");
  SKN_REQUIRE(k >= 1, ValueError, "top_k_accuracy: k must be >= 1, got ", k);
  const size_t kk = static_cast<size_t>(num_classes);
  int64_t hits = 0;
  for (size_t i = 0; i < y_true.size(); ++i) {
    const float* row = scores.data() + i * kk;
    const int t = y_true[i];
    // Rank of the true class = classes that come before it in the (score desc, index asc) order.
    int rank = 0;
    for (int c = 0; c < num_classes; ++c)
      if (row[c] > row[t] || (row[c] == row[t] && c < t)) ++rank;
    if (rank < k) ++hits;
  }
  return static_cast<double>(hits) / static_cast<double>(y_true.size());
}

// Area under the ROC curve of scores for a binary problem (positive[i] true for positives), via the
// Mann-Whitney statistic with average ranks for ties. NaN when there are no positives or no negatives.
inline double binary_roc_auc(const std::vector<bool>& positive, std::span<const float> scores) {
  SKN_REQUIRE(positive.size() == scores.size(), ShapeError, "binary_roc_auc: ", positive.size(), " labels but ",
              scores.size(), " scores");
  const size_t n = scores.size();
  std::vector<size_t> order(n);
  std::iota(order.begin(), order.end(), size_t{0});
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return scores[a] < scores[b]; });
  double rank_sum = 0.0;  // sum of the (1-based, tie-averaged) ranks of the positives
  int64_t pos = 0;
  for (size_t lo = 0; lo < n;) {
    size_t hi = lo + 1;
    while (hi < n && scores[order[hi]] == scores[order[lo]]) ++hi;
    const double avg_rank = 0.5 * static_cast<double>(lo + 1 + hi);  // mean of ranks lo+1 .. hi
    for (size_t j = lo; j < hi; ++j)
      if (positive[order[j]]) {
        rank_sum += avg_rank;
        ++pos;
      }
    lo = hi;
  }
  const int64_t neg = static_cast<int64_t>(n) - pos;
  if (pos == 0 || neg == 0) return std::numeric_limits<double>::quiet_NaN();
  const double p = static_cast<double>(pos), q = static_cast<double>(neg);
  return (rank_sum - p * (p + 1.0) / 2.0) / (p * q);
}

struct RocAucResult {
  std::vector<double> per_class;  // NaN where undefined (class absent from y, or the only class)
  double macro = std::numeric_limits<double>::quiet_NaN();  // mean over defined classes; NaN if none
  int defined_classes = 0;
};

inline RocAucResult roc_auc_ovr(const std::vector<int>& y_true, std::span<const float> scores, int num_classes) {
  metrics_detail::check_scores(y_true, scores, num_classes, "roc_auc_ovr");
  const size_t n = y_true.size(), kk = static_cast<size_t>(num_classes);
  RocAucResult r;
  std::vector<bool> positive(n);
  std::vector<float> column(n);
  double sum = 0.0;
  for (int c = 0; c < num_classes; ++c) {
    for (size_t i = 0; i < n; ++i) {
      positive[i] = y_true[i] == c;
      column[i] = scores[i * kk + static_cast<size_t>(c)];
    }
    const double auc = binary_roc_auc(positive, column);
    r.per_class.push_back(auc);
    if (!std::isnan(auc)) {
      sum += auc;
      ++r.defined_classes;
    }
  }
  if (r.defined_classes > 0) r.macro = sum / r.defined_classes;
  return r;
}

struct CalibrationBin {
  double lower = 0.0, upper = 0.0;  // confidences in (lower, upper]
  int64_t count = 0;
  double accuracy = 0.0;            // fraction correct in the bin (0 when empty)
  double confidence = 0.0;          // mean confidence in the bin (0 when empty)
};

struct CalibrationResult {
  std::vector<CalibrationBin> bins;
  double ece = 0.0;  // expected calibration error
  double mce = 0.0;  // maximum calibration error over non-empty bins
};

inline CalibrationResult calibration(const std::vector<int>& y_true, std::span<const float> probs, int num_classes,
                                     int num_bins = 15) {
  metrics_detail::check_scores(y_true, probs, num_classes, "calibration");
  SKN_REQUIRE(num_bins >= 1, ValueError, "calibration: need at least one bin, got ", num_bins);
  const size_t kk = static_cast<size_t>(num_classes);
  const std::vector<int> pred = argmax_rows(probs, num_classes);
  std::vector<double> conf_sum(static_cast<size_t>(num_bins), 0.0);
  std::vector<int64_t> correct(static_cast<size_t>(num_bins), 0), count(static_cast<size_t>(num_bins), 0);
  for (size_t i = 0; i < y_true.size(); ++i) {
    const double conf = probs[i * kk + static_cast<size_t>(pred[i])];
    SKN_REQUIRE(conf >= 0.0 && conf <= 1.0, ValueError, "calibration: top probability ", conf, " of sample ", i,
                " is outside [0, 1] (pass softmax probabilities, not logits)");
    const int b = std::clamp(static_cast<int>(std::ceil(conf * num_bins)) - 1, 0, num_bins - 1);
    conf_sum[static_cast<size_t>(b)] += conf;
    count[static_cast<size_t>(b)] += 1;
    correct[static_cast<size_t>(b)] += pred[i] == y_true[i] ? 1 : 0;
  }
  CalibrationResult r;
  const double n = static_cast<double>(y_true.size());
  for (int b = 0; b < num_bins; ++b) {
    const size_t bi = static_cast<size_t>(b);
    CalibrationBin bin;
    bin.lower = static_cast<double>(b) / num_bins;
    bin.upper = static_cast<double>(b + 1) / num_bins;
    bin.count = count[bi];
    if (bin.count > 0) {
      bin.accuracy = static_cast<double>(correct[bi]) / static_cast<double>(bin.count);
      bin.confidence = conf_sum[bi] / static_cast<double>(bin.count);
      const double gap = std::fabs(bin.accuracy - bin.confidence);
      r.ece += static_cast<double>(bin.count) / n * gap;
      r.mce = std::max(r.mce, gap);
    }
    r.bins.push_back(bin);
  }
  return r;
}

// ---- everything at once -------------------------------------------------------------------------------
struct EvaluationOptions {
  std::vector<int> top_k = {2, 3};  // k >= num_classes is skipped (it would always be 1)
  int calibration_bins = 15;
};

struct Evaluation {
  int num_classes = 0;
  ConfusionMatrix confusion;
  ClassificationSummary summary;
  std::vector<std::pair<int, double>> top_k;  // (k, accuracy)
  RocAucResult roc_auc;
  CalibrationResult calibration;
};

// All metrics of a report from true labels and an N x K matrix of predicted probabilities.
inline Evaluation evaluate_predictions(const std::vector<int>& y_true, std::span<const float> probs,
                                       int num_classes, const EvaluationOptions& o = {}) {
  metrics_detail::check_scores(y_true, probs, num_classes, "evaluate_predictions");
  Evaluation e;
  e.num_classes = num_classes;
  e.confusion = ConfusionMatrix::from_labels(y_true, argmax_rows(probs, num_classes), num_classes);
  e.summary = classification_summary(e.confusion);
  for (int k : o.top_k)
    if (k < num_classes) e.top_k.emplace_back(k, top_k_accuracy(y_true, probs, num_classes, k));
  e.roc_auc = roc_auc_ovr(y_true, probs, num_classes);
  e.calibration = calibration(y_true, probs, num_classes, o.calibration_bins);
  return e;
}

}  // namespace skinnet
