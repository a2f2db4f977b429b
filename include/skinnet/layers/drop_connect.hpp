#pragma once
// DropConnect<D>: per-sample stochastic depth, as EfficientNet applies to a residual branch before
// the identity is added (timm's drop_path). In training each sample of the batch is zeroed with
// probability `rate` and the survivors are scaled by 1 / (1 - rate); in inference it is the identity.
// Randomness as for Dropout: Philox with (seed, stream, step), element index = sample index.
#include <cstdint>
#include <sstream>
#include <string>

#include "skinnet/core/error.hpp"
#include "skinnet/cpu/dropout.hpp"
#include "skinnet/layers/module.hpp"

namespace skinnet {

template <class D>
class DropConnect : public Module<D> {
 public:
  explicit DropConnect(float rate) : rate_(rate) {
    SKN_REQUIRE(rate >= 0.0f && rate < 1.0f, ValueError, "DropConnect: rate must be in [0, 1), got ", rate);
  }

  Tensor<D> forward(const Tensor<D>& x, Mode mode) override {
    masked_ = mode == Mode::Train && rate_ > 0.0f;
    has_cache_ = mode == Mode::Train;
    if (!masked_) return x.clone();
    return drop_connect_forward(x, rate_, seed_, stream_, step_);
  }
  Tensor<D> backward(const Tensor<D>& dy) override {
    SKN_REQUIRE(has_cache_, Error, name(), ": backward without a training-mode forward");
    if (!masked_) return dy.clone();
    return drop_connect_backward(dy, rate_, seed_, stream_, step_);
  }
  std::string name() const override {
    std::ostringstream s;
    s << "DropConnect " << rate_;
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
