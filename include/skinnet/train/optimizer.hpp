#pragma once
// Optimizer<D>: the interface shared by SGD (train/sgd.hpp), Adam (train/adam.hpp) and AdamW
// (train/adamw.hpp).
//
//   Optimizer<Cpu>& opt = ...;          // built from model.parameters()
//   model.zero_grad();  loss backward ...;  clip_grad_norm(params, 1.0);  opt.step();
//
// Parameters come from Module::parameters(). An optimizer keeps pointers to them, so the module must
// outlive it. Frozen parameters (trainable == false, e.g. a backbone during fine-tuning) are skipped by
// step(): their weights and optimizer state stay exactly as they were, and they can be unfrozen at any
// time by setting trainable = true again.
//
// Step counts. step_count() counts calls to step(). Each parameter also counts its own updates (as
// PyTorch does): Adam's bias correction uses the parameter's count, so a layer unfrozen after 1000 steps
// starts with the correction of step 1 rather than of step 1001 (which would scale its first updates by
// about sqrt(1 - beta2) / (1 - beta1) = 0.3).
//
// State for checkpoints (DESIGN.md §8). Optimizer state is exposed, never hidden, so a checkpoint can
// save it and a resumed run continues bit-exactly:
//   state_tensors()   live tensors named "optim.<parameter>.<slot>", slot "momentum" (SGD) or "m" / "v"
//                     (Adam, AdamW). State is created on a parameter's first update, so a parameter
//                     that has never been trained has none.
//   state_counters()  "optim.step" (calls to step()) and "optim.<parameter>.step" (that parameter's
//                     updates), as exact integers for the checkpoint's metadata.
// Restoring: clear_state(), then restore_state_tensor() / restore_state_counter() for every saved entry,
// then check_state() (throws if the restored set is incomplete). Hyper-parameters, including the current
// learning rate, are configuration and belong to the trainer's own record.
#include <cmath>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "skinnet/core/error.hpp"
#include "skinnet/core/tensor.hpp"
#include "skinnet/layers/module.hpp"

namespace skinnet {

template <class D>
class Optimizer {
 public:
  virtual ~Optimizer() = default;
  Optimizer(const Optimizer&) = delete;
  Optimizer& operator=(const Optimizer&) = delete;

  // "sgd", "adam", "adamw".
  const std::string& kind() const { return kind_; }
  // One line with every hyper-parameter, for logs ("adamw lr=0.001 betas=(0.9,0.999) ...").
  virtual std::string describe() const = 0;

  // Applies one update to every trainable parameter from its current gradient (gradients are left as
  // they are: zero them with zero_grad() before the next backward pass).
  void step() {
    for (Slot& s : slots_) {
      if (!s.param->trainable) continue;
      SKN_REQUIRE(s.param->grad.shape() == s.param->value.shape(), ShapeError, kind_, ": parameter '",
                  s.name, "' has gradient ", s.param->grad.shape().str(), " for value ",
                  s.param->value.shape().str());
      if (s.state.empty()) allocate_state(s);
      SKN_REQUIRE(state_complete(s), ValueError, kind_, ": parameter '", s.name,
                  "' has partially restored state; call check_state() after restoring a checkpoint");
      ++s.step;
      update(s);
    }
    ++step_;
  }

  // Zeroes the gradients of all parameters this optimizer holds (trainable or not).
  void zero_grad() {
    for (Slot& s : slots_) s.param->grad.fill_zero();
  }

  double lr() const { return lr_; }
  // The learning rate used by the next step() (LR schedules call this).
  void set_lr(double lr) {
    SKN_REQUIRE(lr >= 0.0 && std::isfinite(lr), ValueError, kind_, ": learning rate must be finite and >= 0, got ",
                lr);
    lr_ = lr;
  }
  int64_t step_count() const { return step_; }
  // Number of parameters held (trainable and frozen).
  size_t size() const { return slots_.size(); }

  // ---- state ---------------------------------------------------------------------------------------
  // Names of the per-parameter state tensors this optimizer keeps ("m", "v"; "momentum"; none).
  const std::vector<std::string>& slot_names() const { return slot_names_; }

  std::vector<NamedBuffer<D>> state_tensors() {
    std::vector<NamedBuffer<D>> out;
    for (Slot& s : slots_)
      for (size_t k = 0; k < s.state.size(); ++k) out.push_back({state_name(s, k), &s.state[k]});
    return out;
  }
  std::vector<std::pair<std::string, int64_t>> state_counters() const {
    std::vector<std::pair<std::string, int64_t>> out{{"optim.step", step_}};
    for (const Slot& s : slots_)
      if (s.step > 0) out.emplace_back("optim." + s.name + ".step", s.step);
    return out;
  }
  // True for names this optimizer saves ("optim." prefix), so a checkpoint loader can route entries.
  static bool is_state_name(const std::string& name) { return name.rfind("optim.", 0) == 0; }

