// The Cuda squeeze-and-excitation ops (kernels/se.cuh, the gate gradient's column sum in
// kernels/reduce.cuh) through the emulator: the ops against the float64 reference and the CPU, in
// three thread orders; SEBlock<Cuda> (squeeze, two dense layers, activations, scale) against the float64
// SE reference for the output and every gradient, and against SEBlock<Cpu>.
#include <doctest/doctest.h>

#include <vector>

#include "cuda_ops_util.hpp"
#include "reference/check.hpp"
#include "reference/se.hpp"
#include "skinnet/cpu/se.hpp"
#include "skinnet/cuda.hpp"
#include "skinnet/cuda/activation.hpp"
#include "skinnet/cuda/dense.hpp"
#include "skinnet/cuda/global_pool.hpp"
#include "skinnet/cuda/se.hpp"
#include "skinnet/layers/se_block.hpp"

using namespace skinnet;
using namespace skinnet::cuda_test;

namespace {
// Batch 1, odd spatial sizes, a 1x1 map, 17 / 33 / 40 channels (not multiples of 8 or 16), 600 pixels
// (two chunks of the gate-gradient column sum).
const Shape kSeShapes[] = {Shape{1, 7, 7, 16}, Shape{3, 5, 3, 17}, Shape{2, 1, 1, 40}, Shape{2, 9, 11, 33},
                           Shape{2, 20, 30, 3}};
}  // namespace

TEST_CASE("cuda SE scale, gate gradient and input gradient match the float64 definitions and the CPU") {
  uint64_t seed = 7000;
  for (const Shape& s : kSeShapes) {
    CAPTURE(s.str());
    const int64_t N = s.n(), HW = s.h() * s.w(), C = s.c();
    const auto xv = random_rounded(s.numel(), ++seed, -2, 2), dyv = random_rounded(s.numel(), ++seed);
    const auto gv = random_rounded(N * C, ++seed, 0, 1), dsv = random_rounded(N * C, ++seed);
    std::vector<double> want_y(xv.size()), want_dx(xv.size()), want_dg(N * C, 0.0);
    for (int64_t n = 0; n < N; ++n)
      for (int64_t p = 0; p < HW; ++p)
        for (int64_t c = 0; c < C; ++c) {
          const int64_t i = (n * HW + p) * C + c;
          want_y[i] = xv[i] * gv[n * C + c];
          want_dx[i] = dyv[i] * gv[n * C + c] + dsv[n * C + c] / static_cast<double>(HW);
          want_dg[n * C + c] += dyv[i] * xv[i];
        }
    const Outputs got = in_all_thread_orders([&] {
      auto x = tensor_of<Cuda>(s, xv), dy = tensor_of<Cuda>(s, dyv);
      auto g = tensor_of<Cuda>(Shape{N, C}, gv), ds = tensor_of<Cuda>(Shape{N, C}, dsv);
      return Outputs{cuda::se_scale_forward(x, g).to_vector(), cuda::se_gate_gradient(dy, x).to_vector(),
                     cuda::se_input_gradient(dy, g, ds).to_vector()};
    });
    SKN_CHECK_CLOSE(got[0], want_y, 1e-6, 1e-6);
    SKN_CHECK_CLOSE(got[1], want_dg, 1e-5, 1e-6);
    SKN_CHECK_CLOSE(got[2], want_dx, 1e-6, 1e-6);
    auto x = tensor_of<Cpu>(s, xv), dy = tensor_of<Cpu>(s, dyv);
    auto g = tensor_of<Cpu>(Shape{N, C}, gv), ds = tensor_of<Cpu>(Shape{N, C}, dsv);
    CHECK(same_bits(got[0], cpu::se_scale_forward(x, g).to_vector()));  // one float product each
    SKN_CHECK_CLOSE(got[1], cpu::se_gate_gradient(dy, x).to_vector(), 1e-7, 1e-6);
    SKN_CHECK_CLOSE(got[2], cpu::se_input_gradient(dy, g, ds).to_vector(), 1e-7, 1e-6);
  }
  auto x = Tensor<Cuda>::zeros(Shape{2, 3, 3, 4});
  CHECK_THROWS_WITH_AS(cuda::se_scale_forward(x, Tensor<Cuda>::zeros(Shape{2, 5})), doctest::Contains("gate"),
                       ShapeError);
}

