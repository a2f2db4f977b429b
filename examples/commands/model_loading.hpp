#pragma once
// Loading a saved model for the CLI, plus regenerating the synthetic images of a synth run.
#include <filesystem>
#include <string>

#include "skinnet/data/synth.hpp"
#include "skinnet/models/saved_model.hpp"

namespace skinnet::cli {

using LoadedModel = SavedModel<Cpu>;

inline LoadedModel load_saved_model(const std::string& path) {
  SKN_REQUIRE(std::filesystem::exists(path), IoError, "--model ", path, ": no such file");
  return skinnet::load_saved_model<Cpu>(path);
}

// A run trained on `--data synth` lists pseudo-paths in its split.csv (".../synth/<class>/<i>.png");
// the model file records the generator's settings, so the same images can be drawn again.
inline void attach_synth_generator(Dataset& d, const io::ModelInfo& info) {
  const auto src = info.extra.find("data.source");
  if (src == info.extra.end() || src->second != "synth") return;
  const int size = std::stoi(info.extra.at("data.synth_size"));
  const uint64_t seed = std::stoull(info.extra.at("data.synth_seed"));
  d.generator = [size, seed](const Sample& s) {
    return synth_image(s.label, std::stoll(s.path.stem().string()), size, seed);
  };
}

}  // namespace skinnet::cli
