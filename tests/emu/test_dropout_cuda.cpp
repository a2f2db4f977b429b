// The Cuda dropout and drop-connect masks (kernels/dropout.cuh) through the emulator: bit-identical to
// the CPU op and to the Philox reference mask for the same (seed, stream, step), forward and backward,
// in three thread orders; sizes that are not multiples of a Philox block (4), 64-bit seeds, and the
// Dropout<Cuda> / DropConnect<Cuda> layers equal their Cpu twins.
#include <doctest/doctest.h>

#include <cstdint>
#include <vector>

#include "cuda_ops_util.hpp"
#include "reference/check.hpp"
#include "reference/dropout.hpp"
#include "skinnet/cpu/dropout.hpp"
#include "skinnet/cuda.hpp"
#include "skinnet/cuda/dropout.hpp"
#include "skinnet/layers/drop_connect.hpp"
#include "skinnet/layers/dropout.hpp"

using namespace skinnet;
using namespace skinnet::cuda_test;

namespace {
struct MaskCase {
  Shape s;
  float rate;
  uint64_t seed;
  uint32_t stream, step;
};
// n = 1, 3 (< one Philox block), 1155 (ragged last block, several thread blocks), a 64-bit seed, a
// large step and stream, rate 0 (keeps everything).
const MaskCase kMaskCases[] = {{Shape{1}, 0.5f, 1, 0, 0},
                               {Shape{3}, 0.3f, 7, 2, 5},
                               {Shape{3, 5, 7, 11}, 0.2f, 2024, 4, 17},
                               {Shape{2, 9, 7, 5}, 0.5f, 0x123456789abcdef0ull, 0xfffffff0u, 123456789u},
                               {Shape{4, 6}, 0.0f, 99, 1, 1}};

// A nonzero input, so a dropped element (0) and a kept one (x / keep) are always distinguishable.
std::vector<double> nonzero(int64_t n, uint64_t seed) {
  auto v = random_rounded(n, seed, 0.5, 2.0);
  for (size_t i = 0; i < v.size(); i += 2) v[i] = -v[i];
  return v;
}
}  // namespace

TEST_CASE("cuda dropout mask is bit-identical to the CPU op and equals the Philox reference") {
  uint64_t seed = 6000;
  for (const MaskCase& c : kMaskCases) {
    CAPTURE(c.s.str());
    CAPTURE(c.seed);
    const auto xv = nonzero(c.s.numel(), ++seed), dyv = nonzero(c.s.numel(), ++seed);
    const Outputs got = in_all_thread_orders([&] {
      auto y = cuda::dropout_forward(tensor_of<Cuda>(c.s, xv), c.rate, c.seed, c.stream, c.step);
      auto dx = cuda::dropout_backward(tensor_of<Cuda>(c.s, dyv), c.rate, c.seed, c.stream, c.step);
      return Outputs{y.to_vector(), dx.to_vector()};
    });
    const auto yc = cpu::dropout_forward(tensor_of<Cpu>(c.s, xv), c.rate, c.seed, c.stream, c.step).to_vector();
    const auto dxc = cpu::dropout_backward(tensor_of<Cpu>(c.s, dyv), c.rate, c.seed, c.stream, c.step).to_vector();
    CHECK(same_bits(got[0], yc));
    CHECK(same_bits(got[1], dxc));
    const auto mask = ref::dropout_mask(c.s.numel(), c.rate, c.seed, c.stream, c.step);
    std::vector<double> want_y(mask.size()), want_dx(mask.size());
    for (size_t i = 0; i < mask.size(); ++i) {
      want_y[i] = xv[i] * mask[i];
      want_dx[i] = dyv[i] * mask[i];
    }
    SKN_CHECK_CLOSE(got[0], want_y, 1e-6, 1e-6);
    SKN_CHECK_CLOSE(got[1], want_dx, 1e-6, 1e-6);
  }
}

TEST_CASE("cuda dropout masks differ between steps and streams") {
  const Shape s{64};
  const auto xv = nonzero(64, 1);
  auto x = tensor_of<Cuda>(s, xv);
  const auto a = cuda::dropout_forward(x, 0.5f, 5, 1, 1).to_vector();
  CHECK_FALSE(same_bits(a, cuda::dropout_forward(x, 0.5f, 5, 1, 2).to_vector()));
  CHECK_FALSE(same_bits(a, cuda::dropout_forward(x, 0.5f, 5, 2, 1).to_vector()));
  CHECK(same_bits(a, cuda::dropout_forward(x, 0.5f, 5, 1, 1).to_vector()));
  CHECK_THROWS_AS(cuda::dropout_forward(x, 1.0f, 5, 1, 1), ValueError);
  CHECK_THROWS_AS(cuda::drop_connect_forward(x, -0.1f, 5, 1, 1), ValueError);
}

