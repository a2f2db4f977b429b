// Sequential and Residual: parameter/buffer names prefixed as timm's state_dict keys, and a whole
// composed network — an SE-ResNet-style residual block with a projection shortcut and post-ReLU, then
// pooling, a classifier and the loss — checked end to end: its float64 reference composition passes a
// central-difference gradient check, and the CPU layers match it (loss, dx, every parameter gradient,
// running statistics). Two identical runs are bit-identical.
#include <doctest/doctest.h>

#include <map>
#include <string>
#include <vector>

#include "reference/activation.hpp"
#include "reference/batchnorm.hpp"
#include "reference/check.hpp"
#include "reference/dense.hpp"
#include "reference/gradcheck.hpp"
#include "reference/pool_global.hpp"
#include "reference/se.hpp"
#include "reference/softmax_ce.hpp"
#include "skinnet/layers/activation.hpp"
#include "skinnet/layers/batchnorm.hpp"
#include "skinnet/layers/dense.hpp"
#include "skinnet/layers/dropout.hpp"
#include "skinnet/layers/flatten.hpp"
#include "skinnet/layers/drop_connect.hpp"
#include "skinnet/layers/global_avg_pool.hpp"
#include "skinnet/layers/residual.hpp"
#include "skinnet/layers/se_block.hpp"
#include "skinnet/layers/sequential.hpp"
#include "skinnet/train/loss.hpp"
#include "test_util.hpp"

using namespace skinnet;
using namespace skinnet::test;

