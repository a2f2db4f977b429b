// The CUDA max and average pooling (kernels/pool.cuh via include/skinnet/cuda/pool.hpp) run through
// the emulator and compared with the float64 reference (tests/reference/pool.hpp), forward and
// backward, in forward, reverse and random thread orders (bitwise identical); the TF "same" and tie
// conventions; and MaxPool2D<Cuda> / AvgPool2D<Cuda> against the Cpu layers, which the kernels match
// bit for bit (same summation order by design).
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "cuda_ops_util.hpp"
#include "reference/check.hpp"
#include "reference/gradcheck.hpp"
#include "reference/pool.hpp"
#include "skinnet/cuda.hpp"
#include "skinnet/cuda/pool.hpp"
#include "skinnet/layers/pool.hpp"

using namespace skinnet;
using namespace skinnet::cuda_test;
namespace emu = skinnet::emu;

namespace {

struct PoolCase {
  int64_t n, h, w, c, k, stride;
  std::string pad;
  int64_t pt = 0, pb = 0, pl = 0, pr = 0;
  int64_t kw_override = 0, sw_override = 0;  // non-square windows / strides (0: same as k / stride)

  int64_t kw() const { return kw_override ? kw_override : k; }
  int64_t sw() const { return sw_override ? sw_override : stride; }
  Padding padding() const { return padding_of(pad, pt, pb, pl, pr); }
  ref::WindowDims dims() const { return ref::window_dims(n, h, w, c, k, kw(), stride, sw(), pad, c, pt, pb, pl, pr); }
  ConvGeometry geometry() const {
    return ConvGeometry::make(Shape::nhwc(n, h, w, c), k, kw(), stride, sw(), padding(), c, "test");
  }
  std::string str() const {
    return "n" + std::to_string(n) + " " + std::to_string(h) + "x" + std::to_string(w) + " c" + std::to_string(c) +
           " k" + std::to_string(k) + "x" + std::to_string(kw()) + " s" + std::to_string(stride) + "x" +
           std::to_string(sw()) + " " + pad;
  }
};

const PoolCase kCases[] = {
    {1, 1, 1, 1, 1, 1, "valid"},
    {2, 7, 9, 3, 3, 2, "same"},                    // Xception's block pools on an odd input
    {1, 8, 8, 17, 3, 2, "same"},                   // even input: TF pads only after
    {2, 6, 7, 70, 2, 2, "valid"},
    {1, 11, 10, 5, 3, 2, "explicit", 1, 1, 1, 1},  // torchvision ResNet stem pool
    {3, 5, 5, 4, 3, 1, "same"},                    // overlapping windows: several outputs per input
    {1, 9, 6, 2, 5, 2, "explicit", 2, 0, 1, 3},
    {1, 6, 6, 8, 3, 3, "valid"},
    {1, 13, 11, 9, 7, 2, "same"},                  // 7x7 window
    {1, 7, 9, 6, 2, 1, "same", 0, 0, 0, 0, 3, 2},  // 2x3 window, strides 1x2
};

}  // namespace

TEST_CASE("cuda max and avg pooling match the reference, forward and backward, in every thread order") {
  uint64_t seed = 700;
  for (const PoolCase& c : kCases) {
    INFO("case: " << c.str());
    const ConvGeometry g = c.geometry();
    const auto d = c.dims();
    REQUIRE(g.out_h == d.oh);
    REQUIRE(g.out_w == d.ow);
    const auto xs = random_floats(static_cast<size_t>(d.in_size()), seed += 10);
    const auto dys = random_floats(static_cast<size_t>(d.out_size()), seed + 1);
    const auto x = Tensor<Cuda>::from_vector(g.in_shape(), xs);
    const auto dy = Tensor<Cuda>::from_vector(g.out_shape(), dys);
    const auto max_y = ref::maxpool_forward(d, widen(xs)), max_dx = ref::maxpool_backward(d, widen(xs), widen(dys));
    const auto avg_y = ref::avgpool_forward(d, widen(xs)), avg_dx = ref::avgpool_backward(d, widen(dys));
    std::vector<std::vector<float>> first;
    for (const auto& entry : kThreadOrders) {
      INFO("thread order: " << entry.second);
      std::vector<std::vector<float>> r;
      {
        emu::ScopedThreadOrder guard(entry.first, static_cast<uint32_t>(seed));
        r.push_back(cuda::max_pool2d_forward(x, g).to_vector());
        r.push_back(cuda::max_pool2d_backward(x, dy, g).to_vector());
        r.push_back(cuda::avg_pool2d_forward(x, g).to_vector());
        r.push_back(cuda::avg_pool2d_backward(dy, g).to_vector());
      }
      SKN_CHECK_CLOSE(r[0], max_y, 0.0, 0.0);  // max selects: exact
      SKN_CHECK_CLOSE(r[1], max_dx, 1e-6, 1e-6);
      SKN_CHECK_CLOSE(r[2], avg_y, 1e-6, 1e-5);
      SKN_CHECK_CLOSE(r[3], avg_dx, 1e-6, 1e-5);
      if (first.empty()) {
        first = r;
      } else {
        for (size_t i = 0; i < r.size(); ++i) {
          INFO("output " << i << " (max y, max dx, avg y, avg dx)");
          CHECK_MESSAGE(same_bits(r[i], first[i]), "result differs from the forward-order run");
        }
      }
    }
  }
}

