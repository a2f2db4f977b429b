#pragma once
// Learning-rate schedules.
//
// Two kinds:
//  * LrSchedule: the learning rate as a pure function of a counter t = 0, 1, 2, ... (constant, step,
//    multi-step, cosine with linear warmup, poly). "t" is whatever the trainer advances — optimizer steps
//    (smooth schedules such as cosine, the usual choice) or epochs (step decay) — and every length below
//    (step_size, warmup, total) is in that same unit. Being pure functions, they need no state in a
//    checkpoint: a resumed run recomputes lr_at(t).
//  * ReduceLrOnPlateau: driven by a validation metric once per epoch; it has state (best value, bad-epoch
//    count, cooldown, current lr) that state() / load_state() expose for checkpoints.
//
// Apply a schedule with opt.set_lr(schedule.lr_at(t)) before each step.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <map>
#include <memory>
#include <numbers>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "skinnet/core/error.hpp"

namespace skinnet {

class LrSchedule {
 public:
  virtual ~LrSchedule() = default;
  // Learning rate at counter t (t >= 0).
  virtual double lr_at(int64_t t) const = 0;
  // One line for logs ("cosine base_lr=0.001 warmup=500 total=10000 min_lr=0").
  virtual std::string describe() const = 0;
};

namespace sched_detail {
inline void require_lr(double lr, const char* sched, const char* what) {
  SKN_REQUIRE(std::isfinite(lr) && lr >= 0.0, ValueError, sched, " schedule: ", what,
              " must be finite and >= 0, got ", lr);
}
inline void require_t(int64_t t, const char* sched) {
  SKN_REQUIRE(t >= 0, ValueError, sched, " schedule: negative step ", t);
}
// Linear warmup shared by cosine and poly: from start_lr at t = 0 to base_lr at t = warmup (timm's
// formulation), so the first step already moves the weights when start_lr > 0.
inline double warmup_lr(int64_t t, int64_t warmup, double start_lr, double base_lr) {
  return start_lr + (base_lr - start_lr) * static_cast<double>(t) / static_cast<double>(warmup);
}
}  // namespace sched_detail

// lr(t) = lr.
class ConstantLr final : public LrSchedule {
 public:
  explicit ConstantLr(double lr) : lr_(lr) { sched_detail::require_lr(lr, "constant", "lr"); }
  double lr_at(int64_t t) const override {
    sched_detail::require_t(t, "constant");
    return lr_;
  }
  std::string describe() const override { return detail::concat("constant lr=", lr_); }

 private:
  double lr_;
};

// lr(t) = base_lr * gamma^floor(t / step_size)   (torch.optim.lr_scheduler.StepLR)
class StepLr final : public LrSchedule {
 public:
  StepLr(double base_lr, int64_t step_size, double gamma = 0.1)
      : base_(base_lr), step_size_(step_size), gamma_(gamma) {
    sched_detail::require_lr(base_lr, "step", "base_lr");
    SKN_REQUIRE(step_size > 0, ValueError, "step schedule: step_size must be > 0, got ", step_size);
    SKN_REQUIRE(gamma > 0.0 && gamma <= 1.0, ValueError, "step schedule: gamma must be in (0, 1], got ", gamma);
  }
  double lr_at(int64_t t) const override {
    sched_detail::require_t(t, "step");
    return base_ * std::pow(gamma_, static_cast<double>(t / step_size_));
  }
  std::string describe() const override {
    return detail::concat("step base_lr=", base_, " step_size=", step_size_, " gamma=", gamma_);
  }

 private:
  double base_;
  int64_t step_size_;
  double gamma_;
};

// lr(t) = base_lr * gamma^(number of milestones <= t)   (MultiStepLR; e.g. epochs {30, 60, 90})
class MultiStepLr final : public LrSchedule {
 public:
  MultiStepLr(double base_lr, std::vector<int64_t> milestones, double gamma = 0.1)
      : base_(base_lr), milestones_(std::move(milestones)), gamma_(gamma) {
    sched_detail::require_lr(base_lr, "multistep", "base_lr");
    SKN_REQUIRE(gamma > 0.0 && gamma <= 1.0, ValueError, "multistep schedule: gamma must be in (0, 1], got ",
                gamma);
    for (size_t i = 0; i < milestones_.size(); ++i)
      SKN_REQUIRE(milestones_[i] > 0 && (i == 0 || milestones_[i] > milestones_[i - 1]), ValueError,
                  "multistep schedule: milestones must be positive and strictly increasing");
  }
  double lr_at(int64_t t) const override {
    sched_detail::require_t(t, "multistep");
    const auto passed = std::upper_bound(milestones_.begin(), milestones_.end(), t) - milestones_.begin();
    return base_ * std::pow(gamma_, static_cast<double>(passed));
  }
  std::string describe() const override {
    std::ostringstream s;
    s << "multistep base_lr=" << base_ << " gamma=" << gamma_ << " milestones=";
    for (size_t i = 0; i < milestones_.size(); ++i) s << (i ? "," : "") << milestones_[i];
    return s.str();
  }

