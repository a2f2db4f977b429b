#pragma once
// Dense 2-D convolution on the Cuda backend: host launchers for kernels/conv.cuh. Same functions and
// contract as include/skinnet/cpu/conv2d.hpp, with Tensor<Cuda>:
//   conv2d_forward          returns y; bias may be nullptr.
//   conv2d_backward_input   returns dx.
//   conv2d_backward_params  ADDS dL/dW into dw and, when dbias is not null, dL/dbias into *dbias
//                           (each computed whole first, then added in one step).
// Every pass is one implicit-GEMM kernel (no im2col buffer in device memory); the weight and bias
// gradients reduce over all pixels in a fixed order (split partial sums, then add_split_sums), so the
// results are bit-identical from run to run. Launches are asynchronous on the default stream.
#include <algorithm>
#include <cstdint>
#include <limits>

#include "skinnet/core/conv_geometry.hpp"
#include "skinnet/core/error.hpp"
#include "skinnet/core/tensor.hpp"
#include "skinnet/cuda/device_memory.hpp"
// The runtime layer and the kernels last (see cuda/gemm.hpp for why).
#include "skinnet/cuda/runtime.hpp"
#include "kernels/conv.cuh"

namespace skinnet::cuda {

namespace conv_detail {

// ConvGeometry -> the kernels' 32-bit dimensions, refusing sizes whose element counts the kernels'
// 32-bit row and column indices could not address. `op` names the caller in the error.
inline kernels::ConvDims to_dims(const ConvGeometry& g, const char* op) {
  constexpr int64_t kMax = std::numeric_limits<int32_t>::max();
  const int64_t biggest = std::max({g.n * g.in_h * g.in_w, g.out_pixels(), g.patch(), g.k_h * g.k_w * g.out_c,
                                    g.n * g.in_h * g.in_w * g.in_c, g.out_pixels() * g.out_c,
                                    g.patch() * g.out_c});
  SKN_REQUIRE(biggest <= kMax, ValueError, op, ": the geometry ", g.in_shape().str(), " -> ", g.out_shape().str(),
              " has ", biggest, " elements in one dimension, beyond the kernels' 32-bit indices");
  auto i32 = [](int64_t v) { return static_cast<int>(v); };
  return {i32(g.n),   i32(g.in_h),    i32(g.in_w),     i32(g.in_c),    i32(g.k_h), i32(g.k_w),  i32(g.stride_h),
          i32(g.stride_w), i32(g.pad_top), i32(g.pad_left), i32(g.out_h), i32(g.out_w), i32(g.out_c)};
}

inline void check_shapes(const ConvGeometry& g, const Shape& x_or_dy, bool is_dy, const Tensor<Cuda>& w,
                         const char* op) {
  const Shape want = is_dy ? g.out_shape() : g.in_shape();
  SKN_REQUIRE(x_or_dy == want, ShapeError, op, ": ", is_dy ? "dy" : "x", " has shape ", x_or_dy.str(),
              ", the geometry expects ", want.str());
  const Shape wshape{g.k_h, g.k_w, g.in_c, g.out_c};
  SKN_REQUIRE(w.shape() == wshape, ShapeError, op, ": weight has shape ", w.shape().str(), ", expected HWIO ",
              wshape.str());
}

// Launches conv_gemm<Tile, Problem> over an M x N output with `splits` K chunks of k_chunk.
template <class Tile, class Problem>
void launch_conv_gemm(const Problem& p, int64_t M, int64_t N, int splits, int k_chunk, cudaStream_t stream) {
  const int64_t tiles = ((M + Tile::BM - 1) / Tile::BM) * ((N + Tile::BN - 1) / Tile::BN);
  SKN_REQUIRE(tiles <= std::numeric_limits<int32_t>::max(), ValueError, "skinnet::cuda conv: ", M, " x ", N,
              " output needs ", tiles, " blocks, more than a grid row holds");
  auto* kernel = &kernels::conv_gemm<Tile, Problem>;
  SKN_LAUNCH(kernel, dim3(static_cast<unsigned>(tiles), static_cast<unsigned>(splits)), dim3(Tile::kThreads), 0,
             stream, p, k_chunk);
}

// The tile shape for an output of N columns: narrow tiles when N <= 32 (a 64-wide tile would leave at
// least half of its threads computing columns that do not exist), the square tile otherwise.
inline bool use_narrow_tile(int64_t N) { return N <= kernels::kConvNarrowMaxColumns; }

template <class Tile>
int64_t tile_count(int64_t M, int64_t N) {
  return ((M + Tile::BM - 1) / Tile::BM) * ((N + Tile::BN - 1) / Tile::BN);
}

// How many K chunks the weight gradient's sum over `pixels` is split into: enough blocks to fill a
// large GPU (about two per SM of an H100, together with the output tiles), but no chunk shorter than
// kMinPixelsPerSplit (each chunk's partial tile costs a write and a read). Depends on the shape only,
// never on the device, so results are the same everywhere.
inline constexpr int64_t kTargetBlocks = 264;
inline constexpr int64_t kMinPixelsPerSplit = 256;
inline constexpr int64_t kMaxSplits = 64;

struct SplitPlan {
  int splits, chunk;  // chunk: pixels per split, a multiple of the K slice (so slices never straddle)
};
inline SplitPlan plan_splits(int64_t pixels, int64_t tiles, int64_t granule) {
  const int64_t by_work = (pixels + kMinPixelsPerSplit - 1) / kMinPixelsPerSplit;
  const int64_t by_blocks = (kTargetBlocks + tiles - 1) / std::max<int64_t>(tiles, 1);
  int64_t splits = std::clamp<int64_t>(std::min(by_work, by_blocks), 1, kMaxSplits);
  int64_t chunk = (pixels + splits - 1) / splits;
  chunk = (chunk + granule - 1) / granule * granule;
  splits = (pixels + chunk - 1) / chunk;  // rounding the chunk up may leave the last split empty
  return {static_cast<int>(splits), static_cast<int>(chunk)};
}

// dst[0, count) += sum of the `splits` partials (stride apart), in split order.
inline void add_split_sums(const float* partial, int splits, int64_t stride, int64_t count, float* dst,
                           cudaStream_t stream) {
  if (count == 0) return;
  constexpr int kThreads = 256;
  const int64_t blocks = (count + kThreads - 1) / kThreads;
  SKN_LAUNCH(kernels::add_split_sums<float>, dim3(static_cast<unsigned>(blocks)), dim3(kThreads), 0, stream, partial,
             splits, stride, count, dst);
}

// out[c] += sum over the rows of m [rows x C], deterministically (split partials, then add_split_sums).
inline void add_column_sums(const float* m, int64_t rows, int64_t C, float* out, cudaStream_t stream) {
  using kernels::kColumnSumChannels;
  using kernels::kColumnSumLanes;
  constexpr int64_t kRowsPerSplit = 1024;
  const int splits = static_cast<int>(std::clamp<int64_t>((rows + kRowsPerSplit - 1) / kRowsPerSplit, 1, kMaxSplits));
  const int rows_per_split = static_cast<int>((rows + splits - 1) / splits);
  Tensor<Cuda> partial(Shape{splits * C});
  const dim3 grid(static_cast<unsigned>((C + kColumnSumChannels - 1) / kColumnSumChannels), static_cast<unsigned>(splits));
  SKN_LAUNCH(kernels::column_sums<float>, grid, dim3(kColumnSumChannels, kColumnSumLanes), 0, stream, m,
             static_cast<int>(rows), static_cast<int>(C), rows_per_split, partial.data());
  add_split_sums(partial.data(), splits, C, C, out, stream);
}

}  // namespace conv_detail

inline Tensor<Cuda> conv2d_forward(const Tensor<Cuda>& x, const Tensor<Cuda>& w, const Tensor<Cuda>* bias,
                                   const ConvGeometry& g) {
  constexpr const char* op = "cuda::conv2d_forward";
  conv_detail::check_shapes(g, x.shape(), false, w, op);
  if (bias)
    SKN_REQUIRE(bias->shape() == Shape{g.out_c}, ShapeError, op, ": bias has shape ", bias->shape().str(),
                ", expected [", g.out_c, "]");
  const kernels::ConvDims d = conv_detail::to_dims(g, op);
  Tensor<Cuda> y(g.out_shape());
  const kernels::ConvForwardProblem p{d, x.data(), w.data(), bias ? bias->data() : nullptr, y.data()};
  const int64_t M = g.out_pixels(), N = g.out_c, K = g.patch();
  if (conv_detail::use_narrow_tile(N))
    conv_detail::launch_conv_gemm<kernels::ConvTileNarrow>(p, M, N, 1, static_cast<int>(K), 0);
  else
    conv_detail::launch_conv_gemm<kernels::ConvTile>(p, M, N, 1, static_cast<int>(K), 0);
  return y;
}

inline Tensor<Cuda> conv2d_backward_input(const Tensor<Cuda>& dy, const Tensor<Cuda>& w, const ConvGeometry& g) {
  constexpr const char* op = "cuda::conv2d_backward_input";
  conv_detail::check_shapes(g, dy.shape(), true, w, op);
  const kernels::ConvDims d = conv_detail::to_dims(g, op);
  Tensor<Cuda> dx(g.in_shape());
  const kernels::ConvBackwardInputProblem p{d, dy.data(), w.data(), dx.data()};
  const int64_t M = g.in_pixels(), N = g.in_c, K = g.k_h * g.k_w * g.out_c;
  if (conv_detail::use_narrow_tile(N))
    conv_detail::launch_conv_gemm<kernels::ConvTileNarrow>(p, M, N, 1, static_cast<int>(K), 0);
  else
    conv_detail::launch_conv_gemm<kernels::ConvTile>(p, M, N, 1, static_cast<int>(K), 0);
  return dx;
}

inline void conv2d_backward_params(const Tensor<Cuda>& x, const Tensor<Cuda>& dy, const ConvGeometry& g,
                                   Tensor<Cuda>& dw, Tensor<Cuda>* dbias) {
  constexpr const char* op = "cuda::conv2d_backward_params";
  conv_detail::check_shapes(g, x.shape(), false, dw, op);
  SKN_REQUIRE(dy.shape() == g.out_shape(), ShapeError, op, ": dy has shape ", dy.shape().str(),
              ", the geometry expects ", g.out_shape().str());
  if (dbias)
    SKN_REQUIRE(dbias->shape() == Shape{g.out_c}, ShapeError, op, ": dbias has shape ", dbias->shape().str(),
                ", expected [", g.out_c, "]");
  const kernels::ConvDims d = conv_detail::to_dims(g, op);
  const int64_t M = g.patch(), N = g.out_c, pixels = g.out_pixels();
  const bool narrow = conv_detail::use_narrow_tile(N);
  const int64_t tiles = narrow ? conv_detail::tile_count<kernels::ConvTileNarrow>(M, N)
                               : conv_detail::tile_count<kernels::ConvTile>(M, N);
  static_assert(kernels::ConvTileNarrow::BK == kernels::ConvTile::BK, "one K-slice granule for both tiles");
  const conv_detail::SplitPlan plan = conv_detail::plan_splits(pixels, tiles, kernels::ConvTile::BK);
  Tensor<Cuda> partial(Shape{plan.splits * M * N});
  const kernels::ConvBackwardWeightProblem p{d, x.data(), dy.data(), partial.data()};
  if (narrow)
    conv_detail::launch_conv_gemm<kernels::ConvTileNarrow>(p, M, N, plan.splits, plan.chunk, 0);
  else
    conv_detail::launch_conv_gemm<kernels::ConvTile>(p, M, N, plan.splits, plan.chunk, 0);
  conv_detail::add_split_sums(partial.data(), plan.splits, M * N, M * N, dw.data(), 0);
  if (dbias) conv_detail::add_column_sums(dy.data(), pixels, g.out_c, dbias->data(), 0);
}

}  // namespace skinnet::cuda
