// io/model_file.hpp and io/layout.hpp: saving and loading a Module's tensors by name with metadata,
// every kind of mismatch, name mapping, and the PyTorch -> skinnet weight layouts.
#include <doctest/doctest.h>
#include <unistd.h>

#include <sys/wait.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <filesystem>
#include <string>
#include <vector>

#include "skinnet/io/layout.hpp"
#include "skinnet/io/model_file.hpp"
#include "skinnet/io/torchvision_names.hpp"
#include "test_util.hpp"

using namespace skinnet;
using namespace skinnet::io;
namespace fs = std::filesystem;

namespace {

// A fresh directory per test, removed at the end.
struct TempDir : test::TempDir {
  TempDir() : test::TempDir("skinnet_model_") {}
};

// A stand-in for a real model: any number of named parameters and buffers of given shapes, and an
// identity forward. Only the naming interface of Module matters here.
template <class D>
class FakeModule : public Module<D> {
 public:
  struct Spec {
    std::string name;
    Shape shape;
    bool buffer = false;
  };
  explicit FakeModule(std::vector<Spec> specs) : specs_(std::move(specs)) {
    for (const auto& s : specs_) {
      params_.emplace_back(s.shape);
      buffers_.push_back(Tensor<D>::zeros(s.shape));
    }
  }
  Tensor<D> forward(const Tensor<D>& x, Mode) override { return x.clone(); }
  Tensor<D> backward(const Tensor<D>& dy) override { return dy.clone(); }
  std::string name() const override { return "FakeModule"; }
  Shape output_shape(const Shape& in) const override { return in; }
  void collect_parameters(const std::string& prefix, std::vector<NamedParameter<D>>& out) override {
    for (std::size_t i = 0; i < specs_.size(); ++i)
      if (!specs_[i].buffer) out.push_back({prefix + specs_[i].name, &params_[i]});
  }
  void collect_buffers(const std::string& prefix, std::vector<NamedBuffer<D>>& out) override {
    for (std::size_t i = 0; i < specs_.size(); ++i)
      if (specs_[i].buffer) out.push_back({prefix + specs_[i].name, &buffers_[i]});
  }

  Tensor<D>& tensor(const std::string& name) {
    for (std::size_t i = 0; i < specs_.size(); ++i)
      if (specs_[i].name == name) return specs_[i].buffer ? buffers_[i] : params_[i].value;
    FAIL("no tensor " << name);
    return buffers_[0];
  }
  // Distinct, non-trivial values in every tensor, offset by `seed`.
  void fill(float seed) {
    float v = seed;
    for (auto& t : all())
      for (int64_t i = 0; i < t->numel(); ++i) (*t)[i] = (v += 0.37f) * (i % 2 ? -1.f : 1.f);
  }
  std::vector<std::vector<float>> snapshot() {
    std::vector<std::vector<float>> s;
    for (auto& t : all()) s.push_back(t->to_vector());
    return s;
  }

 private:
  std::vector<Tensor<D>*> all() {
    std::vector<Tensor<D>*> out;
    for (std::size_t i = 0; i < specs_.size(); ++i) out.push_back(specs_[i].buffer ? &buffers_[i] : &params_[i].value);
    return out;
  }
  std::vector<Spec> specs_;
  std::vector<Parameter<D>> params_;
  std::vector<Tensor<D>> buffers_;
};

FakeModule<Cpu> tiny() {
  return FakeModule<Cpu>({{"fc.weight", Shape{3, 2}}, {"fc.bias", Shape{2}}, {"bn.running_mean", Shape{2}, true}});
}

// LoadOptions with one field changed (designated initialisers would trip GCC's
// -Wmissing-field-initializers).
LoadOptions with_convert(LayoutConvert c) {
  LoadOptions o;
  o.convert = std::move(c);
  return o;
}
LoadOptions loose_options() {
  LoadOptions o;
  o.strict = false;
  return o;
}
LoadOptions with_map(NameMap m) {
  LoadOptions o;
  o.map_name = std::move(m);
  return o;
}
LoadOptions with_architecture(std::string a) {
  LoadOptions o;
  o.architecture = std::move(a);
  return o;
}

std::string load_error(const fs::path& file, Module<Cpu>& m, const LoadOptions& o = {}) {
  try {
    load_model(file, m, o);
  } catch (const IoError& e) {
    return e.what();
  }
  return "(loaded without error)";
}

}  // namespace