namespace {

// The network under test, sizes small enough for a full gradient check.
constexpr int64_t N = 2, H = 3, W = 5, HW = H * W, C = 4, F = 6, C2 = 5, CR = 3, K = 3, ROWS = N * HW;
constexpr double kEps = 1e-3;

// Parameter table: (timm-style name, element count), in the order the CPU model lists them.
const std::vector<std::pair<std::string, int64_t>> kParams = {
    {"layer1.conv1.weight", C * F},   {"layer1.conv1.bias", F},       {"layer1.bn1.weight", F},
    {"layer1.bn1.bias", F},           {"layer1.conv2.weight", F * C2}, {"layer1.conv2.bias", C2},
    {"layer1.bn2.weight", C2},        {"layer1.bn2.bias", C2},         {"layer1.se.fc1.weight", C2 * CR},
    {"layer1.se.fc1.bias", CR},       {"layer1.se.fc2.weight", CR * C2}, {"layer1.se.fc2.bias", C2},
    {"layer1.downsample.0.weight", C * C2}, {"layer1.downsample.1.weight", C2}, {"layer1.downsample.1.bias", C2},
    {"fc.weight", C2 * K},            {"fc.bias", K}};

// Flat parameter vector <-> named pieces.
struct Params {
  std::map<std::string, std::vector<double>> by_name;
  static Params unpack(const std::vector<double>& flat) {
    Params p;
    size_t off = 0;
    for (const auto& [name, n] : kParams) {
      p.by_name[name].assign(flat.begin() + off, flat.begin() + off + n);
      off += n;
    }
    return p;
  }
  const std::vector<double>& operator[](const std::string& n) const { return by_name.at(n); }
};
int64_t total_params() {
  int64_t t = 0;
  for (const auto& p : kParams) t += p.second;
  return t;
}

const std::vector<int> kLabels = {2, 0};

// Reference composition. Returns the loss; fills gradients when asked.
struct RefResult {
  double loss;
  std::vector<double> dx, dparams, running;  // running: bn1, bn2, downsample.1 means then vars
};
RefResult ref_network(const std::vector<double>& x, const std::vector<double>& flat, bool grads) {
  const Params p = Params::unpack(flat);
  using ref::RefAct;
  const std::vector<double> zeros_f(F, 0.0), ones_f(F, 1.0), zeros_c(C2, 0.0), ones_c(C2, 1.0);
  // branch
  const auto d1 = ref::dense_forward(x, ROWS, C, F, p["layer1.conv1.weight"], p["layer1.conv1.bias"]);
  const auto bn1 = ref::batchnorm_train(d1, ROWS, F, p["layer1.bn1.weight"], p["layer1.bn1.bias"], zeros_f, ones_f,
                                        0.1, kEps, RefAct::ReLU);
  const auto d2 = ref::dense_forward(bn1.y, ROWS, F, C2, p["layer1.conv2.weight"], p["layer1.conv2.bias"]);
  const auto bn2 = ref::batchnorm_train(d2, ROWS, C2, p["layer1.bn2.weight"], p["layer1.bn2.bias"], zeros_c, ones_c,
                                        0.1, kEps, RefAct::None);
  const ref::SEParams se{C2, CR, RefAct::ReLU, p["layer1.se.fc1.weight"], p["layer1.se.fc1.bias"],
                         p["layer1.se.fc2.weight"], p["layer1.se.fc2.bias"]};
  const auto s = ref::se_forward(bn2.y, N, HW, se).y;
  // shortcut
  const auto e = ref::dense_forward(x, ROWS, C, C2, p["layer1.downsample.0.weight"], {});
  const auto bns = ref::batchnorm_train(e, ROWS, C2, p["layer1.downsample.1.weight"], p["layer1.downsample.1.bias"],
                                        zeros_c, ones_c, 0.1, kEps, RefAct::None);
  std::vector<double> z(s.size());
  for (size_t i = 0; i < z.size(); ++i) z[i] = s[i] + bns.y[i];
  const auto y = ref::activation_forward(RefAct::ReLU, z);
  // head
  const auto pooled = ref::global_avg_pool(y, N, HW, C2);
  const auto logits = ref::dense_forward(pooled, N, C2, K, p["fc.weight"], p["fc.bias"]);
  const auto ce = ref::softmax_cross_entropy(logits, N, K, kLabels, {}, 0.1);
  RefResult r{ce.loss, {}, {}, {}};
  for (const auto* b : {&bn1, &bn2, &bns}) r.running.insert(r.running.end(), b->running_mean.begin(), b->running_mean.end());
  for (const auto* b : {&bn1, &bn2, &bns}) r.running.insert(r.running.end(), b->running_var.begin(), b->running_var.end());
  if (!grads) return r;

  std::map<std::string, std::vector<double>> g;
  const auto gfc = ref::dense_backward(pooled, N, C2, K, p["fc.weight"], ce.dlogits);
  g["fc.weight"] = gfc.dw;
  g["fc.bias"] = gfc.db;
  const auto dy = ref::global_avg_pool_backward(gfc.dx, N, HW, C2);
  const auto dz = ref::activation_backward(RefAct::ReLU, z, dy);
  const auto gse = ref::se_backward(bn2.y, N, HW, se, dz);
  g["layer1.se.fc1.weight"] = gse.dw1;
  g["layer1.se.fc1.bias"] = gse.db1;
  g["layer1.se.fc2.weight"] = gse.dw2;
  g["layer1.se.fc2.bias"] = gse.db2;
  const auto gbn2 = ref::batchnorm_train_backward(d2, ROWS, C2, p["layer1.bn2.weight"], p["layer1.bn2.bias"], kEps,
                                                  RefAct::None, gse.dx);
  g["layer1.bn2.weight"] = gbn2.dgamma;
  g["layer1.bn2.bias"] = gbn2.dbeta;
  const auto gc2 = ref::dense_backward(bn1.y, ROWS, F, C2, p["layer1.conv2.weight"], gbn2.dx);
  g["layer1.conv2.weight"] = gc2.dw;
  g["layer1.conv2.bias"] = gc2.db;
  const auto gbn1 = ref::batchnorm_train_backward(d1, ROWS, F, p["layer1.bn1.weight"], p["layer1.bn1.bias"], kEps,
                                                  RefAct::ReLU, gc2.dx);
  g["layer1.bn1.weight"] = gbn1.dgamma;
  g["layer1.bn1.bias"] = gbn1.dbeta;
  const auto gc1 = ref::dense_backward(x, ROWS, C, F, p["layer1.conv1.weight"], gbn1.dx);
  g["layer1.conv1.weight"] = gc1.dw;
  g["layer1.conv1.bias"] = gc1.db;
  const auto gbns = ref::batchnorm_train_backward(e, ROWS, C2, p["layer1.downsample.1.weight"],
                                                  p["layer1.downsample.1.bias"], kEps, RefAct::None, dz);
  g["layer1.downsample.1.weight"] = gbns.dgamma;
  g["layer1.downsample.1.bias"] = gbns.dbeta;
  const auto gds = ref::dense_backward(x, ROWS, C, C2, p["layer1.downsample.0.weight"], gbns.dx);
  g["layer1.downsample.0.weight"] = gds.dw;
  r.dx = gc1.dx;
  for (size_t i = 0; i < r.dx.size(); ++i) r.dx[i] += gds.dx[i];
  for (const auto& [name, n] : kParams) r.dparams.insert(r.dparams.end(), g[name].begin(), g[name].end());
  return r;
}

// The same network from skinnet layers.
std::unique_ptr<Sequential<Cpu>> build_network() {
  auto branch = std::make_unique<Sequential<Cpu>>();
  branch->emplace<Dense<Cpu>>("conv1", C, F);
  branch->emplace<BatchNorm<Cpu>>("bn1", F, static_cast<float>(kEps), 0.1f, Act::ReLU);
  branch->emplace<Dense<Cpu>>("conv2", F, C2);
  branch->emplace<BatchNorm<Cpu>>("bn2", C2, static_cast<float>(kEps), 0.1f);
  branch->emplace<SEBlock<Cpu>>("se", C2, CR, Act::ReLU, SENames::resnet());
  auto shortcut = std::make_unique<Sequential<Cpu>>();
  shortcut->add(std::make_unique<Dense<Cpu>>(C, C2, false));
  shortcut->add(std::make_unique<BatchNorm<Cpu>>(C2, static_cast<float>(kEps), 0.1f));
  auto net = std::make_unique<Sequential<Cpu>>();
  net->add("layer1", std::make_unique<Residual<Cpu>>(std::move(branch), std::move(shortcut), Act::ReLU));
  net->emplace<GlobalAvgPool<Cpu>>("pool");
  net->emplace<Dense<Cpu>>("fc", C2, K);
  return net;
}

std::vector<double> random_params() {
  auto flat = rounded(ref::random_vector(static_cast<size_t>(total_params()), 77, -0.9, 0.9));
  // BN gammas near 1 (as initialised), so no channel is switched off by a tiny scale.
  Params p = Params::unpack(flat);
  size_t off = 0;
  for (const auto& [name, n] : kParams) {
    if (name.find("bn") != std::string::npos || name.find("downsample.1") != std::string::npos)
      if (name.ends_with(".weight"))
        for (int64_t i = 0; i < n; ++i) flat[off + i] = static_cast<float>(1.0 + 0.3 * flat[off + i]);
    off += n;
  }
  return flat;
}
}  // namespace

