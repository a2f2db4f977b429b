// The model zoo: exact parameter counts (the research references), shapes, forward + backward of every
// family on the CPU, gradients reaching every parameter, and an overfit check.
#include <doctest/doctest.h>

#include <unistd.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "skinnet/io/model_file.hpp"
#include "skinnet/models/zoo.hpp"
#include "skinnet/train/loss.hpp"

using namespace skinnet;

namespace {

Tensor<Cpu> random_images(int64_t n, int64_t size, uint64_t seed) {
  std::vector<float> v(static_cast<size_t>(n * size * size * 3));
  for (size_t i = 0; i < v.size(); ++i) v[i] = 2.f * philox_uniform(seed, 99, 0, i) - 1.f;
  return Tensor<Cpu>::from_vector(Shape::nhwc(n, size, size, 3), v);
}

// Options without randomness in the forward pass (no dropout, no drop-connect): two steps on the same
// batch compute the same sums.
ModelOptions deterministic_options(uint64_t seed) {
  ModelOptions opt;
  opt.seed = seed;
  opt.drop_connect = 0;
  opt.dropout = 0;
  return opt;
}

// One training step's gradients on a fixed batch: forward in training mode, the loss, gradients
// zeroed, backward. Returns dL/dx (empty when the model was told not to compute it).
Tensor<Cpu> train_backward(Classifier<Cpu>& m, const Tensor<Cpu>& x, const std::vector<int32_t>& labels) {
  SoftmaxCrossEntropy<Cpu> loss;
  loss.forward(m.forward(x, Mode::Train), labels);
  m.zero_grad();
  return m.backward(loss.backward());
}

bool all_finite(const Tensor<Cpu>& t) {
  for (float x : t.to_vector())
    if (!std::isfinite(x)) return false;
  return true;
}

}  // namespace

TEST_CASE("zoo: parameter counts equal the published references, 1000 classes") {
  // torchvision resnet50, timm seresnet50, Keras Xception (trainable), Keras/torchvision EfficientNet.
  const std::pair<const char*, int64_t> refs[] = {
      {"resnet50", 25557032},        {"seresnet50", 28088024},      {"xception", 22855952},
      {"efficientnet_b0", 5288548},  {"efficientnet_b1", 7794184},  {"efficientnet_b2", 9109994},
      {"efficientnet_b3", 12233232}, {"efficientnet_b4", 19341616}, {"efficientnet_b5", 30389784},
      {"efficientnet_b6", 43040704}, {"efficientnet_b7", 66347960}, {"resnet18", 11689512},
      {"resnet34", 21797672}};
  for (const auto& [name, count] : refs) {
    CAPTURE(name);
    auto m = create_model<Cpu>(name, 1000);
    CHECK(m->parameter_count() == count);
    CHECK(m->trainable_parameter_count() == count);
  }
}

TEST_CASE("zoo: 7-class heads and buffers are not parameters") {
  CHECK(create_model<Cpu>("seresnet50", 7)->parameter_count() == 26053367);
  CHECK(create_model<Cpu>("xception", 7)->parameter_count() == 20821295);
  auto b0 = create_model<Cpu>("efficientnet_b0", 7);
  CHECK(b0->parameter_count() == 4016515);
  int64_t buffer_elems = 0;
  for (auto& b : b0->buffers()) buffer_elems += b.value->numel();
  CHECK(buffer_elems > 0);  // running statistics exist ...
  bool has_running = false;
  for (auto& p : b0->parameters()) has_running = has_running || p.name.find("running") != std::string::npos;
  CHECK_FALSE(has_running);  // ... but are never parameters
}

TEST_CASE("zoo: timm parameter names") {
  auto names_of = [](Classifier<Cpu>& m) {
    std::vector<std::string> n;
    for (auto& p : m.parameters()) n.push_back(p.name);
    return n;
  };
  auto has = [](const std::vector<std::string>& v, const std::string& s) {
    return std::find(v.begin(), v.end(), s) != v.end();
  };
  auto se = create_model<Cpu>("seresnet50", 7);
  auto sn = names_of(*se);
  CHECK(has(sn, "conv1.weight"));
  CHECK(has(sn, "layer1.0.se.fc1.weight"));
  CHECK(has(sn, "layer1.0.downsample.0.weight"));
  CHECK(has(sn, "layer4.2.bn3.bias"));
  CHECK(has(sn, "fc.weight"));
  auto ef = create_model<Cpu>("efficientnet_b0", 7);
  auto en = names_of(*ef);
  CHECK(has(en, "conv_stem.weight"));
  CHECK(has(en, "blocks.0.0.conv_dw.weight"));
  CHECK(has(en, "blocks.0.0.se.conv_reduce.bias"));
  CHECK(has(en, "blocks.1.0.conv_pwl.weight"));
  CHECK(has(en, "conv_head.weight"));
  CHECK(has(en, "classifier.bias"));
  auto xc = create_model<Cpu>("xception", 7);
  auto xn = names_of(*xc);
  CHECK(has(xn, "block1.skip.weight"));
  CHECK(has(xn, "block1.rep.0.conv1.weight"));
  CHECK(has(xn, "block1.rep.0.pointwise.weight"));
  CHECK(has(xn, "block2.rep.1.pointwise.weight"));
  CHECK(has(xn, "block4.rep.7.pointwise.weight"));
  CHECK(has(xn, "block4.rep.8.weight"));
  CHECK(has(xn, "conv4.pointwise.weight"));
  CHECK(has(xn, "bn4.weight"));
}