  // Forgets all state: counters to zero, state tensors released (as if freshly constructed).
  void clear_state() {
    step_ = 0;
    for (Slot& s : slots_) {
      s.step = 0;
      s.state.clear();
    }
  }
  // Sets "optim.<parameter>.<slot>" from a host tensor (copied to device D). Unknown names and shape
  // mismatches throw ValueError / ShapeError naming the entry.
  void restore_state_tensor(const std::string& name, const Tensor<Cpu>& value) {
    auto [slot, k] = find_state(name);
    SKN_REQUIRE(value.shape() == slot->param->value.shape(), ShapeError, kind_, ": saved state '", name,
                "' has shape ", value.shape().str(), " but parameter '", slot->name, "' is ",
                slot->param->value.shape().str());
    // Slots not (yet) restored stay empty tensors, so check_state() can tell a missing entry.
    if (slot->state.empty()) slot->state.resize(slot_names_.size());
    slot->state[k] = transfer<D>(value);
  }
  void restore_state_counter(const std::string& name, int64_t value) {
    SKN_REQUIRE(value >= 0, ValueError, kind_, ": saved counter '", name, "' is negative (", value, ")");
    if (name == "optim.step") {
      step_ = value;
      return;
    }
    const std::string suffix = ".step";
    SKN_REQUIRE(is_state_name(name) && name.size() > 6 + suffix.size() &&
                    name.compare(name.size() - suffix.size(), suffix.size(), suffix) == 0,
                ValueError, kind_, ": '", name, "' is not an optimizer counter");
    const std::string param = name.substr(6, name.size() - 6 - suffix.size());
    auto it = index_.find(param);
    SKN_REQUIRE(it != index_.end(), ValueError, kind_, ": saved counter '", name,
                "' names no parameter of this model");
    slots_[it->second].step = value;
  }
  // After a restore: every parameter that has been updated must have all its state tensors, and none
  // that has not may have any (a checkpoint missing entries must not resume silently from zeros).
  void check_state() const {
    for (const Slot& s : slots_) {
      const bool has_state = !s.state.empty();
      if (s.step > 0 && !slot_names_.empty())
        SKN_REQUIRE(has_state && state_complete(s), ValueError, kind_, ": parameter '", s.name, "' has ", s.step,
                    " updates but its state (", join_slots(), ") is missing or incomplete");
      if (s.step == 0)
        SKN_REQUIRE(!has_state, ValueError, kind_, ": parameter '", s.name,
                    "' has optimizer state but no recorded updates (optim.", s.name, ".step missing)");
    }
  }

 protected:
  struct Slot {
    std::string name;
    Parameter<D>* param = nullptr;
    bool decay = true;        // weight decay applies to this parameter
    int64_t step = 0;         // updates applied to this parameter
    std::vector<Tensor<D>> state;  // one tensor per slot_names_ entry, created on the first update
  };

  // skip_decay_1d: exclude rank-1 parameters (biases, BatchNorm gamma/beta) from weight decay, as timm
  // and many fine-tuning recipes do. Off by default (PyTorch decays everything it is given).
  Optimizer(std::string kind, std::vector<NamedParameter<D>> params, double lr,
            std::vector<std::string> slot_names, bool skip_decay_1d)
      : kind_(std::move(kind)), slot_names_(std::move(slot_names)) {
    set_lr(lr);
    slots_.reserve(params.size());
    for (NamedParameter<D>& p : params) {
      SKN_REQUIRE(p.param != nullptr, ValueError, kind_, ": parameter '", p.name, "' is null");
      SKN_REQUIRE(!p.name.empty(), ValueError, kind_, ": a parameter has an empty name");
      SKN_REQUIRE(index_.emplace(p.name, slots_.size()).second, ValueError, kind_,
                  ": parameter name '", p.name, "' appears twice");
      Slot s;
      s.name = p.name;
      s.param = p.param;
      s.decay = !(skip_decay_1d && p.param->value.shape().rank() == 1);
      slots_.push_back(std::move(s));
    }
  }

  // Applies one update to slot s (s.step already counts it; its state tensors exist).
  virtual void update(Slot& s) = 0;

  static void require_hyper(bool ok, const std::string& kind, const char* what, double value) {
    SKN_REQUIRE(ok, ValueError, kind, ": invalid ", what, " ", value);
  }

 private:
  void allocate_state(Slot& s) {
    s.state.clear();
    for (size_t k = 0; k < slot_names_.size(); ++k) s.state.push_back(Tensor<D>::zeros(s.param->value.shape()));
  }
  bool state_complete(const Slot& s) const {
    if (s.state.size() != slot_names_.size()) return false;
    for (const Tensor<D>& t : s.state)
      if (t.shape() != s.param->value.shape()) return false;
    return true;
  }
  std::string state_name(const Slot& s, size_t k) const { return "optim." + s.name + "." + slot_names_[k]; }
  std::string join_slots() const {
    std::string r;
    for (const std::string& n : slot_names_) r += (r.empty() ? "" : ", ") + n;
    return r;
  }
  std::pair<Slot*, size_t> find_state(const std::string& name) {
    for (size_t k = 0; k < slot_names_.size(); ++k) {
      const std::string suffix = "." + slot_names_[k];
      if (!is_state_name(name) || name.size() <= 6 + suffix.size() ||
          name.compare(name.size() - suffix.size(), suffix.size(), suffix) != 0)
        continue;
      auto it = index_.find(name.substr(6, name.size() - 6 - suffix.size()));
      if (it != index_.end()) return {&slots_[it->second], k};
    }
    throw ValueError(detail::concat(kind_, ": saved state '", name,
                                    "' matches no parameter and slot of this optimizer (slots: ", join_slots(),
                                    ")"));
  }

  std::string kind_;
  std::vector<std::string> slot_names_;
  std::vector<Slot> slots_;
  std::unordered_map<std::string, size_t> index_;
  double lr_ = 0.0;
  int64_t step_ = 0;
};

}  // namespace skinnet