TEST_CASE("Composed network reference: central-difference gradients for the input and every parameter") {
  const auto x = ref::random_vector(ROWS * C, 5, -1.5, 1.5);
  const auto flat = random_params();
  const auto r = ref_network(x, flat, true);
  SKN_CHECK_GRAD(ref::grad_check([&](const std::vector<double>& v) { return ref_network(v, flat, false).loss; }, x,
                                 r.dx, "network dx", 1e-6, 1e-8, 1e-4));
  SKN_CHECK_GRAD(ref::grad_check([&](const std::vector<double>& v) { return ref_network(x, v, false).loss; }, flat,
                                 r.dparams, "network dparams", 1e-6, 1e-8, 1e-4));
}

TEST_CASE("Composed network on the CPU matches the reference composition: names, loss, all gradients") {
  const auto x = rounded(ref::random_vector(ROWS * C, 5, -1.5, 1.5));
  const auto flat = random_params();
  const auto want = ref_network(x, flat, true);

  auto net = build_network();
  auto params = net->parameters();
  REQUIRE(params.size() == kParams.size());
  size_t off = 0;
  for (size_t i = 0; i < params.size(); ++i) {
    CHECK(params[i].name == kParams[i].first);
    REQUIRE(params[i].param->value.numel() == kParams[i].second);
    std::vector<double> piece(flat.begin() + off, flat.begin() + off + kParams[i].second);
    params[i].param->value = to_tensor(params[i].param->value.shape(), piece);
    off += kParams[i].second;
  }
  CHECK(net->parameter_count() == total_params());

  SoftmaxCrossEntropy<Cpu> loss({0.1f, {}});
  const Shape xs{N, H, W, C};
  CHECK(net->output_shape(xs) == Shape{N, K});
  auto logits = net->forward(to_tensor(xs, x), Mode::Train);
  const float l = loss.forward(logits, {2, 0});
  CHECK(l == doctest::Approx(want.loss).epsilon(1e-5));
  net->zero_grad();
  auto dx = net->backward(loss.backward());
  SKN_CHECK_CLOSE(dx.to_vector(), want.dx, 1e-6, 2e-4);
  off = 0;
  for (size_t i = 0; i < params.size(); ++i) {
    CAPTURE(params[i].name);
    std::vector<double> piece(want.dparams.begin() + off, want.dparams.begin() + off + kParams[i].second);
    SKN_CHECK_CLOSE(params[i].param->grad.to_vector(), piece, 1e-6, 2e-4);
    off += kParams[i].second;
  }
  // Buffers: names prefixed like parameters, running statistics as the reference computed them.
  auto bufs = net->buffers();
  const std::vector<std::string> bn_names = {"layer1.bn1.", "layer1.bn2.", "layer1.downsample.1."};
  REQUIRE(bufs.size() == 6);
  std::vector<double> running_means, running_vars;
  for (size_t i = 0; i < 3; ++i) {
    CHECK(bufs[2 * i].name == bn_names[i] + "running_mean");
    CHECK(bufs[2 * i + 1].name == bn_names[i] + "running_var");
    auto m = bufs[2 * i].value->to_vector();
    auto v = bufs[2 * i + 1].value->to_vector();
    running_means.insert(running_means.end(), m.begin(), m.end());
    running_vars.insert(running_vars.end(), v.begin(), v.end());
  }
  running_means.insert(running_means.end(), running_vars.begin(), running_vars.end());
  SKN_CHECK_CLOSE(running_means, want.running, 1e-6, 1e-5);
}

