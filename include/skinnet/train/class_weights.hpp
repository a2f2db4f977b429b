#pragma once
// Class weights for imbalanced datasets (HAM10000: two thirds of the images are naevi, 1% are
// dermatofibroma). A weighted loss multiplies each sample's loss by the weight of its true class.
//
// inverse_frequency_weights(counts, power):
//   w_c = s * n_c^(-power), with the scale s chosen so that sum_c n_c * w_c = N (N samples in all), i.e. the average weight over the training samples is 1 and the loss keeps its
//   usual scale (the learning rate need not change when weights are switched on).
//   power = 1 is scikit-learn's compute_class_weight("balanced"), w_c = N / (K * n_c): every class then
//   contributes the same total weight N / K. power = 0.5 is the gentler "inverse square root" variant.
//   K counts the classes present (n_c > 0). A class with no training samples gets weight 0: no sample
//   carries it, so its weight never matters, and a finite value keeps saved configurations finite.
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "skinnet/core/error.hpp"

namespace skinnet {

// Number of samples of each class 0..num_classes-1; labels outside that range throw DataError.
inline std::vector<int64_t> class_counts(const std::vector<int>& labels, int num_classes) {
  SKN_REQUIRE(num_classes > 0, ValueError, "class_counts: num_classes must be > 0, got ", num_classes);
  std::vector<int64_t> counts(static_cast<size_t>(num_classes), 0);
  for (size_t i = 0; i < labels.size(); ++i) {
    SKN_REQUIRE(labels[i] >= 0 && labels[i] < num_classes, DataError, "class_counts: label ", labels[i],
                " of sample ", i, " is outside 0..", num_classes - 1);
    ++counts[static_cast<size_t>(labels[i])];
  }
  return counts;
}

inline std::vector<double> inverse_frequency_weights(const std::vector<int64_t>& counts, double power = 1.0) {
  SKN_REQUIRE(power >= 0.0 && std::isfinite(power), ValueError,
              "inverse_frequency_weights: power must be finite and >= 0, got ", power);
  int64_t total = 0;
  for (size_t c = 0; c < counts.size(); ++c) {
    SKN_REQUIRE(counts[c] >= 0, ValueError, "inverse_frequency_weights: negative count for class ", c);
    total += counts[c];
  }
  SKN_REQUIRE(total > 0, DataError, "inverse_frequency_weights: no samples (all ", counts.size(),
              " class counts are zero)");
  std::vector<double> w(counts.size(), 0.0);
  double weighted = 0.0;  // sum_c n_c * n_c^-power
  for (size_t c = 0; c < counts.size(); ++c) {
    if (counts[c] == 0) continue;
    const double n = static_cast<double>(counts[c]);
    w[c] = std::pow(n, -power);
    weighted += n * w[c];
  }
  const double scale = static_cast<double>(total) / weighted;
  for (double& x : w) x *= scale;
  return w;
}

// Weights as floats, in class order, for a loss that takes a float vector.
inline std::vector<float> to_float_weights(const std::vector<double>& w) {
  return std::vector<float>(w.begin(), w.end());
}

}  // namespace skinnet
