#pragma once
// Dense<D>: fully connected layer y = x W + b, W stored [in][out] ("weight"), b [out] ("bias").
// The last input dimension is the feature dimension ([N, in] -> [N, out]); leading dimensions are
// kept, so it also works on NHWC maps as a 1x1 convolution. Parameters start at zero: models
// initialise them (PyTorch imports overwrite them anyway; import transposes PyTorch's [out][in]).
#include <cstdint>
#include <sstream>
#include <string>
#include <vector>

#include "skinnet/core/error.hpp"
#include "skinnet/cpu/dense.hpp"
#include "skinnet/layers/module.hpp"

namespace skinnet {

template <class D>
class Dense : public Module<D> {
 public:
  Dense(int64_t in, int64_t out, bool bias = true)
      : in_(in), out_(out), weight_(Shape{in, out}) {
    SKN_REQUIRE(in > 0 && out > 0, ValueError, "Dense: sizes must be positive, got ", in, " -> ", out);
    if (bias) bias_ = Parameter<D>(Shape{out});
  }

  Tensor<D> forward(const Tensor<D>& x, Mode mode) override {
    check_input(x.shape());
    if (mode == Mode::Train) x_ = x.share();
    has_cache_ = mode == Mode::Train;
    return dense_forward(x, weight_.value, bias_.value);
  }
  Tensor<D> backward(const Tensor<D>& dy) override {
    SKN_REQUIRE(has_cache_, Error, name(), ": backward without a training-mode forward");
    return dense_backward(dy, x_, weight_.value, weight_.grad, bias_.grad);
  }
  std::string name() const override {
    std::ostringstream s;
    s << "Dense " << in_ << "->" << out_ << (has_bias() ? "" : " no-bias");
    return s.str();
  }
  Shape output_shape(const Shape& in) const override {
    check_input(in);
    return cpu::detail::with_last_dim(in, out_);
  }
  void collect_parameters(const std::string& prefix, std::vector<NamedParameter<D>>& out) override {
    out.push_back({prefix + "weight", &weight_});
    if (has_bias()) out.push_back({prefix + "bias", &bias_});
  }

  bool has_bias() const { return !bias_.value.empty(); }
  Parameter<D>& weight() { return weight_; }
  Parameter<D>& bias() { return bias_; }

 private:
  void check_input(const Shape& s) const {
    SKN_REQUIRE(s[s.rank() - 1] == in_, ShapeError, name(), ": input ", s.str(), " does not have ", in_,
                " features in its last dimension");
  }
  int64_t in_, out_;
  Parameter<D> weight_, bias_;  // bias_ empty when the layer has none
  Tensor<D> x_;
  bool has_cache_ = false;
};

}  // namespace skinnet