TEST_CASE("model_file: save then load restores every parameter and buffer and the metadata") {
  TempDir dir;
  auto a = tiny();
  a.fill(1.0f);
  ModelInfo info;
  info.architecture = "tiny";
  info.class_names = {"akiec", "bcc", "mel \"melanoma\"", "n\xC3\xA6vus"};
  info.input_size = 224;
  info.normalization = "torch";
  info.extra = {{"epoch", "12"}};
  const fs::path file = dir.path / "tiny.safetensors";
  save_model(file, a, info);

  // What Python would see: plain names, F32, the class list as a JSON array string.
  const SafetensorsReader r(file);
  CHECK(r.tensors().size() == 3);
  CHECK(r.info("bn.running_mean").shape == std::vector<int64_t>{2});
  CHECK(r.info("fc.weight").dtype == Dtype::F32);
  CHECK(r.metadata().at("class_names") == R"(["akiec","bcc","mel \"melanoma\"","n)" "\xC3\xA6" R"(vus"])");
  CHECK(r.metadata().at("input_size") == "224");
  CHECK(r.metadata().at("skinnet_version") == version());

  auto b = tiny();
  CHECK(b.snapshot() != a.snapshot());
  const LoadResult res = load_model(file, b);
  CHECK(b.snapshot() == a.snapshot());  // bit-exact
  CHECK(res.loaded == std::vector<std::string>{"fc.weight", "fc.bias", "bn.running_mean"});
  CHECK(res.skipped.empty());
  CHECK(res.ignored.empty());
  CHECK(res.info.architecture == "tiny");
  CHECK(res.info.class_names == info.class_names);
  CHECK(res.info.input_size == 224);
  CHECK(res.info.normalization == "torch");
  CHECK(res.info.skinnet_version == version());
  CHECK(res.info.extra == Metadata{{"epoch", "12"}});
  CHECK(read_model_info(file).class_names == info.class_names);
  CHECK(load_model(file, b, with_architecture("tiny")).loaded.size() == 3);
  CHECK_THROWS_WITH_AS(load_model(file, b, with_architecture("seresnet50")),
                       doctest::Contains("holds a \"tiny\" model, expected \"seresnet50\""), IoError);
}

TEST_CASE("model_file: a file that does not fit lists every problem and leaves the model untouched") {
  TempDir dir;
  const fs::path file = dir.path / "other.safetensors";
  std::vector<float> w(6, 1.f), b3(3, 2.f), extra(4, 3.f);
  std::vector<int64_t> counter{5};
  write_safetensors(file, {tensor_ref("fc.weight", Shape{2, 3}, w.data()),         // transposed shape
                           tensor_ref("fc.bias", Shape{3}, b3.data()),             // wrong length
                           tensor_ref("head.weight", Shape{4}, extra.data()),      // not in the model
                           tensor_ref("bn.num_batches_tracked", std::vector<int64_t>{}, counter.data())});
  auto m = tiny();
  m.fill(7.f);
  const auto before = m.snapshot();

  // Names first: the missing buffer and the unexpected head are reported before any data is read.
  std::string msg = load_error(file, m);
  CHECK(msg.find(file.string() + ": does not fit model FakeModule (nothing was loaded)") == 0);
  CHECK(msg.find("missing from the file (1): bn.running_mean") != std::string::npos);
  CHECK(msg.find("not in the model (1; load with strict = false to ignore): head.weight") != std::string::npos);
  CHECK(msg.find("num_batches_tracked") == std::string::npos);  // skipped by the default name map
  CHECK(m.snapshot() == before);

  // With strict = false and the buffer present, the shapes are what is left to complain about.
  std::vector<float> rm(2, 0.5f);
  write_safetensors(file, {tensor_ref("fc.weight", Shape{2, 3}, w.data()), tensor_ref("fc.bias", Shape{3}, b3.data()),
                           tensor_ref("bn.running_mean", Shape{2}, rm.data()),
                           tensor_ref("head.weight", Shape{4}, extra.data())});
  msg = load_error(file, m, loose_options());
  CHECK(msg.find("shape mismatch (2): fc.weight: file [2, 3] vs model [3, 2], fc.bias: file [3] vs model [2]") !=
        std::string::npos);
  CHECK(msg.find("not in the model") == std::string::npos);
  CHECK(m.snapshot() == before);

  // An integer tensor where the model wants floats.
  std::vector<int64_t> ib{1, 2};
  std::vector<float> w32(6, 1.f);
  write_safetensors(file, {tensor_ref("fc.weight", Shape{3, 2}, w32.data()), tensor_ref("fc.bias", std::vector<int64_t>{2}, ib.data()),
                           tensor_ref("bn.running_mean", Shape{2}, rm.data())});
  msg = load_error(file, m);
  CHECK(msg.find("not floating point (1): fc.bias (I64)") != std::string::npos);
  CHECK(m.snapshot() == before);
}

