#pragma once
// Dropout<D>: in training, zero each element with probability `rate` and scale the rest by
// 1 / (1 - rate); in inference, the identity. The mask comes from Philox (cpu/dropout.hpp): it is a
// function of the model seed, this layer's stream id (set_rng) and the training step (set_step), so
// it is the same on CPU and CUDA and is recomputed in backward rather than stored.
#include <cstdint>
#include <sstream>
#include <string>

#include "skinnet/core/error.hpp"
#include "skinnet/cpu/dropout.hpp"
#include "skinnet/layers/module.hpp"

namespace skinnet {

template <class D>
class Dropout : public Module<D> {
 public:
  explicit Dropout(float rate) : rate_(rate) {
    SKN_REQUIRE(rate >= 0.0f && rate < 1.0f, ValueError, "Dropout: rate must be in [0, 1), got ", rate);
  }

  Tensor<D> forward(const Tensor<D>& x, Mode mode) override {
    masked_ = mode == Mode::Train && rate_ > 0.0f;
    has_cache_ = mode == Mode::Train;
    if (!masked_) return x.clone();
    return dropout_forward(x, rate_, seed_, stream_, step_);
  }
  Tensor<D> backward(const Tensor<D>& dy) override {
    SKN_REQUIRE(has_cache_, Error, name(), ": backward without a training-mode forward");
    if (!masked_) return dy.clone();
    return dropout_backward(dy, rate_, seed_, stream_, step_);
  }
  std::string name() const override {
    std::ostringstream s;
    s << "Dropout " << rate_;
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

 private:
  float rate_;
  uint64_t seed_ = 0;
  uint32_t stream_ = 0, step_ = 0;
  bool masked_ = false, has_cache_ = false;
};

}  // namespace skinnet
