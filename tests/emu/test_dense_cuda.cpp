// The Cuda dense op (skinnet::cuda::gemm + kernels/elementwise.cuh bias + kernels/reduce.cuh bias
// gradient) and global average pooling (kernels/reduce.cuh) through the emulator: forward and all
// gradients against the float64 reference in three thread orders; Dense<Cuda> and GlobalAvgPool<Cuda>
// equal their Cpu twins.
#include <doctest/doctest.h>

#include <vector>

#include "cuda_ops_util.hpp"
#include "reference/check.hpp"
#include "reference/dense.hpp"
#include "reference/pool_global.hpp"
#include "skinnet/cuda.hpp"
#include "skinnet/cuda/dense.hpp"
#include "skinnet/cuda/global_pool.hpp"
#include "skinnet/layers/dense.hpp"
#include "skinnet/layers/global_avg_pool.hpp"

using namespace skinnet;
using namespace skinnet::cuda_test;

TEST_CASE("cuda dense forward and backward match the float64 reference, with and without bias") {
  struct Case {
    Shape x;
    int64_t out;
    bool bias;
  };
  // A single row, classifier heads, a rank-4 input (a 1x1 conv over NHWC rows), 700 rows (two chunks
  // of the bias-gradient column sum), widths that are not multiples of 8 / 16.
  const Case cases[] = {{Shape{1, 5}, 3, true},        {Shape{4, 37}, 7, true},  {Shape{3, 19}, 11, false},
                        {Shape{2, 3, 5, 13}, 9, true}, {Shape{700, 6}, 33, true}};
  uint64_t seed = 5000;
  for (const Case& c : cases) {
    CAPTURE(c.x.str());
    CAPTURE(c.bias);
    const int64_t in = c.x[c.x.rank() - 1], rows = c.x.numel() / in, out = c.out;
    const auto xv = random_rounded(c.x.numel(), ++seed);
    const auto wv = random_rounded(in * out, ++seed);
    const auto bv = c.bias ? random_rounded(out, ++seed) : std::vector<double>{};
    const auto dyv = random_rounded(rows * out, ++seed);
    const auto prior_w = random_rounded(in * out, ++seed), prior_b = random_rounded(out, ++seed);
    const auto want_y = ref::dense_forward(xv, rows, in, out, wv, bv);
    auto want = ref::dense_backward(xv, rows, in, out, wv, dyv);
    for (size_t i = 0; i < want.dw.size(); ++i) want.dw[i] += prior_w[i];  // gradients accumulate
    for (size_t i = 0; i < want.db.size(); ++i) want.db[i] += prior_b[i];
    const Outputs got = in_all_thread_orders([&] {
      auto x = tensor_of<Cuda>(c.x, xv), w = tensor_of<Cuda>(Shape{in, out}, wv);
      auto b = c.bias ? tensor_of<Cuda>(Shape{out}, bv) : Tensor<Cuda>();
      auto y = cuda::dense_forward(x, w, b);
      CHECK(y.shape() == cpu::detail::with_last_dim(c.x, out));
      auto dw = tensor_of<Cuda>(Shape{in, out}, prior_w);
      auto db = c.bias ? tensor_of<Cuda>(Shape{out}, prior_b) : Tensor<Cuda>();
      auto dx = cuda::dense_backward(tensor_of<Cuda>(y.shape(), dyv), x, w, dw, db);
      CHECK(dx.shape() == c.x);
      return Outputs{y.to_vector(), dx.to_vector(), dw.to_vector(), db.to_vector()};
    });
    SKN_CHECK_CLOSE(got[0], want_y, 1e-5, 1e-5);
    SKN_CHECK_CLOSE(got[1], want.dx, 1e-5, 1e-5);
    SKN_CHECK_CLOSE(got[2], want.dw, 1e-4, 1e-5);
    if (c.bias) SKN_CHECK_CLOSE(got[3], want.db, 1e-4, 1e-5);
    else CHECK(got[3].empty());
  }
}