TEST_CASE("cuda pooling with TF same padding, ties, and errors") {
  // 4x4 of negative values, 3x3/2 same: out 2x2, total pad 1, all of it after (bottom/right).
  std::vector<float> xs(16);
  for (int i = 0; i < 16; ++i) xs[static_cast<size_t>(i)] = -1.f - static_cast<float>(i);
  const auto x = Tensor<Cuda>::from_vector(Shape::nhwc(1, 4, 4, 1), xs);
  const auto g = ConvGeometry::make(x.shape(), 3, 2, Padding::same(), 1, "test");
  CHECK(cuda::max_pool2d_forward(x, g).to_vector() == std::vector<float>{-1.f, -3.f, -9.f, -11.f});  // never 0
  CHECK(cuda::avg_pool2d_forward(x, g).to_vector()[3] == doctest::Approx(-13.5));  // 4 inside positions

  // Ties: the gradient goes to the first maximum only.
  const auto t = Tensor<Cuda>::filled(Shape::nhwc(1, 2, 2, 1), 3.f);
  const auto gt = ConvGeometry::make(t.shape(), 2, 2, Padding::valid(), 1, "test");
  CHECK(cuda::max_pool2d_backward(t, Tensor<Cuda>::filled(Shape::nhwc(1, 1, 1, 1), 1.f), gt).to_vector() ==
        std::vector<float>{1.f, 0.f, 0.f, 0.f});

  CHECK_THROWS_WITH_AS(cuda::max_pool2d_forward(t, ConvGeometry::make(t.shape(), 2, 1, Padding::symmetric(2), 1, "t")),
                       doctest::Contains("smaller than the 2x2 window"), ValueError);
  CHECK_THROWS_WITH_AS(cuda::avg_pool2d_backward(x, g), doctest::Contains("cuda::avg_pool2d_backward: dy"), ShapeError);
  CHECK_THROWS_WITH_AS(cuda::max_pool2d_backward(t, x, g), doctest::Contains("cuda::max_pool2d_backward: x"),
                       ShapeError);
}

TEST_CASE("MaxPool2D<Cuda> and AvgPool2D<Cuda> equal the Cpu layers bit for bit") {
  const Shape in = Shape::nhwc(2, 9, 8, 6);
  const auto xs = random_floats(static_cast<size_t>(in.numel()), 31);
  auto compare = [&](Module<Cpu>& host, Module<Cuda>& dev) {
    INFO("layer: " << dev.name());
    auto y_cpu = host.forward(Tensor<Cpu>::from_vector(in, xs), Mode::Train);
    auto y_gpu = dev.forward(Tensor<Cuda>::from_vector(in, xs), Mode::Train);
    REQUIRE(y_gpu.shape() == y_cpu.shape());
    CHECK(same_bits(y_gpu.to_vector(), y_cpu.to_vector()));
    const auto dys = random_floats(static_cast<size_t>(y_cpu.numel()), 32);
    auto dx_cpu = host.backward(Tensor<Cpu>::from_vector(y_cpu.shape(), dys));
    auto dx_gpu = dev.backward(Tensor<Cuda>::from_vector(y_cpu.shape(), dys));
    // The same additions in the same order; only FMA contraction of the avg backward's dy * (1/count)
    // could differ between compilers, so allow one rounding there.
    SKN_CHECK_CLOSE(dx_gpu.to_vector(), dx_cpu.to_vector(), 1e-7, 1e-6);
  };
  MaxPool2D<Cpu> max_cpu(3, 2, Padding::same());
  MaxPool2D<Cuda> max_gpu(3, 2, Padding::same());
  compare(max_cpu, max_gpu);
  MaxPool2D<Cpu> stem_cpu(3, 2, Padding::symmetric(1));
  MaxPool2D<Cuda> stem_gpu(3, 2, Padding::symmetric(1));
  compare(stem_cpu, stem_gpu);
  AvgPool2D<Cpu> avg_cpu(2);
  AvgPool2D<Cuda> avg_gpu(2);
  compare(avg_cpu, avg_gpu);
  AvgPool2D<Cpu> avg3_cpu(3, 1, Padding::same());
  AvgPool2D<Cuda> avg3_gpu(3, 1, Padding::same());
  compare(avg3_cpu, avg3_gpu);
}
