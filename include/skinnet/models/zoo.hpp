#pragma once
// The model zoo: create_model("seresnet50", num_classes, options) for every architecture skinnet
// ships. Names are timm's.
#include <memory>
#include <string>
#include <vector>

#include "skinnet/models/efficientnet.hpp"
#include "skinnet/models/resnet.hpp"
#include "skinnet/models/simple_cnn.hpp"
#include "skinnet/models/xception.hpp"

namespace skinnet {

inline std::vector<std::string> model_names() {
  return {"simple_cnn", "resnet18", "resnet34", "resnet50", "seresnet18", "seresnet34", "seresnet50", "xception",
          "efficientnet_b0", "efficientnet_b1", "efficientnet_b2", "efficientnet_b3", "efficientnet_b4",
          "efficientnet_b5", "efficientnet_b6", "efficientnet_b7"};
}

template <class D>
std::unique_ptr<Classifier<D>> create_model(const std::string& name, int64_t num_classes,
                                            const ModelOptions& options = {}) {
  SKN_REQUIRE(num_classes >= 1, ValueError, "create_model(", name, "): num_classes must be >= 1");
  SKN_REQUIRE(options.image_size == 0 || options.image_size >= 32, ValueError, "create_model(", name,
              "): image size must be at least 32, got ", options.image_size);
  if (name == "simple_cnn") return make_simple_cnn<D>(num_classes, options);
  if (name == "xception") return make_xception<D>(num_classes, options);
  if (name.rfind("efficientnet_b", 0) == 0 && name.size() == 15 && name[14] >= '0' && name[14] <= '7')
    return make_efficientnet<D>(name[14] - '0', num_classes, options);
  for (const char* r : {"resnet18", "resnet34", "resnet50", "seresnet18", "seresnet34", "seresnet50"})
    if (name == r) return make_resnet<D>(resnet_spec(name), num_classes, options);
  std::string known;
  for (const auto& n : model_names()) known += (known.empty() ? "" : ", ") + n;
  throw ValueError("unknown model '" + name + "'; available: " + known);
}

}  // namespace skinnet