TEST_CASE("model_file: strict = false ignores extra entries, the name map skips and renames") {
  TempDir dir;
  auto a = tiny();
  a.fill(2.f);
  std::vector<float> moments(6, 0.25f);
  std::vector<int64_t> step{41};
  const fs::path file = dir.path / "checkpoint.safetensors";
  // A checkpoint: the model plus optimizer state under optim.*
  save_model(file, a, ModelInfo{}, {tensor_ref("optim.fc.weight.m", Shape{3, 2}, moments.data()),
                                    tensor_ref("optim.step", std::vector<int64_t>{}, step.data())});
  auto b = tiny();
  CHECK(load_error(file, b).find("not in the model (2; load with strict = false to ignore): optim.step, optim.fc.weight.m") !=
        std::string::npos);

  const LoadResult loose = load_model(file, b, loose_options());
  CHECK(b.snapshot() == a.snapshot());
  CHECK(loose.ignored == std::vector<std::string>{"optim.step", "optim.fc.weight.m"});  // data order: I64 first

  auto c = tiny();
  const NameMap skip_optim = [](const std::string& n) -> std::optional<std::string> {
    if (n.rfind("optim.", 0) == 0) return std::nullopt;
    return n;
  };
  const LoadResult mapped = load_model(file, c, with_map(skip_optim));
  CHECK(c.snapshot() == a.snapshot());
  CHECK(mapped.skipped.size() == 2);

  // A table from foreign names (torchvision style) to ours; unlisted names pass through the fallback.
  std::vector<float> w(6), bias(2), rm(2);
  for (int i = 0; i < 6; ++i) w[static_cast<std::size_t>(i)] = static_cast<float>(i);
  bias = {10.f, 11.f};
  rm = {-1.f, -2.f};
  std::vector<int64_t> tracked{100};
  write_safetensors(file, {tensor_ref("classifier.1.weight", Shape{3, 2}, w.data()),
                           tensor_ref("classifier.1.bias", Shape{2}, bias.data()),
                           tensor_ref("bn.running_mean", Shape{2}, rm.data()),
                           tensor_ref("bn.num_batches_tracked", std::vector<int64_t>{}, tracked.data())});
  auto d = tiny();
  const LoadResult t = load_model(
      file, d, with_map(name_table({{"classifier.1.weight", "fc.weight"}, {"classifier.1.bias", "fc.bias"}})));
  CHECK(d.tensor("fc.weight").to_vector() == w);
  CHECK(d.tensor("fc.bias").to_vector() == bias);
  CHECK(d.tensor("bn.running_mean").to_vector() == rm);
  CHECK(t.skipped == std::vector<std::string>{"bn.num_batches_tracked"});

  // Two file names mapped onto one model tensor is an error, not a silent overwrite.
  CHECK(load_error(file, d, with_map(name_table({{"classifier.1.weight", "fc.weight"}, {"classifier.1.bias", "fc.weight"}})))
            .find("both map to model tensor \"fc.weight\"") != std::string::npos);
}