TEST_CASE("zoo: feature widths and output shapes at default resolutions") {
  struct Case {
    const char* name;
    int64_t size, spatial, features;
  };
  for (const Case& c : {Case{"resnet50", 224, 7, 2048}, Case{"seresnet50", 224, 7, 2048},
                        Case{"xception", 299, 10, 2048}, Case{"efficientnet_b0", 224, 7, 1280},
                        Case{"efficientnet_b3", 300, 10, 1536}, Case{"efficientnet_b7", 600, 19, 2560}}) {
    CAPTURE(c.name);
    auto m = create_model<Cpu>(c.name, 7);
    CHECK(m->config().input_size == c.size);
    CHECK(m->num_features() == c.features);
    const Shape in = Shape::nhwc(2, c.size, c.size, 3);
    CHECK(m->features().output_shape(in) == Shape::nhwc(2, c.spatial, c.spatial, c.features));
    CHECK(m->output_shape(in) == Shape{2, 7});
  }
  CHECK_THROWS_AS(create_model<Cpu>("resnet51", 7), ValueError);
  CHECK_THROWS_WITH_AS(create_model<Cpu>("efficientnet_b9", 7), doctest::Contains("available"), ValueError);
  CHECK_THROWS_AS(create_model<Cpu>("simple_cnn", 0), ValueError);
}

TEST_CASE("zoo: forward and backward of every family on the CPU reach every parameter") {
  struct Case {
    const char* name;
    int64_t size;
  };
  for (const Case& c : {Case{"simple_cnn", 32}, Case{"seresnet18", 48}, Case{"seresnet50", 48},
                        Case{"xception", 48}, Case{"efficientnet_b0", 48}}) {
    CAPTURE(c.name);
    ModelOptions opt;
    opt.seed = 3;
    opt.drop_connect = 0;  // a dropped branch would (correctly) get no gradient in this one step
    opt.dropout = 0;
    auto m = create_model<Cpu>(c.name, 5, opt);
    Tensor<Cpu> x = random_images(3, c.size, 11);
    Tensor<Cpu> logits = m->forward(x, Mode::Train);
    REQUIRE(logits.shape() == Shape{3, 5});
    CHECK(all_finite(logits));
    SoftmaxCrossEntropy<Cpu> loss;
    const float l = loss.forward(logits, {0, 3, 4});
    CHECK(std::isfinite(l));
    m->zero_grad();
    Tensor<Cpu> dx = m->backward(loss.backward());
    CHECK(dx.shape() == x.shape());
    CHECK(all_finite(dx));
    int zero_grads = 0;
    for (auto& p : m->parameters()) {
      const auto g = p.param->grad.to_vector();
      bool nonzero = false, finite = true;
      for (float v : g) {
        finite = finite && std::isfinite(v);
        nonzero = nonzero || v != 0.f;
      }
      CHECK_MESSAGE(finite, "non-finite gradient in " << p.name);
      if (!nonzero) {
        ++zero_grads;
        MESSAGE("no gradient reached " << p.name);
      }
    }
    CHECK(zero_grads == 0);
    // Inference is deterministic and caches nothing that changes the result.
    Tensor<Cpu> a = m->forward(x, Mode::Infer);
    Tensor<Cpu> b = m->forward(x, Mode::Infer);
    CHECK(a.to_vector() == b.to_vector());
  }
}

TEST_CASE("zoo: set_input_grad(false) skips dL/dimages and leaves every parameter gradient unchanged") {
  for (const char* name : {"simple_cnn", "seresnet18", "xception", "efficientnet_b0"}) {
    CAPTURE(name);
    auto m = create_model<Cpu>(name, 3, deterministic_options(4));
    const Tensor<Cpu> x = random_images(2, 40, 13);
    auto step = [&] {
      Tensor<Cpu> dx = train_backward(*m, x, {2, 0});
      std::vector<std::vector<float>> grads;
      for (auto& p : m->parameters()) grads.push_back(p.param->grad.to_vector());
      return std::pair{std::move(dx), std::move(grads)};
    };
    auto [dx_full, grads_full] = step();
    CHECK(dx_full.shape() == x.shape());
    m->set_input_grad(false);
    auto [dx_none, grads_none] = step();
    CHECK(dx_none.empty());
    CHECK(grads_none == grads_full);  // bit for bit: the same sums, only dL/dx is not computed
    m->set_input_grad(true);
    auto [dx_again, grads_again] = step();
    CHECK(dx_again.to_vector() == dx_full.to_vector());
  }
}

