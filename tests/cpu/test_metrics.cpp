// Evaluation metrics and report text: fixed confusion matrices computed by hand (absent classes, zero
// division), scikit-learn's classification_report layout, and random cases against the float64
// reference in tests/reference/metrics.hpp (pairwise ROC AUC, sorted top-k, per-bin ECE).
#include <doctest/doctest.h>

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <unistd.h>

#include "reference/metrics.hpp"
#include "skinnet/train/metrics.hpp"
#include "skinnet/train/report.hpp"

using namespace skinnet;

namespace {

// The fixed case used by several tests (rows true, columns predicted; class d never occurs in y_true
// but is predicted once, class c is never predicted):
//        a  b  c  d   support
//   a    3  1  0  0   4
//   b    1  2  0  1   4
//   c    1  2  0  0   3
//   d    0  0  0  0   0
const std::vector<std::vector<int>> kFixed = {{3, 1, 0, 0}, {1, 2, 0, 1}, {1, 2, 0, 0}, {0, 0, 0, 0}};
const std::vector<std::string> kNames = {"a", "b", "c", "d"};

void labels_from_matrix(const std::vector<std::vector<int>>& m, std::vector<int>& y_true, std::vector<int>& y_pred) {
  for (size_t t = 0; t < m.size(); ++t)
    for (size_t p = 0; p < m[t].size(); ++p)
      for (int i = 0; i < m[t][p]; ++i) {
        y_true.push_back(static_cast<int>(t));
        y_pred.push_back(static_cast<int>(p));
      }
}

// Probabilities whose argmax is `pred`: 0.55 on the predicted class, the rest spread evenly.
std::vector<float> probs_for(const std::vector<int>& pred, int k) {
  std::vector<float> p(pred.size() * static_cast<size_t>(k), 0.45f / static_cast<float>(k - 1));
  for (size_t i = 0; i < pred.size(); ++i) p[i * static_cast<size_t>(k) + static_cast<size_t>(pred[i])] = 0.55f;
  return p;
}

// Small deterministic generator for the random cases.
struct Lcg {
  uint64_t s;
  uint32_t next() {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    return static_cast<uint32_t>(s >> 33);
  }
};

}  // namespace

TEST_CASE("Classification metrics of a fixed confusion matrix, computed by hand") {
  std::vector<int> y_true, y_pred;
  labels_from_matrix(kFixed, y_true, y_pred);
  const ConfusionMatrix m = ConfusionMatrix::from_labels(y_true, y_pred, 4);
  CHECK(m.total() == 11);
  CHECK(m(1, 3) == 1);
  CHECK(m.support(2) == 3);
  CHECK(m.predicted(2) == 0);
  const ClassificationSummary s = classification_summary(m);

  CHECK(s.accuracy == doctest::Approx(5.0 / 11.0));
  // Balanced accuracy: mean recall over the classes present (a, b, c): (3/4 + 2/4 + 0) / 3.
  CHECK(s.balanced_accuracy == doctest::Approx(1.25 / 3.0));
  // precision: a 3/5, b 2/5, c 0/0 -> 0, d 0/1. recall: a 3/4, b 2/4, c 0/3, d 0/0 -> 0.
  const double p[4] = {0.6, 0.4, 0.0, 0.0}, r[4] = {0.75, 0.5, 0.0, 0.0};
  const double f1[4] = {2 * 0.6 * 0.75 / 1.35, 2 * 0.4 * 0.5 / 0.9, 0.0, 0.0};
  const int64_t support[4] = {4, 4, 3, 0};
  for (int c = 0; c < 4; ++c) {
    INFO("class ", kNames[static_cast<size_t>(c)]);
    CHECK(s.per_class[static_cast<size_t>(c)].precision == doctest::Approx(p[c]));
    CHECK(s.per_class[static_cast<size_t>(c)].recall == doctest::Approx(r[c]));
    CHECK(s.per_class[static_cast<size_t>(c)].f1 == doctest::Approx(f1[c]));
    CHECK(s.per_class[static_cast<size_t>(c)].support == support[c]);
  }
  // Macro over all 4 classes (absent d included with zeros); weighted by support (4, 4, 3, 0) / 11.
  CHECK(s.macro.precision == doctest::Approx(1.0 / 4));
  CHECK(s.macro.recall == doctest::Approx(1.25 / 4));
  CHECK(s.macro.f1 == doctest::Approx((f1[0] + f1[1]) / 4));
  CHECK(s.weighted.precision == doctest::Approx(4.0 / 11));
  CHECK(s.weighted.recall == doctest::Approx(5.0 / 11));
  CHECK(s.weighted.f1 == doctest::Approx(4 * (f1[0] + f1[1]) / 11));
  CHECK(s.macro.support == 11);
}