TEST_CASE("model_file: malformed metadata and misuse are reported clearly") {
  TempDir dir;
  const fs::path file = dir.path / "meta.safetensors";
  std::vector<float> v(1, 1.f);
  write_safetensors(file, {tensor_ref("x", Shape{1}, v.data())}, {{"class_names", "mel,nv"}});
  CHECK_THROWS_WITH_AS(read_model_info(file), doctest::Contains("class_names must be a JSON array of strings"), IoError);
  write_safetensors(file, {tensor_ref("x", Shape{1}, v.data())}, {{"class_names", "[\"mel\", 3]"}});
  CHECK_THROWS_WITH_AS(read_model_info(file), doctest::Contains("class_names holds a non-string 3"), IoError);
  write_safetensors(file, {tensor_ref("x", Shape{1}, v.data())}, {{"input_size", "224px"}});
  CHECK_THROWS_WITH_AS(read_model_info(file), doctest::Contains("input_size \"224px\" is not a positive integer"), IoError);
  write_safetensors(file, {tensor_ref("x", Shape{1}, v.data())});  // a file with no metadata at all (e.g. from Python)
  CHECK(read_model_info(file).architecture.empty());

  auto m = tiny();
  ModelInfo bad;
  bad.extra = {{"architecture", "x"}};
  CHECK_THROWS_WITH_AS(save_model(file, m, bad), doctest::Contains("key \"architecture\" is reserved"), ValueError);
  FakeModule<Cpu> dup({{"w", Shape{1}}, {"w", Shape{1}, true}});
  CHECK_THROWS_WITH_AS(save_model(file, dup, ModelInfo{}), doctest::Contains("lists the tensor name \"w\" twice"), ValueError);
}

// ---- layouts ------------------------------------------------------------------------------------

TEST_CASE("layout: each transpose against hand-written expectations") {
  // Conv: O=2, I=1, H=1, W=2. PyTorch [o][i][h][w] = {o0: a b, o1: c d}; HWIO [h][w][i][o].
  const float oihw[] = {1, 2, 3, 4};
  CHECK(conv_oihw_to_hwio(oihw, 2, 1, 1, 2) == std::vector<float>{1, 3, 2, 4});
  // O=1, I=2, H=2, W=1: [o0][i0] = {1, 2} (h0, h1), [o0][i1] = {3, 4} -> [h][w][i][o] = h0: {1, 3}, h1: {2, 4}.
  CHECK(conv_oihw_to_hwio(oihw, 1, 2, 2, 1) == std::vector<float>{1, 3, 2, 4});
  CHECK(conv_hwio_to_oihw(std::vector<float>{1, 3, 2, 4}.data(), 1, 2, 1, 2) == std::vector<float>{1, 2, 3, 4});
  // O=2, I=1, H=2, W=2: o0 = {1 2 / 3 4}, o1 = {5 6 / 7 8} -> each (h, w) holds {o0, o1}.
  const float sq[] = {1, 2, 3, 4, 5, 6, 7, 8};
  CHECK(conv_oihw_to_hwio(sq, 2, 1, 2, 2) == std::vector<float>{1, 5, 2, 6, 3, 7, 4, 8});
  // Depthwise: C=2, H=1, W=3, PyTorch [c][1][h][w] = {c0: 1 2 3, c1: 4 5 6} -> [h][w][c].
  const float dw[] = {1, 2, 3, 4, 5, 6};
  CHECK(depthwise_torch_to_skinnet(dw, 2, 1, 3) == std::vector<float>{1, 4, 2, 5, 3, 6});
  CHECK(depthwise_skinnet_to_torch(std::vector<float>{1, 4, 2, 5, 3, 6}.data(), 1, 3, 2) ==
        std::vector<float>{1, 2, 3, 4, 5, 6});
  // Linear: [out=2][in=3] -> [in][out].
  const float lin[] = {1, 2, 3, 4, 5, 6};
  CHECK(linear_torch_to_skinnet(lin, 2, 3) == std::vector<float>{1, 4, 2, 5, 3, 6});
  CHECK(linear_skinnet_to_torch(std::vector<float>{1, 4, 2, 5, 3, 6}.data(), 3, 2) == std::vector<float>{1, 2, 3, 4, 5, 6});
}

