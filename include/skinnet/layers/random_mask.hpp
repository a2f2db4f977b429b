#pragma once
// RandomMaskLayer<D>: what Dropout and DropConnect share. Both zero part of their input in training
// and scale the rest by 1 / (1 - rate), and are the identity in inference. Their mask comes from
// Philox (cpu/dropout.hpp): a function of the model seed, the layer's stream id (set_rng) and the
// training step (set_step), so it is the same on CPU and CUDA and is recomputed in backward rather
// than stored. A subclass says only which elements one random draw covers (mask()).
#include <cstdint>
#include <sstream>
#include <string>

#include "skinnet/core/error.hpp"
#include "skinnet/layers/module.hpp"

namespace skinnet {

template <class D>
class RandomMaskLayer : public Module<D> {
 public:
  Tensor<D> forward(const Tensor<D>& x, Mode mode) override {
    masked_ = mode == Mode::Train && rate_ > 0.0f;
    has_cache_ = mode == Mode::Train;
    if (!masked_) return x.clone();
    return mask(x, false);
  }
  Tensor<D> backward(const Tensor<D>& dy) override {
    SKN_REQUIRE(has_cache_, Error, name(), ": backward without a training-mode forward");
    if (!masked_) return dy.clone();
    return mask(dy, true);
  }
  std::string name() const override {
    std::ostringstream s;
    s << kind_ << " " << rate_;
    return s.str();
  }
  Shape output_shape(const Shape& in) const override { return in; }
  void set_rng(uint64_t seed, uint32_t& next_stream) override {
    seed_ = seed;
    stream_ = next_stream++;
  }
  void set_step(uint32_t step) override { step_ = step; }

  float rate() const { return rate_; }
  uint32_t stream() const { return stream_; }

 protected:
  RandomMaskLayer(const char* kind, float rate) : kind_(kind), rate_(rate) {
    SKN_REQUIRE(rate >= 0.0f && rate < 1.0f, ValueError, kind, ": rate must be in [0, 1), got ", rate);
  }
  // t with this step's mask applied (and the survivors scaled): the forward pass of the input, or
  // (gradient = true) the backward pass of the output gradient.
  virtual Tensor<D> mask(const Tensor<D>& t, bool gradient) const = 0;

  const char* kind_;
  float rate_;
  uint64_t seed_ = 0;
  uint32_t stream_ = 0, step_ = 0;

 private:
  bool masked_ = false, has_cache_ = false;
};

}  // namespace skinnet
