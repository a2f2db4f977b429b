#pragma once
// torchvision's state_dict names -> skinnet's, which are timm's (DESIGN.md §3, §8), as NameMaps for
// LoadOptions::map_name. Weights still need io::torch_to_skinnet_layout (LoadOptions::convert).
//
// ResNet (resnet18/34/50): torchvision and timm use the same names (conv1, bn1, layer1.0.conv1,
// layer1.0.downsample.0, ..., fc), so the map only skips `num_batches_tracked`.
//
// EfficientNet-B0...B7: torchvision numbers its modules, timm names them.
//
//   torchvision                          timm / skinnet
//   features.0.0                         conv_stem            (3x3 stride-2 stem conv)
//   features.0.1                         bn1
//   features.S.J.block.<part>            blocks.(S-1).J.<part> for S = 1..7, parts below
//   features.8.0                         conv_head            (1x1 conv to 4 x 320 channels)
//   features.8.1                         bn2
//   classifier.1                         classifier           (classifier.0 is the dropout)
//
//   stage 1 (MBConv1: no expansion)      stages 2..7 (MBConv6)
//   block.0.0     conv_dw                block.0.0     conv_pw        (1x1 expansion)
//   block.0.1     bn1                    block.0.1     bn1
//   block.1.fc1   se.conv_reduce         block.1.0     conv_dw
//   block.1.fc2   se.conv_expand         block.1.1     bn2
//   block.2.0     conv_pw                block.2.fc1   se.conv_reduce
//   block.2.1     bn2                    block.2.fc2   se.conv_expand
//                                        block.3.0     conv_pwl       (1x1 projection)
//                                        block.3.1     bn3
//
// Every variant has the same nine `features` entries; only the number of blocks J per stage changes.
// A name that fits none of these rows is returned unchanged, so load_model reports it by name.
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "skinnet/io/model_file.hpp"

namespace skinnet::io {

inline NameMap torchvision_resnet_names() { return default_name_map; }

namespace detail {

// Splits "a.b.rest" into its first `n` dot-separated components and the rest; false if too short.
inline bool split_components(std::string_view name, int n, std::string_view* parts, std::string_view& rest) {
  for (int i = 0; i < n; ++i) {
    const auto dot = name.find('.');
    if (dot == std::string_view::npos) return false;
    parts[i] = name.substr(0, dot);
    name.remove_prefix(dot + 1);
  }
  rest = name;
  return true;
}

inline bool all_digits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s)
    if (c < '0' || c > '9') return false;
  return true;
}

inline std::optional<std::string> efficientnet_name(const std::string& name) {
  static const std::map<std::string, std::string, std::less<>> kFixed = {
      {"features.0.0", "conv_stem"}, {"features.0.1", "bn1"},  {"features.8.0", "conv_head"},
      {"features.8.1", "bn2"},       {"classifier.1", "classifier"},
  };
  static const std::map<std::string, std::string, std::less<>> kStage1 = {
      {"0.0", "conv_dw"},        {"0.1", "bn1"}, {"1.fc1", "se.conv_reduce"},
      {"1.fc2", "se.conv_expand"}, {"2.0", "conv_pw"}, {"2.1", "bn2"},
  };
  static const std::map<std::string, std::string, std::less<>> kLater = {
      {"0.0", "conv_pw"},          {"0.1", "bn1"},           {"1.0", "conv_dw"},  {"1.1", "bn2"},
      {"2.fc1", "se.conv_reduce"}, {"2.fc2", "se.conv_expand"}, {"3.0", "conv_pwl"}, {"3.1", "bn3"},
  };

  std::string_view parts[6];
  std::string_view rest;
  // Stem and head ("features.0.0.<tensor>"), classifier ("classifier.1.<tensor>").
  for (int n : {3, 2}) {
    if (!split_components(name, n, parts, rest)) continue;
    std::string key(parts[0]);
    for (int i = 1; i < n; ++i) key += "." + std::string(parts[i]);
    if (auto it = kFixed.find(key); it != kFixed.end()) return it->second + "." + std::string(rest);
  }
  // Blocks: "features.S.J.block.<p>.<q>.<tensor>".
  if (split_components(name, 6, parts, rest) && parts[0] == "features" && parts[3] == "block" &&
      all_digits(parts[1]) && all_digits(parts[2])) {
    const int stage = std::stoi(std::string(parts[1]));
    if (stage >= 1 && stage <= 7) {
      const auto& table = stage == 1 ? kStage1 : kLater;
      const std::string part = std::string(parts[4]) + "." + std::string(parts[5]);
      if (auto it = table.find(part); it != table.end())
        return "blocks." + std::to_string(stage - 1) + "." + std::string(parts[2]) + "." + it->second + "." +
               std::string(rest);
    }
  }
  return name;
}

}  // namespace detail

inline NameMap torchvision_efficientnet_names() {
  return [](const std::string& name) -> std::optional<std::string> {
    if (!default_name_map(name)) return std::nullopt;  // num_batches_tracked
    return detail::efficientnet_name(name);
  };
}

}  // namespace skinnet::io
