#pragma once
// Early stopping on a validation metric (Keras's EarlyStopping semantics):
//   improvement:  metric > best + min_delta   (MetricMode::Max, e.g. balanced accuracy)
//                 metric < best - min_delta   (MetricMode::Min, e.g. validation loss)
//                 the first non-NaN value always improves; a NaN never does
//   otherwise     wait += 1; stop once wait >= patience
// so with patience 5 training stops after the fifth epoch in a row without improvement. The same
// object tells the trainer when to save the "best" checkpoint (improved()).
//
//   EarlyStopping es(MetricMode::Max, 5);
//   for (epoch ...) { ...; bool stop = es.update(val_balanced_accuracy);
//                     if (es.improved()) save best; if (stop) break; }
#include <cmath>
#include <cstdint>
#include <map>
#include <string>

#include "skinnet/core/error.hpp"
#include "skinnet/train/schedule.hpp"  // MetricMode

namespace skinnet {

class EarlyStopping {
 public:
  // patience 0 disables stopping (the object then only tracks the best epoch).
  EarlyStopping(MetricMode mode, int64_t patience, double min_delta = 0.0)
      : mode_(mode), patience_(patience), min_delta_(min_delta) {
    SKN_REQUIRE(patience >= 0, ValueError, "early stopping: patience must be >= 0, got ", patience);
    SKN_REQUIRE(min_delta >= 0.0 && std::isfinite(min_delta), ValueError,
                "early stopping: min_delta must be finite and >= 0, got ", min_delta);
  }

  // Feeds the metric of the epoch just finished; returns true when training should stop.
  bool update(double metric) {
    ++epochs_;
    improved_ = false;
    if (!std::isnan(metric) &&
        (!has_best_ || (mode_ == MetricMode::Max ? metric > best_ + min_delta_ : metric < best_ - min_delta_))) {
      improved_ = true;
      has_best_ = true;
      best_ = metric;
      best_epoch_ = epochs_;
      wait_ = 0;
    } else {
      ++wait_;
    }
    return should_stop();
  }

  bool should_stop() const { return patience_ > 0 && wait_ >= patience_; }
  bool improved() const { return improved_; }  // the last update set a new best
  bool has_best() const { return has_best_; }
  double best() const { return best_; }
  int64_t best_epoch() const { return best_epoch_; }  // 1-based count of updates; 0 before any best
  int64_t wait() const { return wait_; }
  int64_t epochs() const { return epochs_; }

  // Checkpoint state (exact as doubles; write with 17 significant digits).
  std::map<std::string, double> state() const {
    return {{"early_stop.best", best_},
            {"early_stop.has_best", has_best_ ? 1.0 : 0.0},
            {"early_stop.best_epoch", static_cast<double>(best_epoch_)},
            {"early_stop.wait", static_cast<double>(wait_)},
            {"early_stop.epochs", static_cast<double>(epochs_)}};
  }
  void load_state(const std::map<std::string, double>& s) {
    auto get = [&](const char* key) {
      auto it = s.find(key);
      SKN_REQUIRE(it != s.end(), ValueError, "early stopping: saved state lacks '", key, "'");
      return it->second;
    };
    best_ = get("early_stop.best");
    has_best_ = get("early_stop.has_best") != 0.0;
    best_epoch_ = static_cast<int64_t>(get("early_stop.best_epoch"));
    wait_ = static_cast<int64_t>(get("early_stop.wait"));
    epochs_ = static_cast<int64_t>(get("early_stop.epochs"));
    improved_ = false;
  }

 private:
  MetricMode mode_;
  int64_t patience_;
  double min_delta_;
  double best_ = 0.0;
  bool has_best_ = false;
  bool improved_ = false;
  int64_t best_epoch_ = 0, wait_ = 0, epochs_ = 0;
};

}  // namespace skinnet