TEST_CASE("cuda dense rejects a weight of the wrong size") {
  auto x = Tensor<Cuda>::zeros(Shape{2, 4});
  auto w = Tensor<Cuda>::zeros(Shape{5, 3});
  CHECK_THROWS_WITH_AS(cuda::dense_forward(x, w, Tensor<Cuda>()), doctest::Contains("weight [5x3]"), ShapeError);
}

TEST_CASE("cuda global average pooling forward and backward match the float64 reference") {
  uint64_t seed = 5100;
  // Batch 1, one pixel, odd sizes, 33 channels (two 32-channel tiles), 600 pixels (two chunks).
  for (const Shape& s : {Shape{1, 5, 7, 3}, Shape{3, 1, 1, 10}, Shape{2, 9, 11, 33}, Shape{2, 20, 30, 5}}) {
    CAPTURE(s.str());
    const int64_t N = s.n(), HW = s.h() * s.w(), C = s.c();
    const auto xv = random_rounded(s.numel(), ++seed, -1, 3), dyv = random_rounded(N * C, ++seed);
    const Outputs got = in_all_thread_orders([&] {
      auto y = cuda::global_avg_pool_forward(tensor_of<Cuda>(s, xv));
      CHECK(y.shape() == Shape{N, C});
      auto dx = cuda::global_avg_pool_backward(tensor_of<Cuda>(Shape{N, C}, dyv), s);
      return Outputs{y.to_vector(), dx.to_vector()};
    });
    SKN_CHECK_CLOSE(got[0], ref::global_avg_pool(xv, N, HW, C), 1e-6, 1e-6);
    SKN_CHECK_CLOSE(got[1], ref::global_avg_pool_backward(dyv, N, HW, C), 1e-7, 1e-6);
  }
  CHECK_THROWS_AS(cuda::global_avg_pool_forward(Tensor<Cuda>::zeros(Shape{2, 3})), ShapeError);
}

TEST_CASE("Dense and GlobalAvgPool layers on Cuda equal their Cpu twins") {
  const Shape s{2, 3, 5, 12};
  const auto xv = random_rounded(s.numel(), 91), wv = random_rounded(12 * 6, 92), bv = random_rounded(6, 93);
  const auto dyv = random_rounded(2 * 6, 94);
  GlobalAvgPool<Cpu> pool_h;
  GlobalAvgPool<Cuda> pool_d;
  Dense<Cpu> dense_h(12, 6);
  Dense<Cuda> dense_d(12, 6);
  dense_h.weight().value = tensor_of<Cpu>(Shape{12, 6}, wv);
  dense_h.bias().value = tensor_of<Cpu>(Shape{6}, bv);
  dense_d.weight().value = tensor_of<Cuda>(Shape{12, 6}, wv);
  dense_d.bias().value = tensor_of<Cuda>(Shape{6}, bv);
  auto yh = dense_h.forward(pool_h.forward(tensor_of<Cpu>(s, xv), Mode::Train), Mode::Train);
  auto yd = dense_d.forward(pool_d.forward(tensor_of<Cuda>(s, xv), Mode::Train), Mode::Train);
  SKN_CHECK_CLOSE(yd.to_vector(), yh.to_vector(), 1e-6, 1e-6);
  auto dxh = pool_h.backward(dense_h.backward(tensor_of<Cpu>(Shape{2, 6}, dyv)));
  auto dxd = pool_d.backward(dense_d.backward(tensor_of<Cuda>(Shape{2, 6}, dyv)));
  SKN_CHECK_CLOSE(dxd.to_vector(), dxh.to_vector(), 1e-7, 1e-6);
  SKN_CHECK_CLOSE(dense_d.weight().grad.to_vector(), dense_h.weight().grad.to_vector(), 1e-7, 1e-6);
  SKN_CHECK_CLOSE(dense_d.bias().grad.to_vector(), dense_h.bias().grad.to_vector(), 1e-7, 1e-6);
}
