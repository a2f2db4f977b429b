// Model summaries (models/summary.hpp): multiply-add counts against the published figures and against
// a count written out by hand, and the layer table's rows adding up to the model.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "skinnet/models/summary.hpp"
#include "skinnet/models/zoo.hpp"

using namespace skinnet;

TEST_CASE("summary: multiply-adds match the published figures for resnet50, efficientnet_b0, xception") {
  // torchvision's table (resnet50 4.09 G at 224), the EfficientNet paper (B0 0.39 B FLOPs, i.e.
  // multiply-adds, at 224) and the Xception paper / Keras (8.4 G at 299); batch 1, 1000 classes.
  struct Ref {
    const char* model;
    int64_t size;
    double gmacs;
    double tolerance;  // relative: the published numbers carry two or three significant digits
  };
  const Ref refs[] = {{"resnet50", 224, 4.09, 0.01}, {"efficientnet_b0", 224, 0.39, 0.02}, {"xception", 299, 8.4, 0.02}};
  for (const Ref& r : refs) {
    const std::string model_name = r.model;
    CAPTURE(model_name);
    auto m = create_model<Cpu>(r.model, 1000);
    const double g = static_cast<double>(count_macs<Cpu>(*m, Shape::nhwc(1, r.size, r.size, 3))) / 1e9;
    MESSAGE(model_name, ": ", g, " G multiply-adds at ", r.size);
    CHECK(g == doctest::Approx(r.gmacs).epsilon(r.tolerance));
    // Multiply-adds grow with the batch, exactly.
    CHECK(count_macs<Cpu>(*m, Shape::nhwc(3, r.size, r.size, 3)) == 3 * count_macs<Cpu>(*m, Shape::nhwc(1, r.size, r.size, 3)));
  }
}

TEST_CASE("summary: simple_cnn multiply-adds equal a count written out by hand") {
  // Four stages of 3x3 same conv (no bias) + BN + ReLU + 2x2 max pool, widths 32, 64, 128, 256; fc 256 -> 5.
  auto m = create_model<Cpu>("simple_cnn", 5);
  const int64_t s = 48;
  int64_t want = 0, side = s, cin = 3;
  for (int64_t cout : {32, 64, 128, 256}) {
    want += side * side * cout * 3 * 3 * cin;
    side /= 2;
    cin = cout;
  }
  want += 256 * 5;
  CHECK(count_macs<Cpu>(*m, Shape::nhwc(1, s, s, 3)) == want);
}

TEST_CASE("summary: an SE bottleneck and an MBConv block are counted layer by layer") {
  // seresnet50's first block at 56x56, input 64 channels: conv1 1x1 64->64, conv2 3x3 64->64, conv3 1x1
  // 64->256, SE 256->16->256 on the pooled vector, downsample 1x1 64->256.
  auto se = create_model<Cpu>("seresnet50", 1000);
  Sequential<Cpu>* layer1 = nullptr;
  for (size_t i = 0; i < se->features().size(); ++i)
    if (se->features().child_name(i) == "layer1") layer1 = dynamic_cast<Sequential<Cpu>*>(&se->features().child(i));
  REQUIRE(layer1 != nullptr);
  const int64_t hw = 56 * 56;
  const int64_t want_block = hw * 64 * 64 + hw * 64 * 9 * 64 + hw * 64 * 256 + 2 * 256 * 16 + hw * 64 * 256;
  CHECK(count_macs<Cpu>(layer1->child(0), Shape::nhwc(1, 56, 56, 64)) == want_block);

  // efficientnet_b0 blocks.1.0: MBConv6 k3/2 16->24 at 112x112: expand 16->96, depthwise 3x3 stride 2
  // (56x56 out), SE 96->4->96 (1/4 of the 16 input channels), project 96->24.
  auto b0 = create_model<Cpu>("efficientnet_b0", 1000);
  Sequential<Cpu>* blocks = nullptr;
  for (size_t i = 0; i < b0->features().size(); ++i)
    if (b0->features().child_name(i) == "blocks") blocks = dynamic_cast<Sequential<Cpu>*>(&b0->features().child(i));
  REQUIRE(blocks != nullptr);
  auto* stage1 = dynamic_cast<Sequential<Cpu>*>(&blocks->child(1));
  REQUIRE(stage1 != nullptr);
  const int64_t want_mb = 112 * 112 * 16 * 96 + 56 * 56 * 96 * 9 + 2 * 96 * 4 + 56 * 56 * 96 * 24;
  CHECK(count_macs<Cpu>(stage1->child(0), Shape::nhwc(1, 112, 112, 16)) == want_mb);
}

TEST_CASE("summary: the layer table adds up to the model and breaks stages into blocks") {
  auto m = create_model<Cpu>("resnet50", 7);
  const ModelSummary s = summarize<Cpu>(*m, 224);
  CHECK(s.parameters == m->parameter_count());
  CHECK(s.trainable == s.parameters);
  CHECK(s.buffers == 2 * 26560);  // running mean + var over all 53 BatchNorms' 26,560 channels
  CHECK(s.uncounted.empty());
  int64_t params = 0, macs = 0;
  std::vector<std::string> top, blocks;
  for (const LayerRow& r : s.rows) {
    if (r.depth == 0) {
      params += r.parameters;
      macs += r.macs;
      top.push_back(r.name);
    } else {
      blocks.push_back(r.name);
    }
  }
  CHECK(params == s.parameters);
  CHECK(macs == s.macs);
  CHECK(top == std::vector<std::string>{"conv1", "bn1", "maxpool", "layer1", "layer2", "layer3", "layer4", "fc"});
  CHECK(blocks.size() == 3 + 4 + 6 + 3);
  CHECK(blocks.front() == "layer1.0");
  CHECK(blocks.back() == "layer4.2");
  for (const LayerRow& r : s.rows) {
    if (r.name == "layer4") CHECK(r.output == Shape::nhwc(1, 7, 7, 2048));
    if (r.name == "fc") CHECK(r.output == Shape{1, 7});
  }
  const std::string text = format_summary(s);
  CHECK(text.find("23,522,375") != std::string::npos);  // resnet50 with a 7-class head
  CHECK(text.find("layer3.5") != std::string::npos);

  // EfficientNet: "blocks" opens into stages, each stage into its MBConv blocks.
  auto b0 = create_model<Cpu>("efficientnet_b0", 1000);
  const ModelSummary e = summarize<Cpu>(*b0);
  CHECK(e.input == Shape::nhwc(1, 224, 224, 3));
  int mbconv_rows = 0;
  for (const LayerRow& r : e.rows) mbconv_rows += r.depth == 2;
  CHECK(mbconv_rows == 16);
}

namespace {
template <class D>
class Opaque : public Module<D> {  // a user's layer the summary has no rule for
 public:
  Tensor<D> forward(const Tensor<D>& x, Mode) override { return x.clone(); }
  Tensor<D> backward(const Tensor<D>& dy) override { return dy.clone(); }
  std::string name() const override { return "Opaque"; }
  Shape output_shape(const Shape& in) const override { return in; }
};
}  // namespace

TEST_CASE("summary: a layer without a multiply-add rule is an error, not a silent zero") {
  Sequential<Cpu> seq;
  seq.add("conv", std::make_unique<Conv2D<Cpu>>(3, 4, 3, 1, Padding::same(), false, 1));
  seq.add("mystery", std::make_unique<Opaque<Cpu>>());
  CHECK_THROWS_WITH_AS(count_macs<Cpu>(seq, Shape::nhwc(1, 8, 8, 3)), doctest::Contains("Opaque"), ValueError);
}
