#pragma once
// Sequential<D>: children applied in order. Each child has a name that prefixes its parameter names:
// "0", "1", ... by default (PyTorch nn.Sequential), or a name given at add() ("conv1", "bn1"), so a
// container reproduces timm's state_dict keys ("layer1.0.conv1.weight").
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "skinnet/core/error.hpp"
#include "skinnet/layers/module.hpp"

namespace skinnet {

template <class D>
class Sequential : public Module<D> {
 public:
  Sequential() = default;

  // Adds a child named by its position; returns it.
  Module<D>& add(ModulePtr<D> m) { return add(std::to_string(children_.size()), std::move(m)); }
  // Adds a named child; returns it.
  Module<D>& add(std::string child_name, ModulePtr<D> m) {
    SKN_REQUIRE(m != nullptr, ValueError, "Sequential: child '", child_name, "' is null");
    SKN_REQUIRE(!child_name.empty(), ValueError, "Sequential: empty child name for ", m->name());
    for (const auto& c : children_)
      SKN_REQUIRE(c.first != child_name, ValueError, "Sequential: duplicate child name '", child_name, "'");
    children_.emplace_back(std::move(child_name), std::move(m));
    return *children_.back().second;
  }
  // Constructs a child in place: seq.emplace<BatchNorm<Cpu>>("bn1", 64).
  template <class M, class... Args>
  M& emplace(std::string child_name, Args&&... args) {
    auto m = std::make_unique<M>(std::forward<Args>(args)...);
    M& ref = *m;
    add(std::move(child_name), std::move(m));
    return ref;
  }

  size_t size() const { return children_.size(); }
  Module<D>& child(size_t i) { return *children_.at(i).second; }
  const std::string& child_name(size_t i) const { return children_.at(i).first; }

  Tensor<D> forward(const Tensor<D>& x, Mode mode) override {
    if (children_.empty()) return x.clone();
    Tensor<D> cur = children_[0].second->forward(x, mode);
    for (size_t i = 1; i < children_.size(); ++i) cur = children_[i].second->forward(cur, mode);
    return cur;
  }
  Tensor<D> backward(const Tensor<D>& dy) override {
    if (children_.empty()) return dy.clone();
    Tensor<D> cur = children_.back().second->backward(dy);
    for (size_t i = children_.size() - 1; i-- > 0;) cur = children_[i].second->backward(cur);
    return cur;
  }
  std::string name() const override { return "Sequential(" + std::to_string(children_.size()) + ")"; }
  Shape output_shape(const Shape& in) const override {
    Shape s = in;
    for (const auto& c : children_) s = c.second->output_shape(s);
    return s;
  }
  void collect_parameters(const std::string& prefix, std::vector<NamedParameter<D>>& out) override {
    for (auto& c : children_) c.second->collect_parameters(prefix + c.first + ".", out);
  }
  void collect_buffers(const std::string& prefix, std::vector<NamedBuffer<D>>& out) override {
    for (auto& c : children_) c.second->collect_buffers(prefix + c.first + ".", out);
  }
  void set_rng(uint64_t seed, uint32_t& next_stream) override {
    for (auto& c : children_) c.second->set_rng(seed, next_stream);
  }
  void set_input_grad(bool needed) override {  // the first child sees the input
    if (!children_.empty()) children_.front().second->set_input_grad(needed);
  }
  void set_step(uint32_t step) override {
    for (auto& c : children_) c.second->set_step(step);
  }

 private:
  std::vector<std::pair<std::string, ModulePtr<D>>> children_;
};

}  // namespace skinnet