 private:
  double base_;
  std::vector<int64_t> milestones_;
  double gamma_;
};

// Linear warmup, then half a cosine from base_lr down to min_lr (Loshchilov & Hutter's SGDR without
// restarts; timm's and Hugging Face's usual recipe):
//   t <  warmup:           lr = warmup_start_lr + (base_lr - warmup_start_lr) * t / warmup
//   warmup <= t < total:   p = (t - warmup) / (total - warmup)
//                          lr = min_lr + (base_lr - min_lr) * (1 + cos(pi * p)) / 2
//   t >= total:            lr = min_lr
class CosineLr final : public LrSchedule {
 public:
  CosineLr(double base_lr, int64_t total, int64_t warmup = 0, double min_lr = 0.0, double warmup_start_lr = 0.0)
      : base_(base_lr), total_(total), warmup_(warmup), min_(min_lr), start_(warmup_start_lr) {
    sched_detail::require_lr(base_lr, "cosine", "base_lr");
    sched_detail::require_lr(min_lr, "cosine", "min_lr");
    sched_detail::require_lr(warmup_start_lr, "cosine", "warmup_start_lr");
    SKN_REQUIRE(min_lr <= base_lr, ValueError, "cosine schedule: min_lr ", min_lr, " exceeds base_lr ", base_lr);
    SKN_REQUIRE(warmup >= 0 && total > warmup, ValueError, "cosine schedule: need 0 <= warmup < total, got warmup=",
                warmup, " total=", total);
  }
  double lr_at(int64_t t) const override {
    sched_detail::require_t(t, "cosine");
    if (t < warmup_) return sched_detail::warmup_lr(t, warmup_, start_, base_);
    if (t >= total_) return min_;
    const double p = static_cast<double>(t - warmup_) / static_cast<double>(total_ - warmup_);
    return min_ + (base_ - min_) * 0.5 * (1.0 + std::cos(std::numbers::pi * p));
  }
  std::string describe() const override {
    return detail::concat("cosine base_lr=", base_, " warmup=", warmup_, " total=", total_, " min_lr=", min_,
                          " warmup_start_lr=", start_);
  }

 private:
  double base_;
  int64_t total_, warmup_;
  double min_, start_;
};

// Polynomial decay (DeepLab's "poly"; TF's PolynomialDecay), with the same optional linear warmup:
//   warmup <= t < total:   lr = end_lr + (base_lr - end_lr) * (1 - (t - warmup) / (total - warmup))^power
//   t >= total:            lr = end_lr
// power = 1 is a linear decay; DeepLab uses 0.9.
class PolyLr final : public LrSchedule {
 public:
  PolyLr(double base_lr, int64_t total, double power = 0.9, double end_lr = 0.0, int64_t warmup = 0,
         double warmup_start_lr = 0.0)
      : base_(base_lr), total_(total), power_(power), end_(end_lr), warmup_(warmup), start_(warmup_start_lr) {
    sched_detail::require_lr(base_lr, "poly", "base_lr");
    sched_detail::require_lr(end_lr, "poly", "end_lr");
    sched_detail::require_lr(warmup_start_lr, "poly", "warmup_start_lr");
    SKN_REQUIRE(power > 0.0, ValueError, "poly schedule: power must be > 0, got ", power);
    SKN_REQUIRE(warmup >= 0 && total > warmup, ValueError, "poly schedule: need 0 <= warmup < total, got warmup=",
                warmup, " total=", total);
  }
  double lr_at(int64_t t) const override {
    sched_detail::require_t(t, "poly");
    if (t < warmup_) return sched_detail::warmup_lr(t, warmup_, start_, base_);
    if (t >= total_) return end_;
    const double p = static_cast<double>(t - warmup_) / static_cast<double>(total_ - warmup_);
    return end_ + (base_ - end_) * std::pow(1.0 - p, power_);
  }
  std::string describe() const override {
    return detail::concat("poly base_lr=", base_, " total=", total_, " power=", power_, " end_lr=", end_,
                          " warmup=", warmup_);
  }