TEST_CASE("cuda drop-connect drops whole samples, bit-identical to the CPU op") {
  uint64_t seed = 6100;
  for (const MaskCase& c : kMaskCases) {
    CAPTURE(c.s.str());
    const Shape s = c.s.rank() == 1 ? Shape{c.s[0], 1} : c.s;  // first dimension = samples
    const int64_t N = s[0], per = s.numel() / N;
    const auto xv = nonzero(s.numel(), ++seed), dyv = nonzero(s.numel(), ++seed);
    const Outputs got = in_all_thread_orders([&] {
      auto y = cuda::drop_connect_forward(tensor_of<Cuda>(s, xv), c.rate, c.seed, c.stream, c.step);
      auto dx = cuda::drop_connect_backward(tensor_of<Cuda>(s, dyv), c.rate, c.seed, c.stream, c.step);
      return Outputs{y.to_vector(), dx.to_vector()};
    });
    CHECK(same_bits(got[0],
                    cpu::drop_connect_forward(tensor_of<Cpu>(s, xv), c.rate, c.seed, c.stream, c.step).to_vector()));
    CHECK(same_bits(got[1],
                    cpu::drop_connect_backward(tensor_of<Cpu>(s, dyv), c.rate, c.seed, c.stream, c.step).to_vector()));
    const auto m = ref::drop_connect_mask(N, c.rate, c.seed, c.stream, c.step);
    std::vector<double> want(xv.size());
    for (int64_t n = 0; n < N; ++n)
      for (int64_t i = 0; i < per; ++i) want[n * per + i] = xv[n * per + i] * m[n];
    SKN_CHECK_CLOSE(got[0], want, 1e-6, 1e-6);
  }
  // 64 samples: this seed drops some and keeps others, so both branches are exercised.
  const Shape s{64, 2, 1, 3};
  const auto y = cuda::drop_connect_forward(tensor_of<Cuda>(s, nonzero(s.numel(), 3)), 0.3f, 2024, 4, 17).to_vector();
  int64_t dropped = 0;
  for (int64_t n = 0; n < 64; ++n) dropped += y[n * 6] == 0.f;
  CHECK(dropped > 0);
  CHECK(dropped < 64);
}

TEST_CASE("Dropout and DropConnect layers on Cuda equal their Cpu twins") {
  const Shape s{5, 3, 3, 4};
  const auto xv = nonzero(s.numel(), 11), dyv = nonzero(s.numel(), 12);
  Dropout<Cpu> dh(0.4f);
  Dropout<Cuda> dd(0.4f);
  DropConnect<Cpu> ch(0.4f);
  DropConnect<Cuda> cd(0.4f);
  uint32_t next_h = 3, next_d = 3;
  dh.set_rng(77, next_h);
  dd.set_rng(77, next_d);
  ch.set_rng(77, next_h);
  cd.set_rng(77, next_d);
  for (uint32_t step : {0u, 1u, 9u}) {
    CAPTURE(step);
    dh.set_step(step);
    dd.set_step(step);
    ch.set_step(step);
    cd.set_step(step);
    CHECK(same_bits(dd.forward(tensor_of<Cuda>(s, xv), Mode::Train).to_vector(),
                    dh.forward(tensor_of<Cpu>(s, xv), Mode::Train).to_vector()));
    CHECK(same_bits(dd.backward(tensor_of<Cuda>(s, dyv)).to_vector(), dh.backward(tensor_of<Cpu>(s, dyv)).to_vector()));
    CHECK(same_bits(cd.forward(tensor_of<Cuda>(s, xv), Mode::Train).to_vector(),
                    ch.forward(tensor_of<Cpu>(s, xv), Mode::Train).to_vector()));
    CHECK(same_bits(cd.backward(tensor_of<Cuda>(s, dyv)).to_vector(), ch.backward(tensor_of<Cpu>(s, dyv)).to_vector()));
  }
}
