#pragma once
// AdamW (Loshchilov & Hutter 2019): Adam with decoupled weight decay, in PyTorch's formulation
// (torch.optim.AdamW). Per step, for each trainable parameter w:
//
//   w = w * (1 - lr * weight_decay)      decay the weight directly (scaled by the current lr)
//   then the Adam update of train/adam.hpp with no L2 term in the gradient.
//
// Because the decay does not pass through the adaptive denominator, every weight shrinks at the same
// relative rate whatever its gradient history. PyTorch's default weight_decay of 1e-2 is used here too.
// The decay is multiplied by the scheduled learning rate (as in PyTorch and Keras), so a cosine schedule
// also anneals the decay.
#include <utility>
#include <vector>

#include "skinnet/train/adam.hpp"

namespace skinnet {

struct AdamWOptions : AdamOptions {
  AdamWOptions() { weight_decay = 1e-2; }
};

template <class D>
class AdamW final : public Adam<D> {
 public:
  AdamW(std::vector<NamedParameter<D>> params, const AdamWOptions& o = {})
      : Adam<D>("adamw", std::move(params), o) {}
};

}  // namespace skinnet
