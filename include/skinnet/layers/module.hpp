#pragma once
// Module<D>: the one interface every layer and model implements (DESIGN.md §3).
//
//   forward(x, mode)   Mode::Train caches what backward needs; Mode::Infer caches nothing. The cache
//                      may hold x itself (Tensor::share, no copy): do not modify x in place before
//                      backward has run (PyTorch's autograd has the same rule).
//   backward(dy)       returns dL/dx for the last Train forward and ADDS parameter gradients into
//                      Parameter::grad (callers zero them with zero_grad(); accumulation lets a trainer
//                      sum gradients over micro-batches).
//   set_input_grad(b)  false: backward need not return dL/dx (it may return an empty tensor); for the
//                      layer that sees a model's input images, whose gradient training never uses.
//   parameters()       trainable and frozen parameters with full dotted names (timm state_dict keys,
//                      e.g. "layer1.0.se.fc1.weight"); buffers() the BN running statistics.
//   name()             a short human-readable description ("Conv2D 3->32 3x3/2 same").
//   output_shape(in)   the shape forward would return, without computing anything.
//
// Randomness (dropout, drop-connect) comes from Philox with key = seed and counter = {stream, step,
// index/4}: set_rng() gives each random layer a seed and a distinct stream id, set_step() the training
// step; containers pass both down.
#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "skinnet/core/tensor.hpp"

namespace skinnet {

enum class Mode { Train, Infer };

template <class D>
struct Parameter {
  Tensor<D> value;
  Tensor<D> grad;  // same shape as value, zero until backward adds to it
  bool trainable = true;

  Parameter() = default;
  explicit Parameter(const Shape& shape) : value(Tensor<D>::zeros(shape)), grad(Tensor<D>::zeros(shape)) {}
};

// A parameter or buffer seen from outside: its full dotted name and where it lives.
template <class D>
struct NamedParameter {
  std::string name;
  Parameter<D>* param;
};
template <class D>
struct NamedBuffer {
  std::string name;
  Tensor<D>* value;
};

template <class D>
class Module {
 public:
  virtual ~Module() = default;

  virtual Tensor<D> forward(const Tensor<D>& x, Mode mode) = 0;
  virtual Tensor<D> backward(const Tensor<D>& dy) = 0;
  virtual std::string name() const = 0;
  virtual Shape output_shape(const Shape& in) const = 0;

  // Leaf layers list their own tensors with local names ("weight"); containers override
  // collect_* to prefix their children's names ("conv1." + "weight").
  virtual void collect_parameters(const std::string& prefix, std::vector<NamedParameter<D>>& out) {
    (void)prefix;
    (void)out;
  }
  virtual void collect_buffers(const std::string& prefix, std::vector<NamedBuffer<D>>& out) {
    (void)prefix;
    (void)out;
  }
  // Random layers: key and stream id (assign_streams hands out consecutive ids), and training step.
  virtual void set_rng(uint64_t seed, uint32_t& next_stream) {
    (void)seed;
    (void)next_stream;
  }
  virtual void set_step(uint32_t step) { (void)step; }
  // Whether backward must return dL/dx (it must unless told otherwise). Layers that can skip the input
  // gradient (Conv2D: a stem's input gradient over 3-channel images ends in a col2im scatter-add
  // that runs on one thread) then return an empty tensor; the others
  // ignore it. Containers pass it to the child that sees their input.
  virtual void set_input_grad(bool needed) { (void)needed; }

  std::vector<NamedParameter<D>> parameters() {
    std::vector<NamedParameter<D>> out;
    collect_parameters("", out);
    return out;
  }
  std::vector<NamedBuffer<D>> buffers() {
    std::vector<NamedBuffer<D>> out;
    collect_buffers("", out);
    return out;
  }
  // Trainable + frozen parameter elements (buffers excluded), as research papers count them.
  int64_t parameter_count() {
    int64_t n = 0;
    for (auto& p : parameters()) n += p.param->value.numel();
    return n;
  }
  int64_t trainable_parameter_count() {
    int64_t n = 0;
    for (auto& p : parameters())
      if (p.param->trainable) n += p.param->value.numel();
    return n;
  }
  void zero_grad() {
    for (auto& p : parameters()) p.param->grad.fill_zero();
  }
};

template <class D>
using ModulePtr = std::unique_ptr<Module<D>>;

}  // namespace skinnet