TEST_CASE("SEBlock on Cuda matches the float64 SE reference and SEBlock on Cpu: output and every gradient") {
  struct Case {
    Shape s;
    int64_t Cr;
    Act inner;
  };
  uint64_t seed = 7100;
  for (const Case& c : {Case{Shape{1, 7, 7, 16}, 4, Act::ReLU}, Case{Shape{3, 5, 3, 17}, 5, Act::Swish},
                        Case{Shape{2, 1, 1, 40}, 10, Act::Swish}}) {
    CAPTURE(c.s.str());
    const int64_t N = c.s.n(), HW = c.s.h() * c.s.w(), C = c.s.c();
    ref::SEParams p{C,
                    c.Cr,
                    c.inner == Act::ReLU ? ref::RefAct::ReLU : ref::RefAct::Swish,
                    random_rounded(C * c.Cr, ++seed, -0.8, 0.8),
                    random_rounded(c.Cr, ++seed, -0.3, 0.3),
                    random_rounded(c.Cr * C, ++seed, -0.8, 0.8),
                    random_rounded(C, ++seed, -0.3, 0.3)};
    const auto xv = random_rounded(c.s.numel(), ++seed, -2, 2), dyv = random_rounded(c.s.numel(), ++seed);
    auto setup = [&](auto& se, auto tag) {
      using D = decltype(tag);
      se.reduce_weight().value = tensor_of<D>(Shape{1, 1, C, c.Cr}, p.w1);
      se.reduce_bias().value = tensor_of<D>(Shape{c.Cr}, p.b1);
      se.expand_weight().value = tensor_of<D>(Shape{1, 1, c.Cr, C}, p.w2);
      se.expand_bias().value = tensor_of<D>(Shape{C}, p.b2);
    };
    const Outputs got = in_all_thread_orders([&] {
      SEBlock<Cuda> se(C, c.Cr, c.inner);
      setup(se, Cuda{});
      auto y = se.forward(tensor_of<Cuda>(c.s, xv), Mode::Train);
      auto dx = se.backward(tensor_of<Cuda>(c.s, dyv));
      return Outputs{y.to_vector(), dx.to_vector(), se.reduce_weight().grad.to_vector(),
                     se.reduce_bias().grad.to_vector(), se.expand_weight().grad.to_vector(),
                     se.expand_bias().grad.to_vector()};
    });
    const auto f = ref::se_forward(xv, N, HW, p);
    const auto g = ref::se_backward(xv, N, HW, p, dyv);
    SKN_CHECK_CLOSE(got[0], f.y, 1e-5, 1e-5);
    SKN_CHECK_CLOSE(got[1], g.dx, 1e-5, 1e-4);
    SKN_CHECK_CLOSE(got[2], g.dw1, 1e-5, 1e-4);
    SKN_CHECK_CLOSE(got[3], g.db1, 1e-5, 1e-4);
    SKN_CHECK_CLOSE(got[4], g.dw2, 1e-5, 1e-4);
    SKN_CHECK_CLOSE(got[5], g.db2, 1e-5, 1e-4);

    SEBlock<Cpu> host(C, c.Cr, c.inner);
    setup(host, Cpu{});
    SKN_CHECK_CLOSE(got[0], host.forward(tensor_of<Cpu>(c.s, xv), Mode::Train).to_vector(), 1e-6, 1e-6);
    SKN_CHECK_CLOSE(got[1], host.backward(tensor_of<Cpu>(c.s, dyv)).to_vector(), 1e-6, 1e-5);
    SKN_CHECK_CLOSE(got[2], host.reduce_weight().grad.to_vector(), 1e-6, 1e-5);
    SKN_CHECK_CLOSE(got[5], host.expand_bias().grad.to_vector(), 1e-6, 1e-5);
  }
}