TEST_CASE("Composed network: two identical runs are bit-identical") {
  auto run = [] {
    auto net = build_network();
    const auto flat = random_params();
    size_t off = 0;
    for (auto& p : net->parameters()) {
      std::vector<double> piece(flat.begin() + off, flat.begin() + off + p.param->value.numel());
      p.param->value = to_tensor(p.param->value.shape(), piece);
      off += piece.size();
    }
    SoftmaxCrossEntropy<Cpu> loss;
    auto logits = net->forward(to_tensor(Shape{N, H, W, C}, ref::random_vector(ROWS * C, 3)), Mode::Train);
    std::vector<float> out = {loss.forward(logits, {1, 2})};
    auto dx = net->backward(loss.backward()).to_vector();
    out.insert(out.end(), dx.begin(), dx.end());
    for (auto& p : net->parameters()) {
      auto g = p.param->grad.to_vector();
      out.insert(out.end(), g.begin(), g.end());
    }
    return out;
  };
  CHECK(run() == run());
}

TEST_CASE("Sequential names children by position or by name, nested prefixes, errors") {
  Sequential<Cpu> seq;
  seq.add(std::make_unique<Dense<Cpu>>(3, 4));
  seq.add(std::make_unique<BatchNorm<Cpu>>(4));
  auto inner = std::make_unique<Sequential<Cpu>>();
  inner->emplace<Dense<Cpu>>("fc", 4, 2, false);
  seq.add("head", std::move(inner));
  std::vector<std::string> names;
  for (auto& p : seq.parameters()) names.push_back(p.name);
  CHECK(names == std::vector<std::string>{"0.weight", "0.bias", "1.weight", "1.bias", "head.fc.weight"});
  CHECK(seq.buffers()[0].name == "1.running_mean");
  CHECK(seq.size() == 3);
  CHECK(seq.child_name(2) == "head");
  CHECK(seq.output_shape(Shape{5, 3}) == Shape{5, 2});
  CHECK(seq.name() == "Sequential(3)");
  CHECK_THROWS_WITH_AS(seq.add("head", std::make_unique<Flatten<Cpu>>()), doctest::Contains("duplicate child name 'head'"),
                       ValueError);
  CHECK_THROWS_AS(seq.add("x", nullptr), ValueError);
  Sequential<Cpu> empty;
  auto t = Tensor<Cpu>::filled(Shape{2, 2}, 3.f);
  CHECK(empty.forward(t, Mode::Train).to_vector() == t.to_vector());
}

