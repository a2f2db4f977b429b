// Cross-framework check: skinnet's zoo models compute what PyTorch computes with the same weights.
//
// tests/python/export_crossframework.py builds four networks in PyTorch (random weights, random
// BatchNorm statistics, eval mode) and writes each with an input batch and PyTorch's logits:
//   resnet50          torchvision                       names equal timm's
//   efficientnet_b0   torchvision                       names mapped by io::torchvision_efficientnet_names
//   seresnet50        torchvision Bottleneck + timm SE  timm's names
//   xception          Keras' network, timm's names      timm's (legacy_xception) names
// Here each is loaded into the skinnet model of that name, created with the options that reproduce
// the PyTorch definition (see docs/architectures.md, "TensorFlow or PyTorch"):
//   tf_padding = 0   PyTorch pads strided convolutions and pools symmetrically (k/2 each side);
//                    TF/Keras "same" pads only the bottom/right when the total is odd
//   bn_eps           torchvision resnet50 1e-5, torchvision efficientnet_b0 1e-5 (only its b5..b7 use
//                    1e-3), the Keras Xception 1e-3; the file's metadata states the value used
// and run on the same input. Logits must agree to 1e-4 relative to the largest PyTorch logit of the
// model (an element-wise relative test would be meaningless for logits that happen to be near 0).
//
// When no Python with torch, torchvision and safetensors is available the test prints SKINNET_SKIP
// and ctest reports it skipped (tests/CMakeLists.txt), never passed.
#include <doctest/doctest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include "reference/check.hpp"
#include "skinnet/io/layout.hpp"
#include "skinnet/io/model_file.hpp"
#include "skinnet/io/torchvision_names.hpp"
#include "skinnet/models/zoo.hpp"
#include "test_util.hpp"

using namespace skinnet;
namespace fs = std::filesystem;

namespace {

fs::path xf_repo_root() { return fs::path(__FILE__).parent_path().parent_path().parent_path(); }

// $SKINNET_PYTHON, else the venv of scripts/python-venv.sh, else Debian's python3 (which has torch from
// apt but maybe no safetensors: the script then exits 77).
fs::path xf_python() {
  const char* env = std::getenv("SKINNET_PYTHON");
  if (env && *env) return ::access(env, X_OK) == 0 ? fs::path(env) : fs::path();
  for (const fs::path& p : {xf_repo_root() / ".venv" / "bin" / "python", fs::path("/usr/bin/python3")})
    if (::access(p.c_str(), X_OK) == 0) return p;
  return {};
}

constexpr int64_t kSize = 64, kBatch = 2, kClasses = 10;

struct Case {
  const char* model;
  float bn_eps;         // the value the PyTorch definition uses
  io::NameMap names;    // PyTorch name -> skinnet (timm) name
};

// Skips the exported input/logits, then applies the model's name map.
io::NameMap without_test_tensors(io::NameMap names) {
  return [names = std::move(names)](const std::string& n) -> std::optional<std::string> {
    if (n.rfind("test.", 0) == 0) return std::nullopt;
    return names(n);
  };
}

}  // namespace

TEST_CASE("cross-framework: resnet50, efficientnet_b0, seresnet50 and xception match PyTorch logits") {
  const fs::path python = xf_python();
  if (python.empty()) {
    std::printf("SKINNET_SKIP: no Python interpreter ($SKINNET_PYTHON, .venv/bin/python, /usr/bin/python3)\n");
    return;
  }
  test::TempDir dir("skinnet_xframe_");
  const std::string cmd = "\"" + python.string() + "\" \"" +
                          (xf_repo_root() / "tests" / "python" / "export_crossframework.py").string() + "\" \"" +
                          dir.path.string() + "\" --size " + std::to_string(kSize) + " --batch " +
                          std::to_string(kBatch) + " --classes " + std::to_string(kClasses);
  const int rc = std::system(cmd.c_str());
  REQUIRE(WIFEXITED(rc));
  if (WEXITSTATUS(rc) == 77) {
    std::printf("SKINNET_SKIP: %s cannot import torch, torchvision or safetensors (run scripts/python-venv.sh)\n",
                python.c_str());
    return;
  }
  REQUIRE_MESSAGE(WEXITSTATUS(rc) == 0, "export failed: ", cmd);

  const Case cases[] = {
      {"resnet50", 1e-5f, io::torchvision_resnet_names()},
      {"efficientnet_b0", 1e-5f, io::torchvision_efficientnet_names()},
      {"seresnet50", 1e-5f, io::default_name_map},
      {"xception", 1e-3f, io::default_name_map},
  };
  for (const Case& c : cases) {
    const std::string model_name = c.model;
    CAPTURE(model_name);
    const fs::path file = dir.path / (model_name + ".safetensors");
    const io::SafetensorsReader reader(file);
    // The exporter states the eps its BatchNorms use; the table above must agree with it.
    CHECK(std::stof(reader.metadata().at("bn_eps")) == doctest::Approx(c.bn_eps).epsilon(1e-6));

    ModelOptions opt;
    opt.tf_padding = 0;
    opt.bn_eps = c.bn_eps;
    opt.seed = 1234;  // any: every parameter is overwritten below
    auto model = create_model<Cpu>(model_name, kClasses, opt);
    io::LoadOptions lo;
    lo.map_name = without_test_tensors(c.names);
    lo.convert = io::torch_to_skinnet_layout;
    const io::LoadResult loaded = io::load_model(reader, *model, lo);  // strict: every name must match
    CHECK(loaded.loaded.size() == model->parameters().size() + model->buffers().size());

    const io::TensorInfo& in = reader.info("test.input");
    REQUIRE(in.shape == std::vector<int64_t>{kBatch, kSize, kSize, 3});
    const Tensor<Cpu> x = Tensor<Cpu>::from_vector(Shape::nhwc(kBatch, kSize, kSize, 3), reader.read_floats(in));
    const std::vector<float> want = reader.read_floats("test.logits");
    REQUIRE(want.size() == static_cast<size_t>(kBatch * kClasses));
    const std::vector<float> got = model->forward(x, Mode::Infer).to_vector();

    double scale = 0, max_err = 0;
    for (size_t i = 0; i < want.size(); ++i) {
      scale = std::max(scale, std::fabs(static_cast<double>(want[i])));
      max_err = std::max(max_err, std::fabs(static_cast<double>(got[i]) - want[i]));
    }
    REQUIRE(scale > 0);
    std::printf("cross-framework %-16s max |logit| %.4g  max abs err %.3g  relative %.3g\n", c.model, scale, max_err,
                max_err / scale);
    SKN_CHECK_CLOSE(got, want, 1e-4 * scale, 1e-4);
  }
}