TEST_CASE("Classification report text has scikit-learn's layout") {
  std::vector<int> y_true, y_pred;
  labels_from_matrix(kFixed, y_true, y_pred);
  const auto s = classification_summary(ConfusionMatrix::from_labels(y_true, y_pred, 4));
  // What sklearn.metrics.classification_report(y_true, y_pred, labels=[0,1,2,3],
  // target_names=list("abcd"), zero_division=0) prints for these labels.
  const std::string expected =
      "              precision    recall  f1-score   support\n"
      "\n"
      "           a       0.60      0.75      0.67         4\n"
      "           b       0.40      0.50      0.44         4\n"
      "           c       0.00      0.00      0.00         3\n"
      "           d       0.00      0.00      0.00         0\n"
      "\n"
      "    accuracy                           0.45        11\n"
      "   macro avg       0.25      0.31      0.28        11\n"
      "weighted avg       0.36      0.45      0.40        11\n";
  CHECK(classification_report_text(s, kNames) == expected);

  // The example in sklearn's classification_report documentation, as it prints it.
  const std::vector<int> doc_true = {0, 1, 2, 2, 2}, doc_pred = {0, 0, 2, 2, 1};
  CHECK(classification_report_text(classification_summary(ConfusionMatrix::from_labels(doc_true, doc_pred, 3)),
                                   {"class 0", "class 1", "class 2"}) ==
        "              precision    recall  f1-score   support\n"
        "\n"
        "     class 0       0.50      1.00      0.67         1\n"
        "     class 1       0.00      0.00      0.00         1\n"
        "     class 2       1.00      0.67      0.80         3\n"
        "\n"
        "    accuracy                           0.60         5\n"
        "   macro avg       0.50      0.56      0.49         5\n"
        "weighted avg       0.70      0.60      0.61         5\n");
  // Long names widen the first column; digits changes the precision.
  const std::string wide = classification_report_text(s, {"actinic keratosis", "b", "c", "d"}, 3);
  CHECK(wide.find("actinic keratosis      0.600     0.750     0.667         4\n") != std::string::npos);
  CHECK(wide.find("     weighted avg      0.364     0.455     0.404        11\n") != std::string::npos);
  CHECK_THROWS_AS(classification_report_text(s, {"a"}), ValueError);
}

TEST_CASE("Confusion matrix text") {
  std::vector<int> y_true, y_pred;
  labels_from_matrix(kFixed, y_true, y_pred);
  const auto m = ConfusionMatrix::from_labels(y_true, y_pred, 4);
  const std::string expected =
      "true \\ pred  a  b  c  d\n"
      "          a  3  1  0  0\n"
      "          b  1  2  0  1\n"
      "          c  1  2  0  0\n"
      "          d  0  0  0  0\n";
  CHECK(confusion_matrix_text(m, kNames) == expected);
  ConfusionMatrix big(2);
  big.add(0, 1, 12345);
  CHECK(confusion_matrix_text(big, {"nevus", "melanoma"}) ==
        "true \\ pred  nevus  melanoma\n"
        "      nevus      0     12345\n"
        "   melanoma      0         0\n");
}

