// Loads a model saved by skinnet and classifies one image: the smallest program embedding skinnet.
//   classify_image runs/NAME/best.safetensors lesion.jpg   ->   one "class probability" line per class
#include <cstdio>
#include <exception>

#include <skinnet/models/saved_model.hpp>

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: %s MODEL.safetensors IMAGE\n", argv[0]);
    return 2;
  }
  try {
    auto model = skinnet::load_saved_model<skinnet::Cpu>(argv[1]);  // architecture, classes, weights
    for (const auto& [name, p] : skinnet::classify_image(model, argv[2], 3)) std::printf("%s %.4f\n", name.c_str(), p);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}
