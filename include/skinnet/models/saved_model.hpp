#pragma once
// Loading a model file written by skinnet (best.safetensors, or a last.safetensors checkpoint) into
// the right zoo architecture, and classifying image files with it: what a program embedding skinnet
// needs. The metadata (architecture, class names, input size, normalisation, width, activation) says
// how to rebuild the network; the tensors fill it.
//
//   auto m = skinnet::load_saved_model<skinnet::Cpu>("runs/ham/best.safetensors");
//   for (auto& [cls, p] : skinnet::classify_image(m, "lesion.jpg", 3)) std::printf("%s %.3f\n", cls.c_str(), p);
#include <algorithm>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "skinnet/data/loader.hpp"
#include "skinnet/io/model_file.hpp"
#include "skinnet/models/zoo.hpp"
#include "skinnet/train/evaluate.hpp"

namespace skinnet {

template <class D>
struct SavedModel {
  io::ModelInfo info;
  std::unique_ptr<Classifier<D>> model;
};

template <class D>
SavedModel<D> load_saved_model(const std::filesystem::path& path) {
  SavedModel<D> m;
  m.info = io::read_model_info(path);
  SKN_REQUIRE(!m.info.architecture.empty() && !m.info.class_names.empty() && m.info.input_size > 0, IoError,
              path.string(), ": not a skinnet model file (architecture, class_names or input_size missing)");
  ModelOptions mo;
  mo.image_size = m.info.input_size;
  if (auto it = m.info.extra.find("width_multiplier"); it != m.info.extra.end()) mo.width_multiplier = std::stod(it->second);
  if (auto it = m.info.extra.find("activation"); it != m.info.extra.end() && it->second == "mish") mo.activation = Act::Mish;
  m.model = create_model<D>(m.info.architecture, static_cast<int64_t>(m.info.class_names.size()), mo);
  io::LoadOptions lo;
  lo.map_name = [](const std::string& n) -> std::optional<std::string> {
    if (n.rfind("optim.", 0) == 0) return std::nullopt;  // a checkpoint's optimizer state
    return io::default_name_map(n);
  };
  io::load_model(path, *m.model, lo);
  return m;
}

// Class probabilities for each image file (decoded, resized and normalised exactly as in training).
template <class D>
Predictions predict_files(SavedModel<D>& m, const std::vector<std::filesystem::path>& files,
                          TtaMode tta = TtaMode::None) {
  Dataset d;
  d.source = "command line";
  d.classes = m.info.class_names;
  for (const auto& f : files) {
    Sample s;
    s.path = f;
    s.label = 0;  // unknown; predictions ignore it
    s.id = f.stem().string();
    d.samples.push_back(s);
  }
  LoaderOptions lo;
  lo.batch_size = 16;
  lo.image_size = static_cast<int>(m.info.input_size);
  lo.norm = parse_norm(m.info.normalization);
  lo.workers = 0;
  lo.shuffle = false;
  Loader loader(std::move(d), lo);
  return predict(*m.model, loader, tta);
}

// The k most probable classes of one image, most probable first.
template <class D>
std::vector<std::pair<std::string, float>> classify_image(SavedModel<D>& m, const std::filesystem::path& file, int k = 3) {
  const Predictions p = predict_files(m, {file});
  std::vector<std::pair<std::string, float>> out;
  for (int c = 0; c < p.num_classes; ++c) out.emplace_back(m.info.class_names[static_cast<size_t>(c)], p.probs[static_cast<size_t>(c)]);
  std::stable_sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  out.resize(static_cast<size_t>(std::min<int>(k, p.num_classes)));
  return out;
}

}  // namespace skinnet
