#pragma once
// Model summaries: parameter counts, multiply-adds and a layer table, as `skinnet info --model NAME`
// prints them.
//
//   count_macs(module, input_shape)   multiply-accumulates of one forward pass, computed analytically
//                                     from the layer geometry (nothing is run)
//   summarize(model, image_size)      ModelSummary: totals plus one row per top-level child of
//                                     features(), with nested Sequentials (ResNet's layer1..4,
//                                     EfficientNet's blocks.<stage>) broken down to one row per block
//   format_summary(summary)           the table as text
//
// What counts as a multiply-add (the convention of the published figures: torchvision's "GFLOPS",
// fvcore, timm, the EfficientNet paper's "FLOPs" are all multiply-adds):
//   Conv2D            N * Ho * Wo * Cout * k * k * Cin
//   DepthwiseConv2D   N * Ho * Wo * C * k * k
//   Dense / SE fc     N * in * out            (the SE block's two 1x1 convolutions on pooled features)
//   everything else   0 (BatchNorm, activations, pooling, additions, the SE gate: elementwise work
//                     that the published numbers leave out)
// Reference figures at batch 1: resnet50 4.1 G at 224, efficientnet_b0 0.39 G at 224, xception 8.4 G at
// 299 (tests/cpu/test_summary.cpp). A floating-point operation count is twice the multiply-adds.
//
// The visitor knows the layer types by dynamic_cast; a module it does not know (a user's own layer)
// contributes 0 and is listed in ModelSummary::uncounted, so an incomplete count never passes silently.
#include <cstdint>
#include <cstdio>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "skinnet/layers/activation.hpp"
#include "skinnet/layers/batchnorm.hpp"
#include "skinnet/layers/conv2d.hpp"
#include "skinnet/layers/dense.hpp"
#include "skinnet/layers/depthwise_conv2d.hpp"
#include "skinnet/layers/drop_connect.hpp"
#include "skinnet/layers/dropout.hpp"
#include "skinnet/layers/flatten.hpp"
#include "skinnet/layers/global_avg_pool.hpp"
#include "skinnet/layers/mbconv.hpp"
#include "skinnet/layers/pool.hpp"
#include "skinnet/layers/residual.hpp"
#include "skinnet/layers/se_block.hpp"
#include "skinnet/layers/separable_conv2d.hpp"
#include "skinnet/layers/sequential.hpp"
#include "skinnet/models/classifier.hpp"