TEST_CASE("Metrics from labels match the float64 reference on random predictions") {
  Lcg g{42};
  for (int k : {2, 3, 7}) {
    std::vector<int> y_true, y_pred;
    for (int i = 0; i < 200; ++i) {
      const int t = static_cast<int>(g.next() % static_cast<uint32_t>(k > 2 ? k - 1 : k));  // last class absent when k > 2
      y_true.push_back(t);
      y_pred.push_back(g.next() % 3 == 0 ? static_cast<int>(g.next() % static_cast<uint32_t>(k)) : t);
    }
    const auto m = ConfusionMatrix::from_labels(y_true, y_pred, k);
    const auto s = classification_summary(m);
    const auto r = ref::metrics_from_labels(y_true, y_pred, k);
    INFO("k = ", k);
    for (int t = 0; t < k; ++t)
      for (int p = 0; p < k; ++p) CHECK(m(t, p) == r.confusion[static_cast<size_t>(t)][static_cast<size_t>(p)]);
    for (int c = 0; c < k; ++c) {
      CHECK(s.per_class[static_cast<size_t>(c)].precision == doctest::Approx(r.per_class[static_cast<size_t>(c)].precision).epsilon(1e-12));
      CHECK(s.per_class[static_cast<size_t>(c)].recall == doctest::Approx(r.per_class[static_cast<size_t>(c)].recall).epsilon(1e-12));
      CHECK(s.per_class[static_cast<size_t>(c)].f1 == doctest::Approx(r.per_class[static_cast<size_t>(c)].f1).epsilon(1e-12));
    }
    CHECK(s.macro.f1 == doctest::Approx(r.macro.f1).epsilon(1e-12));
    CHECK(s.weighted.precision == doctest::Approx(r.weighted.precision).epsilon(1e-12));
    CHECK(s.weighted.f1 == doctest::Approx(r.weighted.f1).epsilon(1e-12));
    CHECK(s.accuracy == doctest::Approx(r.accuracy).epsilon(1e-12));
    CHECK(s.balanced_accuracy == doctest::Approx(r.balanced_accuracy).epsilon(1e-12));
  }
}

TEST_CASE("ROC AUC: hand-computed binary case with ties") {
  // Positives score {0.9, 0.4}, negatives {0.4, 0.1}. Pairs: 0.9>0.4, 0.9>0.1, 0.4=0.4 (1/2), 0.4>0.1
  // -> 3.5 / 4.
  CHECK(binary_roc_auc({true, true, false, false}, std::vector<float>{0.9f, 0.4f, 0.4f, 0.1f}) == doctest::Approx(0.875));
  // Perfectly reversed, all tied, and undefined.
  CHECK(binary_roc_auc({true, false}, std::vector<float>{0.1f, 0.9f}) == 0.0);
  CHECK(binary_roc_auc({true, false, true}, std::vector<float>{0.5f, 0.5f, 0.5f}) == doctest::Approx(0.5));
  CHECK(std::isnan(binary_roc_auc({false, false}, std::vector<float>{0.1f, 0.2f})));
}

TEST_CASE("One-vs-rest ROC AUC matches the pairwise float64 reference, absent class is NaN") {
  Lcg g{7};
  const int k = 5, n = 120;
  std::vector<int> y;
  std::vector<float> scores;
  for (int i = 0; i < n; ++i) {
    const int t = static_cast<int>(g.next() % 4);  // class 4 never occurs
    y.push_back(t);
    for (int c = 0; c < k; ++c) {
      // Scores on a coarse grid (many ties), shifted up for the true class so AUCs are not all 0.5.
      const int q = static_cast<int>(g.next() % 8) + (c == t ? 3 : 0);
      scores.push_back(static_cast<float>(q) / 8.0f);
    }
  }
  const auto r = roc_auc_ovr(y, scores, k);
  double sum = 0;
  int defined = 0;
  for (int c = 0; c < k; ++c) {
    const double expect = ref::auc_pairwise(y, scores, k, c);
    INFO("class ", c);
    if (std::isnan(expect)) {
      CHECK(std::isnan(r.per_class[static_cast<size_t>(c)]));
    } else {
      CHECK(r.per_class[static_cast<size_t>(c)] == doctest::Approx(expect).epsilon(1e-12));
      CHECK(expect > 0.6);  // the shift made the classes separable to a degree
      sum += expect;
      ++defined;
    }
  }
  CHECK(std::isnan(r.per_class[4]));
  CHECK(defined == 4);
  CHECK(r.defined_classes == 4);
  CHECK(r.macro == doctest::Approx(sum / 4).epsilon(1e-12));

  // A single class in y_true: no class has both positives and negatives... except none; macro is NaN.
  const auto single = roc_auc_ovr({0, 0}, std::vector<float>{0.6f, 0.4f, 0.7f, 0.3f}, 2);
  CHECK(single.defined_classes == 0);
  CHECK(std::isnan(single.macro));
}