TEST_CASE("layout: the forward and inverse transposes undo each other") {
  const int64_t O = 5, I = 3, H = 3, W = 2;
  std::vector<float> src(static_cast<std::size_t>(O * I * H * W));
  for (std::size_t i = 0; i < src.size(); ++i) src[i] = static_cast<float>(i);
  const auto hwio = conv_oihw_to_hwio(src.data(), O, I, H, W);
  CHECK(hwio != src);
  CHECK(conv_hwio_to_oihw(hwio.data(), H, W, I, O) == src);
  const auto dw = depthwise_torch_to_skinnet(src.data(), O * I, H, W);
  CHECK(depthwise_skinnet_to_torch(dw.data(), H, W, O * I) == src);
  const auto t = linear_torch_to_skinnet(src.data(), O * I, H * W);
  CHECK(linear_skinnet_to_torch(t.data(), H * W, O * I) == src);
}

// The transposes are the right ones, not merely self-consistent: a convolution computed the PyTorch
// way (NCHW input, OIHW weight) equals the same convolution computed the skinnet way (NHWC input, the
// converted HWIO weight), both as plain float64 loops here.
TEST_CASE("layout: converted weights compute the same convolution, depthwise conv and linear layer") {
  const int64_t N = 2, C = 3, Hin = 5, Win = 4, O = 4, K = 3;  // 3x3 conv, stride 1, no padding
  const int64_t Ho = Hin - K + 1, Wo = Win - K + 1;
  auto val = [](int64_t i) { return std::sin(0.7 * static_cast<double>(i)) + 0.1 * static_cast<double>(i % 5); };
  std::vector<float> x_nchw(static_cast<std::size_t>(N * C * Hin * Win)), w_oihw(static_cast<std::size_t>(O * C * K * K));
  for (std::size_t i = 0; i < x_nchw.size(); ++i) x_nchw[i] = static_cast<float>(val(static_cast<int64_t>(i)));
  for (std::size_t i = 0; i < w_oihw.size(); ++i) w_oihw[i] = static_cast<float>(val(static_cast<int64_t>(i) + 1000));
  auto X = [&](int64_t n, int64_t c, int64_t h, int64_t w) { return static_cast<double>(x_nchw[static_cast<std::size_t>(((n * C + c) * Hin + h) * Win + w)]); };

  const auto w_hwio = conv_oihw_to_hwio(w_oihw.data(), O, C, K, K);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t o = 0; o < O; ++o)
      for (int64_t y = 0; y < Ho; ++y)
        for (int64_t xx = 0; xx < Wo; ++xx) {
          double torch_way = 0, skinnet_way = 0;
          for (int64_t c = 0; c < C; ++c)
            for (int64_t i = 0; i < K; ++i)
              for (int64_t j = 0; j < K; ++j) {
                torch_way += X(n, c, y + i, xx + j) * w_oihw[static_cast<std::size_t>(((o * C + c) * K + i) * K + j)];
                // skinnet: im2col row (i, j, c) times W[(i * K + j) * C + c][o]
                skinnet_way += X(n, c, y + i, xx + j) * w_hwio[static_cast<std::size_t>(((i * K + j) * C + c) * O + o)];
              }
          CHECK(skinnet_way == doctest::Approx(torch_way).epsilon(1e-12));
        }

  // Depthwise: PyTorch groups = C, weight [C][1][K][K]; skinnet [K][K][C].
  const auto dw_torch = std::vector<float>(w_oihw.begin(), w_oihw.begin() + C * K * K);
  const auto dw_sk = depthwise_torch_to_skinnet(dw_torch.data(), C, K, K);
  for (int64_t c = 0; c < C; ++c) {
    double torch_way = 0, skinnet_way = 0;
    for (int64_t i = 0; i < K; ++i)
      for (int64_t j = 0; j < K; ++j) {
        torch_way += X(1, c, i + 1, j) * dw_torch[static_cast<std::size_t>((c * K + i) * K + j)];
        skinnet_way += X(1, c, i + 1, j) * dw_sk[static_cast<std::size_t>((i * K + j) * C + c)];
      }
    CHECK(skinnet_way == doctest::Approx(torch_way).epsilon(1e-12));
  }

  // Linear: y = W x (PyTorch, W [out][in]) against y = x W' (skinnet, W' [in][out]).
  const int64_t in = 6, out = 4;
  const auto lin_sk = linear_torch_to_skinnet(w_oihw.data(), out, in);
  for (int64_t o = 0; o < out; ++o) {
    double torch_way = 0, skinnet_way = 0;
    for (int64_t i = 0; i < in; ++i) {
      torch_way += w_oihw[static_cast<std::size_t>(o * in + i)] * val(i);
      skinnet_way += val(i) * lin_sk[static_cast<std::size_t>(i * out + o)];
    }
    CHECK(skinnet_way == doctest::Approx(torch_way).epsilon(1e-12));
  }
}