TEST_CASE("Residual: identity and projection shortcuts, timm name layouts, random streams, errors") {
  // Xception-style: branch "rep", shortcut parameters directly at block level ("skip", "skipbn").
  auto rep = std::make_unique<Sequential<Cpu>>();
  rep->emplace<Dense<Cpu>>("0", 4, 8, false);
  rep->emplace<Dropout<Cpu>>("1", 0.5f);
  auto skip = std::make_unique<Sequential<Cpu>>();
  skip->emplace<Dense<Cpu>>("skip", 4, 8, false);
  skip->emplace<BatchNorm<Cpu>>("skipbn", 8);
  Residual<Cpu> block(std::move(rep), std::move(skip), Act::None, "rep", "");
  std::vector<std::string> names;
  for (auto& p : block.parameters()) names.push_back(p.name);
  CHECK(names == std::vector<std::string>{"rep.0.weight", "skip.weight", "skipbn.weight", "skipbn.bias"});
  CHECK(block.buffers()[0].name == "skipbn.running_mean");
  // Random layers inside containers get consecutive streams.
  uint32_t next = 0;
  Sequential<Cpu> outer;
  outer.emplace<Dropout<Cpu>>("a", 0.1f);
  auto branch = std::make_unique<Sequential<Cpu>>();
  branch->emplace<DropConnect<Cpu>>("drop_path", 0.2f);
  outer.add("b", std::make_unique<Residual<Cpu>>(std::move(branch)));
  outer.set_rng(5, next);
  CHECK(next == 2);

  // Identity shortcut: y = relu(branch(x) + x), dx = relu' * (dbranch + 1).
  auto lin = std::make_unique<Dense<Cpu>>(3, 3, false);
  auto* lin_ptr = lin.get();
  Residual<Cpu> id(std::move(lin), nullptr, Act::ReLU);
  const std::vector<double> wv = {0.5, -1, 0, 0.25, 0.5, 1, -0.5, 0, 2};
  lin_ptr->weight().value = to_tensor(Shape{3, 3}, wv);
  const std::vector<double> xv = {1, -2, 0.5, 0.3, 0.1, -0.4};
  auto y = id.forward(to_tensor(Shape{2, 3}, xv), Mode::Train).to_vector();
  const auto b = ref::dense_forward(xv, 2, 3, 3, wv, {});
  std::vector<double> z(6), want(6);
  for (size_t i = 0; i < 6; ++i) z[i] = b[i] + xv[i];
  SKN_CHECK_CLOSE(y, ref::activation_forward(ref::RefAct::ReLU, z), 1e-6, 1e-6);
  const std::vector<double> dyv = {1, 2, 3, -1, -2, 0.5};
  auto dx = id.backward(to_tensor(Shape{2, 3}, dyv)).to_vector();
  const auto dz = ref::activation_backward(ref::RefAct::ReLU, z, dyv);
  const auto gb = ref::dense_backward(xv, 2, 3, 3, wv, dz);
  for (size_t i = 0; i < 6; ++i) want[i] = gb.dx[i] + dz[i];
  SKN_CHECK_CLOSE(dx, want, 1e-6, 1e-6);
  CHECK(id.name() == "Residual(Dense 3->3 no-bias + identity) +relu");
  CHECK(id.parameters()[0].name == "weight");  // branch name "" adds no prefix (ResNet bottleneck layout)

  Residual<Cpu> bad(std::make_unique<Dense<Cpu>>(3, 4));
  CHECK_THROWS_WITH_AS(bad.forward(Tensor<Cpu>::zeros(Shape{2, 3}), Mode::Infer),
                       doctest::Contains("identity [2x3] differ"), ShapeError);
  CHECK_THROWS_AS(bad.output_shape(Shape{2, 3}), ShapeError);
}