TEST_CASE("Top-k accuracy: ties go to the lower class index, and random cases match the reference") {
  // Sample 0: true 2, scores tie between classes 1 and 2 -> class 2 ranks second.
  // Sample 1: true 1, top score. Sample 2: true 0, lowest of three.
  const std::vector<int> y = {2, 1, 0};
  const std::vector<float> s = {0.2f, 0.5f, 0.5f, 0.1f, 0.9f, 0.05f, 0.1f, 0.3f, 0.6f};
  CHECK(top_k_accuracy(y, s, 3, 1) == doctest::Approx(1.0 / 3));
  CHECK(top_k_accuracy(y, s, 3, 2) == doctest::Approx(2.0 / 3));
  CHECK(top_k_accuracy(y, s, 3, 3) == doctest::Approx(1.0));
  CHECK(argmax_rows(s, 3) == std::vector<int>{1, 1, 2});

  Lcg g{99};
  std::vector<int> yr;
  std::vector<float> sr;
  for (int i = 0; i < 150; ++i) {
    yr.push_back(static_cast<int>(g.next() % 6));
    for (int c = 0; c < 6; ++c) sr.push_back(static_cast<float>(g.next() % 5));  // heavy ties
  }
  for (int k = 1; k <= 6; ++k) {
    INFO("k = ", k);
    CHECK(top_k_accuracy(yr, sr, 6, k) == doctest::Approx(ref::top_k(yr, sr, 6, k)).epsilon(1e-12));
  }
  CHECK_THROWS_AS(top_k_accuracy(y, s, 3, 0), ValueError);
}

TEST_CASE("Expected calibration error: hand computation and reference") {
  // Five samples, two classes, 15 bins of width 1/15:
  //   conf 0.90 correct, 0.92 wrong   -> bin (0.867, 0.933]: accuracy 0.5, confidence 0.91, gap 0.41
  //   conf 0.80 wrong                 -> gap 0.80 (0.8f = 0.800000012 lies just above 12/15: bin 12)
  //   conf 0.70 correct               -> bin (0.667, 0.733]: gap 0.30
  //   conf 0.65 wrong                 -> bin (0.600, 0.667]: gap 0.65
  // ECE = (2 * 0.41 + 0.80 + 0.30 + 0.65) / 5 = 0.514; MCE = 0.80.
  const std::vector<int> y = {0, 1, 1, 1, 0};
  const std::vector<float> p = {0.9f, 0.1f, 0.92f, 0.08f, 0.8f, 0.2f, 0.3f, 0.7f, 0.35f, 0.65f};
  const auto cal = calibration(y, p, 2);
  CHECK(cal.ece == doctest::Approx(0.514).epsilon(1e-6));
  CHECK(cal.mce == doctest::Approx(0.80).epsilon(1e-6));
  REQUIRE(cal.bins.size() == 15);
  CHECK(cal.bins[13].count == 2);
  CHECK(cal.bins[13].accuracy == doctest::Approx(0.5));
  CHECK(cal.bins[13].confidence == doctest::Approx(0.91).epsilon(1e-6));
  CHECK(cal.bins[12].count == 1);
  CHECK(cal.bins[11].count == 0);
  CHECK(cal.ece == doctest::Approx(ref::ece(y, p, 2, 15)).epsilon(1e-12));

  // Exact bin edges belong to the lower bin: with 4 bins 0.5 is in (0.25, 0.5], 0.75 in (0.5, 0.75].
  // Both predictions are right (ties go to class 0): ECE = 0.5 * 0.5 + 0.5 * 0.25 = 0.375.
  const auto edges = calibration({0, 1}, std::vector<float>{0.5f, 0.5f, 0.25f, 0.75f}, 2, 4);
  CHECK(edges.bins[1].count == 1);
  CHECK(edges.bins[2].count == 1);
  CHECK(edges.ece == doctest::Approx(0.375));

  Lcg g{3};
  const int k = 4;
  std::vector<int> yr;
  std::vector<float> pr;
  for (int i = 0; i < 300; ++i) {
    yr.push_back(static_cast<int>(g.next() % k));
    float row[k], sum = 0;
    for (float& v : row) sum += (v = static_cast<float>(g.next() % 1000 + 1));
    for (float v : row) pr.push_back(v / sum);
  }
  for (int bins : {15, 10, 1}) {
    INFO("bins = ", bins);
    CHECK(calibration(yr, pr, k, bins).ece == doctest::Approx(ref::ece(yr, pr, k, bins)).epsilon(1e-12));
  }
  CHECK_THROWS_WITH_AS(calibration({0}, std::vector<float>{3.f, 1.f}, 2), doctest::Contains("logits"), ValueError);
}