TEST_CASE("layout: torch_to_skinnet_layout picks the transpose from the shapes, and load_model applies it") {
  std::vector<float> conv(4 * 3 * 2 * 2), dw(5 * 3 * 3), se(6 * 4), sq(9), bias{1, 2, 3, 4};
  for (std::size_t i = 0; i < conv.size(); ++i) conv[i] = static_cast<float>(i);
  for (std::size_t i = 0; i < dw.size(); ++i) dw[i] = static_cast<float>(100 + i);
  for (std::size_t i = 0; i < se.size(); ++i) se[i] = static_cast<float>(200 + i);
  for (std::size_t i = 0; i < sq.size(); ++i) sq[i] = static_cast<float>(300 + i);

  auto convert = [](std::vector<int64_t> shape, std::vector<float> data, const Shape& expected) {
    torch_to_skinnet_layout(shape, data, expected);
    return std::make_pair(shape, data);
  };
  auto [cs, cd] = convert({4, 3, 2, 2}, conv, Shape{2, 2, 3, 4});
  CHECK(cs == std::vector<int64_t>{2, 2, 3, 4});
  CHECK(cd == conv_oihw_to_hwio(conv.data(), 4, 3, 2, 2));
  auto [ds, dd] = convert({5, 1, 3, 3}, dw, Shape{3, 3, 5});
  CHECK(ds == std::vector<int64_t>{3, 3, 5});
  CHECK(dd == depthwise_torch_to_skinnet(dw.data(), 5, 3, 3));
  auto [ss, sd] = convert({6, 4, 1, 1}, se, Shape{4, 6});  // timm SE fc (1x1 conv) into a dense [in][out]
  CHECK(ss == std::vector<int64_t>{4, 6});
  CHECK(sd == linear_torch_to_skinnet(se.data(), 6, 4));
  auto [qs, qd] = convert({3, 3}, sq, Shape{3, 3});  // square linear: transposed even though shapes match
  CHECK(qs == std::vector<int64_t>{3, 3});
  CHECK(qd == std::vector<float>{300, 303, 306, 301, 304, 307, 302, 305, 308});
  auto [bs, bd] = convert({4}, bias, Shape{4});
  CHECK(bs == std::vector<int64_t>{4});
  CHECK(bd == bias);
  std::vector<int64_t> keras{3, 3, 5, 1};
  std::vector<float> kd = dw;
  keras_to_skinnet_layout(keras, kd, Shape{3, 3, 5});
  CHECK(keras == std::vector<int64_t>{3, 3, 5});
  CHECK(kd == dw);

  // Through load_model: a PyTorch-layout file (with BN's int64 counter) into skinnet-layout tensors.
  TempDir dir;
  const fs::path file = dir.path / "torch.safetensors";
  std::vector<int64_t> tracked{3};
  write_safetensors(file, {tensor_ref("conv.weight", std::vector<int64_t>{4, 3, 2, 2}, conv.data()),
                           tensor_ref("dw.weight", std::vector<int64_t>{5, 1, 3, 3}, dw.data()),
                           tensor_ref("se.fc1.weight", std::vector<int64_t>{6, 4, 1, 1}, se.data()),
                           tensor_ref("fc.weight", std::vector<int64_t>{3, 3}, sq.data()),
                           tensor_ref("bn.bias", std::vector<int64_t>{4}, bias.data()),
                           tensor_ref("bn.num_batches_tracked", std::vector<int64_t>{}, tracked.data())});
  FakeModule<Cpu> m({{"conv.weight", Shape{2, 2, 3, 4}},
                     {"dw.weight", Shape{3, 3, 5}},
                     {"se.fc1.weight", Shape{4, 6}},
                     {"fc.weight", Shape{3, 3}},
                     {"bn.bias", Shape{4}}});
  // Without the conversion the shapes do not match and nothing loads.
  CHECK(load_error(file, m).find("shape mismatch (3): conv.weight: file [4, 3, 2, 2] vs model [2, 2, 3, 4]") != std::string::npos);
  const LoadResult res = load_model(file, m, with_convert(torch_to_skinnet_layout));
  CHECK(res.loaded.size() == 5);
  CHECK(m.tensor("conv.weight").to_vector() == cd);
  CHECK(m.tensor("dw.weight").to_vector() == dd);
  CHECK(m.tensor("se.fc1.weight").to_vector() == sd);
  CHECK(m.tensor("fc.weight").to_vector() == qd);
  CHECK(m.tensor("bn.bias").to_vector() == bias);
}

