#pragma once
// Residual<D>: y = post_act(branch(x) + shortcut(x)), the skeleton of ResNet, Xception and MBConv
// blocks. The shortcut is the identity when no module is given, or a projection (1x1 conv + BN in
// ResNet's "downsample", conv + BN in Xception's "skip"/"skipbn"). post_act is ReLU in ResNet
// (relu after the sum) and None in EfficientNet and Xception.
//
// Names: the branch's parameters are prefixed with branch_name + "." and the shortcut's with
// shortcut_name + "."; an empty name adds no prefix. timm's layouts need:
//   SE-ResNet bottleneck: branch = Sequential{conv1, bn1, ..., se}, branch_name "", shortcut_name "downsample"
//   Xception block:       branch = Sequential "rep", shortcut = Sequential{skip, skipbn} with shortcut_name ""
#include <memory>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "skinnet/core/error.hpp"
#include "skinnet/cpu/activation.hpp"
#include "skinnet/cpu/elementwise.hpp"
#include "skinnet/layers/module.hpp"

namespace skinnet {

template <class D>
class Residual : public Module<D> {
 public:
  Residual(ModulePtr<D> branch, ModulePtr<D> shortcut = nullptr, Act post_act = Act::None,
           std::string branch_name = "", std::string shortcut_name = "downsample")
      : branch_(std::move(branch)),
        shortcut_(std::move(shortcut)),
        post_act_(post_act),
        branch_name_(std::move(branch_name)),
        shortcut_name_(std::move(shortcut_name)) {
    SKN_REQUIRE(branch_ != nullptr, ValueError, "Residual: the branch is null");
  }

  Tensor<D> forward(const Tensor<D>& x, Mode mode) override {
    Tensor<D> z = branch_->forward(x, mode);
    if (shortcut_) {
      Tensor<D> s = shortcut_->forward(x, mode);
      check_sum(z.shape(), s.shape());
      add_into(z, s);
    } else {
      check_sum(z.shape(), x.shape());
      add_into(z, x);
    }
    has_cache_ = mode == Mode::Train;
    if (post_act_ == Act::None) return z;
    Tensor<D> y = activation_forward(post_act_, z);
    if (has_cache_) z_ = std::move(z);  // the activation's input, for its backward
    return y;
  }

  Tensor<D> backward(const Tensor<D>& dy) override {
    SKN_REQUIRE(has_cache_, Error, name(), ": backward without a training-mode forward");
    Tensor<D> dz_storage;
    if (post_act_ != Act::None) dz_storage = activation_backward(post_act_, z_, dy);
    const Tensor<D>& dz = post_act_ == Act::None ? dy : dz_storage;
    Tensor<D> dx = branch_->backward(dz);
    if (shortcut_) add_into(dx, shortcut_->backward(dz));
    else add_into(dx, dz);
    return dx;
  }

  std::string name() const override {
    std::ostringstream s;
    s << "Residual(" << branch_->name() << " + " << (shortcut_ ? shortcut_->name() : std::string("identity"))
      << ")";
    if (post_act_ != Act::None) s << " +" << act_name(post_act_);
    return s.str();
  }
  Shape output_shape(const Shape& in) const override {
    const Shape b = branch_->output_shape(in);
    check_sum(b, shortcut_ ? shortcut_->output_shape(in) : in);
    return b;
  }
  void collect_parameters(const std::string& prefix, std::vector<NamedParameter<D>>& out) override {
    branch_->collect_parameters(join(prefix, branch_name_), out);
    if (shortcut_) shortcut_->collect_parameters(join(prefix, shortcut_name_), out);
  }
  void collect_buffers(const std::string& prefix, std::vector<NamedBuffer<D>>& out) override {
    branch_->collect_buffers(join(prefix, branch_name_), out);
    if (shortcut_) shortcut_->collect_buffers(join(prefix, shortcut_name_), out);
  }
  void set_rng(uint64_t seed, uint32_t& next_stream) override {
    branch_->set_rng(seed, next_stream);
    if (shortcut_) shortcut_->set_rng(seed, next_stream);
  }
  void set_step(uint32_t step) override {
    branch_->set_step(step);
    if (shortcut_) shortcut_->set_step(step);
  }

  Module<D>& branch() { return *branch_; }
  Module<D>* shortcut() { return shortcut_.get(); }

 private:
  static std::string join(const std::string& prefix, const std::string& child) {
    return child.empty() ? prefix : prefix + child + ".";
  }
  void check_sum(const Shape& b, const Shape& s) const {
    SKN_REQUIRE(b == s, ShapeError, "Residual: branch output ", b.str(), " and ",
                shortcut_ ? "shortcut output " : "identity ", s.str(),
                " differ (an identity shortcut needs a shape-preserving branch; use a projection)");
  }

  ModulePtr<D> branch_, shortcut_;
  Act post_act_;
  std::string branch_name_, shortcut_name_;
  Tensor<D> z_;
  bool has_cache_ = false;
};

}  // namespace skinnet
