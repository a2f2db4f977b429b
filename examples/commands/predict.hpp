#pragma once
// `skinnet predict`: top-k classes with probabilities for each image.
//   skinnet predict --model runs/NAME/best.safetensors lesion1.jpg lesion2.png --top 3
#include <CLI/CLI.hpp>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "commands/model_loading.hpp"

namespace skinnet::cli {

inline void register_predict(CLI::App& app) {
  struct Args {
    std::string model, tta = "none";
    std::vector<std::string> images;
    int top = 3;
  };
  auto a = std::make_shared<Args>();
  auto* cmd = app.add_subcommand("predict", "Classify image files with a saved model");
  cmd->add_option("--model", a->model, "Model file (.safetensors written by skinnet)")->required();
  cmd->add_option("--top", a->top, "How many classes to show")->capture_default_str()->check(CLI::Range(1, 1000));
  cmd->add_option("--tta", a->tta, "Test-time augmentation: none, flips or flips_rot90")->capture_default_str();
  cmd->add_option("images", a->images, "Image files (JPEG, PNG, BMP)")->required();
  cmd->callback([a] {
    LoadedModel m = load_saved_model(a->model);
    std::vector<std::filesystem::path> files(a->images.begin(), a->images.end());
    for (const auto& f : files) SKN_REQUIRE(std::filesystem::exists(f), IoError, f.string(), ": no such file");
    const Predictions p = predict_files(m, files, parse_tta(a->tta));
    const int k = p.num_classes;
    for (size_t i = 0; i < files.size(); ++i) {
      std::vector<int> order(static_cast<size_t>(k));
      for (int c = 0; c < k; ++c) order[static_cast<size_t>(c)] = c;
      const float* row = p.probs.data() + i * static_cast<size_t>(k);
      std::stable_sort(order.begin(), order.end(), [&](int x, int y) { return row[x] > row[y]; });
      std::printf("%s\n", files[i].string().c_str());
      for (int j = 0; j < std::min(a->top, k); ++j)
        std::printf("  %-28s %6.2f%%\n", m.info.class_names[static_cast<size_t>(order[static_cast<size_t>(j)])].c_str(),
                    100.0 * row[order[static_cast<size_t>(j)]]);
    }
  });
}

}  // namespace skinnet::cli