TEST_CASE("zoo: a frozen backbone without input gradient skips the backbone's backward, head gradients unchanged") {
  auto m = create_model<Cpu>("efficientnet_b0", 3, deterministic_options(6));
  const Tensor<Cpu> x = random_images(2, 40, 17);
  auto step = [&] {
    Tensor<Cpu> dx = train_backward(*m, x, {1, 2});
    std::vector<float> head = m->head().weight().grad.to_vector();
    double backbone = 0;  // sum of |gradient| over the backbone
    std::vector<NamedParameter<Cpu>> ps;
    m->features().collect_parameters("", ps);
    for (auto& p : ps)
      for (float v : p.param->grad.to_vector()) backbone += std::fabs(v);
    return std::tuple{std::move(dx), std::move(head), backbone};
  };
  auto [dx_full, head_full, backbone_full] = step();
  CHECK(backbone_full > 0);
  m->set_backbone_trainable(false);
  auto [dx_frozen, head_frozen, backbone_frozen] = step();  // dL/dimages still wanted: full backward
  CHECK(dx_frozen.to_vector() == dx_full.to_vector());
  CHECK(backbone_frozen == backbone_full);
  m->set_input_grad(false);
  auto [dx_none, head_none, backbone_none] = step();
  CHECK(dx_none.empty());
  CHECK(backbone_none == 0);
  CHECK(head_none == head_full);
  m->set_backbone_trainable(true);  // unfrozen again: the backbone learns, the stem skips only dL/dimages
  auto [dx_last, head_last, backbone_last] = step();
  CHECK(dx_last.empty());
  CHECK(backbone_last == backbone_full);
}

TEST_CASE("zoo: a model overfits one small fixed batch") {
  ModelOptions opt;
  opt.seed = 5;
  opt.dropout = 0;
  opt.width_multiplier = 0.5;
  auto m = create_model<Cpu>("simple_cnn", 4, opt);
  Tensor<Cpu> x = random_images(8, 32, 21);
  const std::vector<int32_t> y = {0, 1, 2, 3, 3, 2, 1, 0};
  SoftmaxCrossEntropy<Cpu> loss;
  float first = 0, last = 0;
  for (int step = 0; step < 60; ++step) {
    m->zero_grad();
    last = loss.forward(m->forward(x, Mode::Train), y);
    if (step == 0) first = last;
    m->backward(loss.backward());
    for (auto& p : m->parameters()) {  // plain SGD, lr 0.05
      float* w = p.param->value.data();
      const float* g = p.param->grad.data();
      for (int64_t i = 0; i < p.param->value.numel(); ++i) w[i] -= 0.05f * g[i];
    }
  }
  MESSAGE("overfit loss " << first << " -> " << last);
  CHECK(first > 1.0f);
  CHECK(last < 0.1f);
}

TEST_CASE("zoo: save then load gives bit-identical logits") {
  namespace fs = std::filesystem;
  const fs::path dir = fs::temp_directory_path() / ("skinnet_zoo_roundtrip_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  for (const char* name : {"seresnet18", "xception", "efficientnet_b0"}) {
    CAPTURE(name);
    ModelOptions opt;
    opt.seed = 12;
    opt.width_multiplier = 0.25;
    auto m = create_model<Cpu>(name, 4, opt);
    // One training step so BatchNorm statistics are not their initial values.
    Tensor<Cpu> x = random_images(2, 48, 8);
    m->forward(x, Mode::Train);
    const auto before = m->forward(x, Mode::Infer).to_vector();
    io::ModelInfo info;
    info.architecture = name;
    info.class_names = {"a", "b", "c", "d"};
    info.input_size = 48;
    const fs::path file = dir / (std::string(name) + ".safetensors");
    io::save_model(file, *m, info);
    ModelOptions other = opt;
    other.seed = 99;  // different initial weights: everything must come from the file
    auto loaded = create_model<Cpu>(name, 4, other);
    io::load_model(file, *loaded);
    const auto after = loaded->forward(x, Mode::Infer).to_vector();
    REQUIRE(after.size() == before.size());
    CHECK(std::memcmp(after.data(), before.data(), after.size() * sizeof(float)) == 0);
  }
  fs::remove_all(dir);
}