// ---- torchvision names ----------------------------------------------------------------------------

TEST_CASE("torchvision names: hand-picked EfficientNet and ResNet names map to timm's") {
  const NameMap eff = torchvision_efficientnet_names();
  const std::pair<const char*, const char*> cases[] = {
      {"features.0.0.weight", "conv_stem.weight"},
      {"features.0.1.running_var", "bn1.running_var"},
      {"features.1.0.block.0.0.weight", "blocks.0.0.conv_dw.weight"},
      {"features.1.0.block.1.fc1.bias", "blocks.0.0.se.conv_reduce.bias"},
      {"features.1.1.block.2.0.weight", "blocks.0.1.conv_pw.weight"},  // B1+: two stage-1 blocks
      {"features.1.0.block.2.1.bias", "blocks.0.0.bn2.bias"},
      {"features.2.1.block.0.0.weight", "blocks.1.1.conv_pw.weight"},
      {"features.3.0.block.1.0.weight", "blocks.2.0.conv_dw.weight"},
      {"features.4.2.block.1.1.running_mean", "blocks.3.2.bn2.running_mean"},
      {"features.6.3.block.2.fc2.weight", "blocks.5.3.se.conv_expand.weight"},
      {"features.7.0.block.3.0.weight", "blocks.6.0.conv_pwl.weight"},
      {"features.7.0.block.3.1.weight", "blocks.6.0.bn3.weight"},
      {"features.8.0.weight", "conv_head.weight"},
      {"features.8.1.bias", "bn2.bias"},
      {"classifier.1.weight", "classifier.weight"},
  };
  for (const auto& [tv, timm] : cases) {
    const std::string torchvision_name = tv;
    CAPTURE(torchvision_name);
    CHECK(eff(tv) == std::optional<std::string>(timm));
  }
  CHECK(eff("features.2.0.block.1.1.num_batches_tracked") == std::nullopt);
  CHECK(eff("features.9.0.weight") == std::optional<std::string>("features.9.0.weight"));  // unknown: unchanged
  CHECK(eff("features.2.0.block.5.0.weight") == std::optional<std::string>("features.2.0.block.5.0.weight"));
  const NameMap res = torchvision_resnet_names();
  CHECK(res("layer1.0.downsample.0.weight") == std::optional<std::string>("layer1.0.downsample.0.weight"));
  CHECK(res("layer1.0.bn1.num_batches_tracked") == std::nullopt);
}

namespace {
fs::path repo_root() { return fs::path(__FILE__).parent_path().parent_path().parent_path(); }
fs::path interop_python() {
  const char* env = std::getenv("SKINNET_PYTHON");
  const fs::path python = env && *env ? fs::path(env) : repo_root() / ".venv" / "bin" / "python";
  return ::access(python.c_str(), X_OK) == 0 ? python : fs::path();
}
}  // namespace

