#pragma once
// Adam (Kingma & Ba 2015) with bias correction and optional L2 weight decay, in PyTorch's formulation
// (torch.optim.Adam, amsgrad=False). For each trainable parameter w with gradient g, on that parameter's
// t-th update (t = 1, 2, ...):
//
//   g = g + weight_decay * w                        L2, coupled (Adam); AdamW decays w instead
//   m = beta1 * m + (1 - beta1) * g                 first moment  ("m" state)
//   v = beta2 * v + (1 - beta2) * g * g             second moment ("v" state)
//   w = w - lr / (1 - beta1^t) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
//
// i.e. w -= lr * m_hat / (sqrt(v_hat) + eps) with the bias-corrected moments m_hat, v_hat. eps is added
// after the correction, as in the paper and PyTorch; Keras adds its epsilon to sqrt(v) before
// correcting, which differs in the first few hundred steps when gradients are tiny.
//
// With L2 decay in Adam the decay term is divided by sqrt(v_hat) like the gradient, so weights with
// large gradients are barely regularised; AdamW (train/adamw.hpp) decouples the decay to fix that.
#include <cmath>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "skinnet/cpu/optim.hpp"
#include "skinnet/train/optimizer.hpp"

namespace skinnet {

struct AdamOptions {
  double lr = 1e-3;
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;   // Adam: L2 added to the gradient; AdamW: decoupled (default 1e-2 there)
  bool skip_decay_1d = false;  // no decay for rank-1 parameters (biases, BatchNorm scale and shift)
};

template <class D>
class Adam : public Optimizer<D> {
  using Base = Optimizer<D>;

 public:
  Adam(std::vector<NamedParameter<D>> params, const AdamOptions& o = {}) : Adam("adam", std::move(params), o) {}

  const AdamOptions& options() const { return opt_; }

  std::string describe() const override {
    std::ostringstream s;
    s << this->kind() << " lr=" << this->lr() << " betas=(" << opt_.beta1 << "," << opt_.beta2
      << ") eps=" << opt_.eps << " weight_decay=" << opt_.weight_decay
      << (decoupled() ? " (decoupled)" : " (L2)") << (opt_.skip_decay_1d ? " (not on 1-d parameters)" : "");
    return s.str();
  }

 protected:
  using typename Base::Slot;

  // kind "adam": L2 decay; kind "adamw": decoupled decay.
  Adam(std::string kind, std::vector<NamedParameter<D>> params, const AdamOptions& o)
      : Base(std::move(kind), std::move(params), o.lr, {"m", "v"}, o.skip_decay_1d), opt_(o) {
    const std::string& k = this->kind();
    Base::require_hyper(o.beta1 >= 0.0 && o.beta1 < 1.0, k, "beta1 (need 0 <= beta1 < 1)", o.beta1);
    Base::require_hyper(o.beta2 >= 0.0 && o.beta2 < 1.0, k, "beta2 (need 0 <= beta2 < 1)", o.beta2);
    Base::require_hyper(o.eps > 0.0, k, "eps (need > 0)", o.eps);
    Base::require_hyper(o.weight_decay >= 0.0, k, "weight_decay (need >= 0)", o.weight_decay);
  }

  bool decoupled() const { return this->kind() == "adamw"; }

 private:
  void update(Slot& s) override {
    const double t = static_cast<double>(s.step);
    const double lr = this->lr();
    const double wd = s.decay ? opt_.weight_decay : 0.0;
    AdamStep st;
    st.beta1 = static_cast<float>(opt_.beta1);
    st.beta2 = static_cast<float>(opt_.beta2);
    st.eps = static_cast<float>(opt_.eps);
    // Host-side scalars in double: 1 - beta^t loses most of its digits in float when beta is near 1.
    st.step_size = static_cast<float>(lr / (1.0 - std::pow(opt_.beta1, t)));
    st.bias_correction2_sqrt = static_cast<float>(std::sqrt(1.0 - std::pow(opt_.beta2, t)));
    st.l2 = decoupled() ? 0.f : static_cast<float>(wd);
    st.decay_factor = decoupled() ? static_cast<float>(1.0 - lr * wd) : 1.f;
    adam_update(s.param->value, s.param->grad, s.state[0], s.state[1], st);
  }

  AdamOptions opt_;
};

}  // namespace skinnet
