#pragma once
// Gradient clipping by global norm (Pascanu et al. 2013; torch.nn.utils.clip_grad_norm_ with the L2
// norm): the gradients of all trainable parameters are treated as one long vector g; if its norm
// exceeds max_norm, every gradient is multiplied by max_norm / (norm + 1e-6), so the direction of the
// update is kept and only its length is limited. The 1e-6 (as in PyTorch) keeps the factor finite and
// leaves the clipped norm a hair below max_norm.
//
// Frozen parameters (trainable == false) are ignored: they do not update, so their gradients neither
// count towards the norm nor get scaled.
//
// A non-finite norm (a NaN or Inf somewhere in the gradients) is returned unchanged and nothing is
// scaled (scaling would only spread the NaN); the trainer's NaN guard decides what to do. With
// error_if_nonfinite the function instead throws NumericError naming the first offending parameter.
#include <cmath>
#include <string>
#include <vector>

#include "skinnet/core/error.hpp"
#include "skinnet/cpu/optim.hpp"
#include "skinnet/layers/module.hpp"

namespace skinnet {

// sqrt of the sum of squares of every trainable gradient, accumulated in double in a fixed order.
template <class D>
double grad_global_norm(const std::vector<NamedParameter<D>>& params) {
  double sum = 0.0;
  for (const NamedParameter<D>& p : params)
    if (p.param->trainable) sum += grad_sum_squares(p.param->grad);
  return std::sqrt(sum);
}

// Clips in place; returns the global norm before clipping.
template <class D>
double clip_grad_norm(const std::vector<NamedParameter<D>>& params, double max_norm,
                      bool error_if_nonfinite = false) {
  SKN_REQUIRE(max_norm > 0.0 && std::isfinite(max_norm), ValueError,
              "clip_grad_norm: max_norm must be finite and > 0, got ", max_norm);
  const double norm = grad_global_norm(params);
  if (!std::isfinite(norm)) {
    if (error_if_nonfinite) {
      for (const NamedParameter<D>& p : params)
        if (p.param->trainable && !std::isfinite(grad_sum_squares(p.param->grad)))
          throw NumericError(detail::concat("clip_grad_norm: gradient of '", p.name,
                                            "' contains NaN or Inf (global norm ", norm, ")"));
      // The sum overflowed although every tensor is finite on its own.
      throw NumericError(detail::concat("clip_grad_norm: global gradient norm overflows (", norm, ")"));
    }
    return norm;
  }
  const double factor = max_norm / (norm + 1e-6);
  if (factor < 1.0)
    for (const NamedParameter<D>& p : params)
      if (p.param->trainable) grad_scale(p.param->grad, static_cast<float>(factor));
  return norm;
}

}  // namespace skinnet