// ctest marks this test skipped (not passed) when it prints SKINNET_SKIP (SKIP_REGULAR_EXPRESSION).
TEST_CASE("torchvision names: every efficientnet_b0 state_dict entry maps one to one onto timm's names") {
  const fs::path python = interop_python();
  if (python.empty()) {
    std::printf("SKINNET_SKIP: no Python interpreter at $SKINNET_PYTHON or %s (run scripts/python-venv.sh)\n",
                (repo_root() / ".venv" / "bin" / "python").c_str());
    return;
  }
  TempDir dir;
  const fs::path file = dir.path / "efficientnet_b0.safetensors";
  const std::string cmd = "\"" + python.string() + "\" \"" + (repo_root() / "tests" / "python" / "export_torchvision.py").string() +
                          "\" efficientnet_b0 \"" + file.string() + "\" --size 32 --classes 7";
  const int rc = std::system(cmd.c_str());
  REQUIRE(WIFEXITED(rc));
  if (WEXITSTATUS(rc) == 77) {
    std::printf("SKINNET_SKIP: %s cannot import torch, torchvision or safetensors\n", python.c_str());
    return;
  }
  REQUIRE_MESSAGE(WEXITSTATUS(rc) == 0, "export failed: ", cmd);

  // timm's efficientnet_b0 names, written out from its structure: stem, 7 stages of [1,2,2,3,3,4,1]
  // blocks (the first stage without expansion), head, classifier.
  std::set<std::string> timm;
  auto bn = [&](const std::string& p) {
    for (const char* t : {"weight", "bias", "running_mean", "running_var"}) timm.insert(p + "." + t);
  };
  auto se = [&](const std::string& p) {
    for (const char* t : {"conv_reduce.weight", "conv_reduce.bias", "conv_expand.weight", "conv_expand.bias"})
      timm.insert(p + ".se." + t);
  };
  timm.insert("conv_stem.weight");
  bn("bn1");
  const int repeats[] = {1, 2, 2, 3, 3, 4, 1};
  for (int s = 0; s < 7; ++s)
    for (int j = 0; j < repeats[s]; ++j) {
      const std::string p = "blocks." + std::to_string(s) + "." + std::to_string(j);
      if (s == 0) {
        timm.insert(p + ".conv_dw.weight");
        bn(p + ".bn1");
        se(p);
        timm.insert(p + ".conv_pw.weight");
        bn(p + ".bn2");
      } else {
        timm.insert(p + ".conv_pw.weight");
        bn(p + ".bn1");
        timm.insert(p + ".conv_dw.weight");
        bn(p + ".bn2");
        se(p);
        timm.insert(p + ".conv_pwl.weight");
        bn(p + ".bn3");
      }
    }
  timm.insert("conv_head.weight");
  bn("bn2");
  timm.insert("classifier.weight");
  timm.insert("classifier.bias");

  const SafetensorsReader r(file);
  CHECK(r.metadata().at("model") == "efficientnet_b0");
  const NameMap map = torchvision_efficientnet_names();
  std::set<std::string> mapped;
  int skipped = 0;
  for (const auto& t : r.tensors()) {
    if (t.name.rfind("test.", 0) == 0) continue;  // the exported input and logits
    const auto m = map(t.name);
    if (!m) {
      CHECK(t.dtype == Dtype::I64);  // only num_batches_tracked is skipped
      ++skipped;
      continue;
    }
    CAPTURE(t.name);
    CHECK(mapped.insert(*m).second);  // one to one
    CHECK(timm.count(*m) == 1);
  }
  CHECK(skipped == 49);  // one per BatchNorm
  CHECK(mapped == timm);
  CHECK(r.info("features.2.0.block.1.0.weight").shape == std::vector<int64_t>{96, 1, 3, 3});  // depthwise
  CHECK(r.info("classifier.1.weight").shape == std::vector<int64_t>{7, 1280});
  CHECK(r.info("test.input").shape == std::vector<int64_t>{1, 32, 32, 3});
  CHECK(r.info("test.logits").shape == std::vector<int64_t>{1, 7});
}