namespace skinnet {

namespace summary_detail {

inline int64_t spatial(const Shape& s) { return s.n() * s.h() * s.w(); }

// Multiply-adds of `m` on input `in`; unknown module names are appended to `uncounted`.
template <class D>
int64_t macs(Module<D>& m, const Shape& in, std::vector<std::string>& uncounted) {
  if (auto* c = dynamic_cast<Conv2D<D>*>(&m)) {
    const Shape out = c->output_shape(in);
    return spatial(out) * c->out_channels() * c->kernel() * c->kernel() * c->in_channels();
  }
  if (auto* dw = dynamic_cast<DepthwiseConv2D<D>*>(&m)) {
    const Shape out = dw->output_shape(in);
    return spatial(out) * dw->channels() * dw->kernel() * dw->kernel();
  }
  if (auto* sep = dynamic_cast<SeparableConv2D<D>*>(&m)) {
    const Shape mid = sep->depthwise().output_shape(in);
    return macs<D>(sep->depthwise(), in, uncounted) + macs<D>(sep->pointwise(), mid, uncounted);
  }
  if (auto* dense = dynamic_cast<Dense<D>*>(&m)) {
    const Shape& w = dense->weight().value.shape();  // [in, out]
    return in.numel() / w[0] * w[0] * w[1];
  }
  if (auto* se = dynamic_cast<SEBlock<D>*>(&m)) {
    // Two 1x1 convolutions on the pooled [N, C] vector: C -> Cr and Cr -> C.
    const Shape& w1 = se->reduce_weight().value.shape();  // [1, 1, C, Cr]
    return in.n() * 2 * w1[2] * w1[3];
  }
  if (auto* mb = dynamic_cast<MBConv<D>*>(&m)) {
    // MBConv keeps its layers private; its configuration fixes them (layers/mbconv.hpp).
    const MBConvConfig& c = mb->config();
    const Shape out = mb->output_shape(in);
    const int64_t mid = c.in_channels * c.expand_ratio;
    int64_t total = 0;
    if (c.expand_ratio != 1) total += spatial(in) * c.in_channels * mid;           // conv_pw
    total += spatial(out) * mid * c.kernel * c.kernel;                             // conv_dw
    if (c.se_ratio > 0) {
      const int64_t reduced =
          std::max<int64_t>(1, static_cast<int64_t>(static_cast<float>(c.in_channels) * c.se_ratio));
      total += in.n() * 2 * mid * reduced;                                         // se
    }
    total += spatial(out) * mid * c.out_channels;                                  // conv_pwl
    return total;
  }
  if (auto* seq = dynamic_cast<Sequential<D>*>(&m)) {
    int64_t total = 0;
    Shape s = in;
    for (size_t i = 0; i < seq->size(); ++i) {
      total += macs<D>(seq->child(i), s, uncounted);
      s = seq->child(i).output_shape(s);
    }
    return total;
  }
  if (auto* res = dynamic_cast<Residual<D>*>(&m)) {
    int64_t total = macs<D>(res->branch(), in, uncounted);
    if (res->shortcut()) total += macs<D>(*res->shortcut(), in, uncounted);
    return total;
  }
  if (auto* cls = dynamic_cast<Classifier<D>*>(&m)) {
    const Shape f = cls->features().output_shape(in);
    return macs<D>(cls->features(), in, uncounted) + macs<D>(cls->head(), Shape{f.n(), f.c()}, uncounted);
  }
  // Layers without multiply-adds in the published convention.
  if (dynamic_cast<BatchNorm<D>*>(&m) || dynamic_cast<Activation<D>*>(&m) || dynamic_cast<MaxPool2D<D>*>(&m) ||
      dynamic_cast<AvgPool2D<D>*>(&m) || dynamic_cast<GlobalAvgPool<D>*>(&m) || dynamic_cast<Dropout<D>*>(&m) ||
      dynamic_cast<DropConnect<D>*>(&m) || dynamic_cast<Flatten<D>*>(&m))
    return 0;
  uncounted.push_back(m.name());
  return 0;
}

}  // namespace summary_detail

// Multiply-accumulates of one forward pass of `m` on an input of shape `in`.
template <class D>
int64_t count_macs(Module<D>& m, const Shape& in) {
  std::vector<std::string> uncounted;
  const int64_t n = summary_detail::macs<D>(m, in, uncounted);
  SKN_REQUIRE(uncounted.empty(), ValueError, "count_macs: no multiply-add rule for ", uncounted.front(),
              " (add one to models/summary.hpp)");
  return n;
}

struct LayerRow {
  std::string name;         // dotted path, e.g. "layer2.0" or "blocks.3.1"
  std::string description;  // Module::name(), or the layers of a residual block
  int depth = 0;            // 0 = top-level child of features(), 1+ = a block inside it
  Shape output;
  int64_t parameters = 0;
  int64_t macs = 0;
};

struct ModelSummary {
  std::string architecture;
  Shape input;
  int64_t num_classes = 0;
  int64_t parameters = 0;   // trainable + frozen, buffers excluded
  int64_t trainable = 0;
  int64_t buffers = 0;      // BatchNorm running statistics (elements)
  int64_t macs = 0;         // whole model, batch 1
  std::vector<LayerRow> rows;
  std::vector<std::string> uncounted;  // modules with no MAC rule (their MACs are missing)
};

namespace summary_detail {

// A few words per layer, for the parts of a block's description.
template <class D>
std::string part(Module<D>& m) {
  const auto k = [](int64_t kernel, int64_t stride) {
    return std::to_string(kernel) + "x" + std::to_string(kernel) + (stride == 1 ? "" : "/" + std::to_string(stride));
  };
  if (auto* c = dynamic_cast<Conv2D<D>*>(&m)) return "conv" + k(c->kernel(), c->stride()) + " " + std::to_string(c->out_channels());
  if (auto* dw = dynamic_cast<DepthwiseConv2D<D>*>(&m)) return "dw" + k(dw->kernel(), dw->stride());
  if (auto* sep = dynamic_cast<SeparableConv2D<D>*>(&m))
    return "sep" + k(sep->depthwise().kernel(), sep->depthwise().stride()) + " " +
           std::to_string(sep->pointwise().out_channels());
  if (auto* se = dynamic_cast<SEBlock<D>*>(&m)) return "SE " + std::to_string(se->reduce_weight().value.shape()[3]);
  if (dynamic_cast<MaxPool2D<D>*>(&m)) return "maxpool";
  if (auto* seq = dynamic_cast<Sequential<D>*>(&m)) {
    std::string out;
    for (size_t i = 0; i < seq->size(); ++i) {
      const std::string p = part<D>(seq->child(i));
      if (!p.empty()) out += (out.empty() ? "" : ", ") + p;
    }
    return out;
  }
  return "";  // BatchNorm (activation fused), activations, drop-connect: not worth a word
}

// Module::name(), except for residual blocks, whose name says little ("Residual(Sequential(7) + ...)"):
// those list their branch and shortcut, e.g. "conv1x1 64, conv3x3 64, conv1x1 256, SE 16 + conv1x1 256".
template <class D>
std::string describe(Module<D>& m) {
  if (auto* res = dynamic_cast<Residual<D>*>(&m))
    return part<D>(res->branch()) + " + " + (res->shortcut() ? part<D>(*res->shortcut()) : std::string("identity"));
  if (auto* seq = dynamic_cast<Sequential<D>*>(&m)) {
    bool of_blocks = seq->size() > 0;  // a stage (ResNet layerN, EfficientNet blocks.S) or a list of stages
    for (size_t i = 0; i < seq->size(); ++i) {
      Module<D>& c = seq->child(i);
      of_blocks = of_blocks && (dynamic_cast<Residual<D>*>(&c) || dynamic_cast<MBConv<D>*>(&c) ||
                                dynamic_cast<Sequential<D>*>(&c));
    }
    return of_blocks ? std::to_string(seq->size()) + (seq->size() == 1 ? " block" : " blocks") : part<D>(*seq);
  }
  return m.name();
}

template <class D>
void add_rows(Module<D>& m, const std::string& name, int depth, const Shape& in, ModelSummary& s) {
  LayerRow row;
  row.name = name;
  row.description = describe<D>(m);
  row.depth = depth;
  row.output = m.output_shape(in);
  row.parameters = m.parameter_count();
  row.macs = macs<D>(m, in, s.uncounted);
  s.rows.push_back(row);
  // Containers of blocks (ResNet's stages, EfficientNet's "blocks" and its stages) are opened, one row
  // per child; a block itself (Residual, MBConv) is one row.
  if (auto* seq = dynamic_cast<Sequential<D>*>(&m)) {
    Shape x = in;
    for (size_t i = 0; i < seq->size(); ++i) {
      add_rows<D>(seq->child(i), name + "." + seq->child_name(i), depth + 1, x, s);
      x = seq->child(i).output_shape(x);
    }
  }
}

inline std::string with_commas(int64_t v) {
  std::string digits = std::to_string(v < 0 ? -v : v), out;
  for (size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return v < 0 ? "-" + out : out;
}

inline std::string mega(int64_t v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f M", static_cast<double>(v) / 1e6);
  return buf;
}

}  // namespace summary_detail

// Summary of `model` for one square image of side `image_size` (0: the model's default resolution).
template <class D>
ModelSummary summarize(Classifier<D>& model, int64_t image_size = 0) {
  ModelSummary s;
  s.architecture = model.config().architecture;
  s.num_classes = model.num_classes();
  const int64_t side = image_size > 0 ? image_size : model.config().input_size;
  s.input = Shape::nhwc(1, side, side, 3);
  s.parameters = model.parameter_count();
  s.trainable = model.trainable_parameter_count();
  for (auto& b : model.buffers()) s.buffers += b.value->numel();
  Sequential<D>& f = model.features();
  Shape x = s.input;
  for (size_t i = 0; i < f.size(); ++i) {
    summary_detail::add_rows<D>(f.child(i), f.child_name(i), 0, x, s);
    x = f.child(i).output_shape(x);
  }
  // The head: global average pool + dropout (no parameters) and the classifier.
  LayerRow head;
  head.name = model.config().classifier_name;
  head.description = "GlobalAvgPool -> " + model.head().name();
  head.output = Shape{1, s.num_classes};
  head.parameters = model.head().parameter_count();
  head.macs = summary_detail::macs<D>(model.head(), Shape{1, x.c()}, s.uncounted);
  s.rows.push_back(head);
  s.macs = summary_detail::macs<D>(model, s.input, s.uncounted);
  return s;
}

// The summary as a table; descriptions longer than `width` characters are cut with "...".
inline std::string format_summary(const ModelSummary& s, size_t width = 60) {
  using summary_detail::with_commas;
  std::ostringstream o;
  char line[512];
  o << s.architecture << ": " << s.num_classes << " classes, input " << s.input.str() << " (NHWC)\n";
  o << "  parameters  " << with_commas(s.parameters) << " (trainable " << with_commas(s.trainable)
    << "; plus " << with_commas(s.buffers) << " BatchNorm running statistics, not parameters)\n";
  std::snprintf(line, sizeof line, "  compute     %.3f G multiply-adds = %.3f GFLOPs per image (forward)\n",
                static_cast<double>(s.macs) / 1e9, 2.0 * static_cast<double>(s.macs) / 1e9);
  o << line;
  if (!s.uncounted.empty()) {
    o << "  warning: no multiply-add rule for";
    for (const auto& u : s.uncounted) o << " [" << u << "]";
    o << "; the compute figure leaves them out\n";
  }
  o << "\n";
  std::snprintf(line, sizeof line, "%-20s %-*s %-18s %14s %12s\n", "layer", static_cast<int>(width), "type",
                "output (NHWC)", "parameters", "MACs");
  o << line;
  o << std::string(20 + 1 + width + 1 + 18 + 1 + 14 + 1 + 12, '-') << "\n";
  for (const LayerRow& r : s.rows) {
    std::string name = std::string(static_cast<size_t>(2 * r.depth), ' ') + r.name;
    std::string desc = r.description;
    if (desc.size() > width) desc = desc.substr(0, width - 3) + "...";
    std::snprintf(line, sizeof line, "%-20s %-*s %-18s %14s %12s\n", name.c_str(), static_cast<int>(width),
                  desc.c_str(), r.output.str().c_str(), with_commas(r.parameters).c_str(),
                  summary_detail::mega(r.macs).c_str());
    o << line;
  }
  return o.str();
}

}  // namespace skinnet
