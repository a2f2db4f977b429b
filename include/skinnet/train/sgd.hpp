#pragma once
// Stochastic gradient descent with optional momentum, Nesterov momentum and L2 weight decay, in
// PyTorch's formulation (torch.optim.SGD). For each trainable parameter w with gradient g, per step:
//
//   d = g + weight_decay * w                       L2 decay, added to the gradient
//   b = d                                          on the parameter's first update
//   b = momentum * b + (1 - dampening) * d         afterwards                  (b: "momentum" state)
//   w = w - lr * (d + momentum * b)                Nesterov
//   w = w - lr * b                                 classic momentum
//   w = w - lr * d                                 momentum == 0 (no state is kept)
//
// Two differences from the textbook / Keras form v = mu * v - lr * g; w += v are worth knowing: the
// learning rate multiplies the buffer at use rather than being folded into it, so changing the learning
// rate takes effect at once instead of decaying through the buffer; and Nesterov is the "look-ahead on
// the gradient" rewrite (Sutskever et al. 2013, as in PyTorch), not an evaluation at shifted weights.
#include <sstream>
#include <string>
#include <utility>
#include <vector>

#include "skinnet/cpu/optim.hpp"
#include "skinnet/train/optimizer.hpp"

namespace skinnet {

struct SgdOptions {
  double lr = 0.01;
  double momentum = 0.0;
  double dampening = 0.0;
  bool nesterov = false;
  double weight_decay = 0.0;   // L2, coupled: added to the gradient (and so run through momentum)
  bool skip_decay_1d = false;  // no decay for rank-1 parameters (biases, BatchNorm scale and shift)
};

template <class D>
class Sgd final : public Optimizer<D> {
  using Base = Optimizer<D>;
  using typename Base::Slot;

 public:
  Sgd(std::vector<NamedParameter<D>> params, const SgdOptions& o = {})
      : Base("sgd", std::move(params), o.lr,
             o.momentum != 0.0 ? std::vector<std::string>{"momentum"} : std::vector<std::string>{},
             o.skip_decay_1d),
        opt_(o) {
    Base::require_hyper(o.momentum >= 0.0 && o.momentum < 1.0, "sgd", "momentum (need 0 <= momentum < 1)",
                        o.momentum);
    Base::require_hyper(o.dampening >= 0.0 && o.dampening <= 1.0, "sgd", "dampening (need 0..1)", o.dampening);
    Base::require_hyper(o.weight_decay >= 0.0, "sgd", "weight_decay (need >= 0)", o.weight_decay);
    SKN_REQUIRE(!o.nesterov || (o.momentum > 0.0 && o.dampening == 0.0), ValueError,
                "sgd: Nesterov momentum needs momentum > 0 and dampening == 0");
  }

  const SgdOptions& options() const { return opt_; }

  std::string describe() const override {
    std::ostringstream s;
    s << "sgd lr=" << this->lr() << " momentum=" << opt_.momentum << " dampening=" << opt_.dampening
      << " nesterov=" << (opt_.nesterov ? "true" : "false") << " weight_decay=" << opt_.weight_decay
      << (opt_.skip_decay_1d ? " (not on 1-d parameters)" : "");
    return s.str();
  }

 private:
  void update(Slot& s) override {
    SgdStep st;
    st.lr = static_cast<float>(this->lr());
    st.momentum = static_cast<float>(opt_.momentum);
    st.dampening = static_cast<float>(opt_.dampening);
    st.weight_decay = s.decay ? static_cast<float>(opt_.weight_decay) : 0.f;
    st.nesterov = opt_.nesterov;
    st.first_step = s.step == 1;
    Tensor<D> none;
    sgd_update(s.param->value, s.param->grad, s.state.empty() ? none : s.state[0], st);
  }

  SgdOptions opt_;
};

}  // namespace skinnet
