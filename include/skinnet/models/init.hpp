#pragma once
// Initialisation of the parameters that layers leave at zero (Dense and the SE excitation 1x1 convs
// start at zero so that importers can fill them). A model that trains from scratch needs them random:
// an all-zero SE reduce layer with ReLU would never receive a gradient.
#include <cmath>
#include <cstdint>
#include <vector>

#include "skinnet/core/philox.hpp"
#include "skinnet/layers/module.hpp"

namespace skinnet {

// He-uniform U(-b, b), b = sqrt(6 / fan_in), fan_in = product of all but the last (output) dimension,
// for every rank >= 2 parameter whose values are all zero.
template <class D>
void init_zero_weights(Module<D>& model, uint64_t seed) {
  uint32_t stream = 0x1000;
  for (auto& p : model.parameters()) {
    ++stream;
    Tensor<D>& v = p.param->value;
    const Shape& s = v.shape();
    if (s.rank() < 2) continue;
    std::vector<float> host = v.to_vector();
    bool all_zero = true;
    for (float x : host) all_zero = all_zero && x == 0.0f;
    if (!all_zero) continue;
    const int64_t fan_in = v.numel() / s[s.rank() - 1];
    const float bound = static_cast<float>(std::sqrt(6.0 / static_cast<double>(fan_in)));
    for (size_t i = 0; i < host.size(); ++i) host[i] = bound * (2.f * philox_uniform(seed, stream, 0, i) - 1.f);
    v = Tensor<D>::from_vector(s, host);
  }
}

}  // namespace skinnet