 private:
  double base_;
  int64_t total_;
  double power_, end_;
  int64_t warmup_;
  double start_;
};

// Whether larger or smaller values of a monitored metric are better.
enum class MetricMode { Min, Max };

// Reduce the learning rate when a validation metric stops improving (torch.optim.lr_scheduler.
// ReduceLROnPlateau, relative threshold):
//   improvement:  metric < best * (1 - threshold)   (Min; for Max: metric > best * (1 + threshold))
//                 (a threshold of 0 means any strict improvement; the first finite value always improves)
//   each update:  improvement -> best = metric, bad = 0; otherwise bad += 1 (a NaN metric is a bad epoch)
//                 during cooldown bad epochs are not counted
//   bad > patience (i.e. patience + 1 epochs in a row without improvement):
//                 lr = max(lr * factor, min_lr); bad = 0; cooldown starts
// Note: Keras's ReduceLROnPlateau reduces after `patience` bad epochs, PyTorch's after patience + 1; we
// follow PyTorch. Negative metrics with the relative threshold behave as in PyTorch (use threshold 0 for
// metrics that can be negative).
class ReduceLrOnPlateau {
 public:
  struct Options {
    MetricMode mode = MetricMode::Min;
    double factor = 0.1;
    int64_t patience = 10;
    double threshold = 1e-4;
    int64_t cooldown = 0;
    double min_lr = 0.0;
  };

  ReduceLrOnPlateau(double initial_lr, const Options& o) : o_(o), lr_(initial_lr) {
    sched_detail::require_lr(initial_lr, "plateau", "initial lr");
    sched_detail::require_lr(o.min_lr, "plateau", "min_lr");
    SKN_REQUIRE(o.factor > 0.0 && o.factor < 1.0, ValueError, "plateau schedule: factor must be in (0, 1), got ",
                o.factor);
    SKN_REQUIRE(o.patience >= 0 && o.cooldown >= 0 && o.threshold >= 0.0, ValueError,
                "plateau schedule: patience, cooldown and threshold must be >= 0");
  }
  explicit ReduceLrOnPlateau(double initial_lr) : ReduceLrOnPlateau(initial_lr, Options{}) {}

  // Feeds one epoch's metric; returns the learning rate to use from now on.
  double update(double metric) {
    ++epochs_;
    if (improves(metric)) {
      best_ = metric;
      bad_ = 0;
    } else {
      ++bad_;
    }
    if (cooldown_left_ > 0) {
      --cooldown_left_;
      bad_ = 0;
    }
    if (bad_ > o_.patience) {
      const double reduced = std::max(lr_ * o_.factor, o_.min_lr);
      // Once lr has reached min_lr nothing changes (and no reduction is counted).
      if (reduced < lr_) {
        lr_ = reduced;
        ++reductions_;
      }
      cooldown_left_ = o_.cooldown;
      bad_ = 0;
    }
    return lr_;
  }

  double lr() const { return lr_; }
  double best() const { return best_; }
  int64_t bad_epochs() const { return bad_; }
  int64_t reductions() const { return reductions_; }
  const Options& options() const { return o_; }
  std::string describe() const {
    return detail::concat("plateau mode=", o_.mode == MetricMode::Min ? "min" : "max", " factor=", o_.factor,
                          " patience=", o_.patience, " threshold=", o_.threshold, " cooldown=", o_.cooldown,
                          " min_lr=", o_.min_lr);
  }

  // Checkpoint state: every value is exactly representable as a double (write with 17 significant
  // digits to round-trip).
  std::map<std::string, double> state() const {
    return {{"plateau.lr", lr_},
            {"plateau.best", best_},
            {"plateau.has_best", has_best_ ? 1.0 : 0.0},
            {"plateau.bad_epochs", static_cast<double>(bad_)},
            {"plateau.cooldown_left", static_cast<double>(cooldown_left_)},
            {"plateau.epochs", static_cast<double>(epochs_)},
            {"plateau.reductions", static_cast<double>(reductions_)}};
  }
  void load_state(const std::map<std::string, double>& s) {
    auto get = [&](const char* key) {
      auto it = s.find(key);
      SKN_REQUIRE(it != s.end(), ValueError, "plateau schedule: saved state lacks '", key, "'");
      return it->second;
    };
    lr_ = get("plateau.lr");
    best_ = get("plateau.best");
    has_best_ = get("plateau.has_best") != 0.0;
    bad_ = static_cast<int64_t>(get("plateau.bad_epochs"));
    cooldown_left_ = static_cast<int64_t>(get("plateau.cooldown_left"));
    epochs_ = static_cast<int64_t>(get("plateau.epochs"));
    reductions_ = static_cast<int64_t>(get("plateau.reductions"));
  }

 private:
  bool improves(double metric) {
    if (std::isnan(metric)) return false;
    if (!has_best_) {
      has_best_ = true;
      return true;
    }
    return o_.mode == MetricMode::Min ? metric < best_ * (1.0 - o_.threshold) : metric > best_ * (1.0 + o_.threshold);
  }

  Options o_;
  double lr_;
  double best_ = 0.0;
  bool has_best_ = false;
  int64_t bad_ = 0, cooldown_left_ = 0, epochs_ = 0, reductions_ = 0;
};

}  // namespace skinnet