TEST_CASE("Metric inputs are validated with messages naming the sample") {
  CHECK_THROWS_WITH_AS(roc_auc_ovr({0, 1}, std::vector<float>{0.5f, 0.5f, NAN, 0.5f}, 2),
                       doctest::Contains("sample 1, class 0"), NumericError);
  CHECK_THROWS_WITH_AS(top_k_accuracy({0, 5}, std::vector<float>(4, 0.5f), 2, 1), doctest::Contains("sample 1"),
                       ValueError);
  CHECK_THROWS_AS(roc_auc_ovr({0, 1}, std::vector<float>(3, 0.5f), 2), ShapeError);
  CHECK_THROWS_AS(ConfusionMatrix::from_labels({0, 1}, {0}, 2), ShapeError);
  CHECK_THROWS_AS(accuracy(ConfusionMatrix(3)), ValueError);
  CHECK_THROWS_AS(evaluate_predictions({}, std::vector<float>{}, 2), ValueError);
}

TEST_CASE("Evaluation report in Markdown, written atomically") {
  std::vector<int> y_true, y_pred;
  labels_from_matrix(kFixed, y_true, y_pred);
  const std::vector<float> probs = probs_for(y_pred, 4);
  const Evaluation e = evaluate_predictions(y_true, probs, 4);
  CHECK(e.summary.accuracy == doctest::Approx(5.0 / 11));
  REQUIRE(e.top_k.size() == 2);
  CHECK(e.top_k[0].first == 2);
  CHECK(std::isnan(e.roc_auc.per_class[3]));
  CHECK(e.roc_auc.defined_classes == 3);
  // All confidences are 0.55 (bin (0.533, 0.6]): ECE = |5/11 - 0.55|.
  CHECK(e.calibration.ece == doctest::Approx(std::fabs(5.0 / 11 - 0.55)).epsilon(1e-6));

  ReportInfo info;
  info.title = "Evaluation: test split";
  info.facts = {{"model", "efficientnet_b0"}, {"checkpoint", "runs/x/best.safetensors"}};
  info.pictures = {{"Confusion matrix", "confusion.png"}};
  const std::string md = markdown_report(e, {"a", "b|x", "c", "d"}, info);
  CHECK(md.rfind("# Evaluation: test split\n", 0) == 0);
  CHECK(md.find("- **model**: efficientnet_b0\n") != std::string::npos);
  CHECK(md.find("| accuracy | 0.4545 |") != std::string::npos);
  CHECK(md.find("| balanced accuracy | 0.4167 |") != std::string::npos);
  CHECK(md.find("| top-3 accuracy |") != std::string::npos);
  CHECK(md.find("(one-vs-rest, 3 of 4 classes)") != std::string::npos);
  CHECK(md.find("| d | 0.0000 | 0.0000 | 0.0000 | 0 | n/a |") != std::string::npos);
  CHECK(md.find("| b\\|x |") != std::string::npos);  // '|' in a class name is escaped
  CHECK(md.find("| **b\\|x** | 1 | 2 | 0 | 1 |") != std::string::npos);
  CHECK(md.find("    accuracy                           0.45        11\n") != std::string::npos);
  CHECK(md.find("![Confusion matrix](confusion.png)") != std::string::npos);

  const auto dir = std::filesystem::temp_directory_path() / ("skinnet_report_test_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  write_text_file(dir / "report.md", md);
  std::ifstream f(dir / "report.md", std::ios::binary);
  std::stringstream back;
  back << f.rdbuf();
  CHECK(back.str() == md);
  CHECK_FALSE(std::filesystem::exists(dir / "report.md.tmp"));
  std::filesystem::remove_all(dir);
  CHECK_THROWS_WITH_AS(write_text_file(dir / "missing" / "report.md", md), doctest::Contains("missing"), IoError);
}
