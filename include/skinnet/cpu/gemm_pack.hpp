#pragma once
// Packing for the blocked SGEMM (gemm.hpp): copies a block of op(A) or op(B) into the contiguous,
// 64-byte aligned layout the micro-kernel reads, so the kernel's inner loop touches memory strictly
// sequentially whatever the transposes and leading dimensions were. Transposes are absorbed here and
// nowhere else. Partial micro-panels at the matrix edges are padded, so the kernel always computes a
// full tile; the padding only feeds rows/columns of the tile that are never stored, and it is zero
// rather than left uninitialised so stale NaN or denormal bits can never slow the FMAs down.
//
//   packed A: micro-panels of MR rows; within a panel, column k holds op(A)(i0..i0+MR, k) contiguously.
//   packed B: micro-panels of NR columns; within a panel, row k holds op(B)(k, j0..j0+NR) contiguously.
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>

#if defined(__SSE__)
#include <immintrin.h>
#endif

namespace skinnet::cpu::gemm_detail {

// A per-thread scratch buffer, reused across calls and grown on demand (thread_local below): packing
// then costs no allocation in steady state. Aligned to 64 bytes for aligned vector loads.
class PackBuffer {
 public:
  float* get(int64_t floats) {
    if (floats > capacity_) {
      const size_t bytes = (static_cast<size_t>(floats) * sizeof(float) + 63) / 64 * 64;
      void* p = std::aligned_alloc(64, bytes);
      if (!p) throw std::bad_alloc();
      data_.reset(static_cast<float*>(p));
      capacity_ = floats;
    }
    return data_.get();
  }

 private:
  struct Free {
    void operator()(float* p) const { std::free(p); }
  };
  std::unique_ptr<float, Free> data_;
  int64_t capacity_ = 0;
};

inline PackBuffer& thread_pack_buffer_a() {
  thread_local PackBuffer buf;
  return buf;
}
inline PackBuffer& thread_pack_buffer_b() {
  thread_local PackBuffer buf;
  return buf;
}

#if defined(__SSE__)
// Copies the 4 x 4 block src[i * ld + j] (i, j < 4) to dst[j * P + i]: four rows of the source
// become four columns of the panel, transposed in registers.
template <int P>
inline void transpose_4x4(const float* src, int64_t ld, float* dst) {
  __m128 x0 = _mm_loadu_ps(src), x1 = _mm_loadu_ps(src + ld), x2 = _mm_loadu_ps(src + 2 * ld),
         x3 = _mm_loadu_ps(src + 3 * ld);
  _MM_TRANSPOSE4_PS(x0, x1, x2, x3);
  _mm_storeu_ps(dst, x0);
  _mm_storeu_ps(dst + P, x1);
  _mm_storeu_ps(dst + 2 * P, x2);
  _mm_storeu_ps(dst + 3 * P, x3);
}
#endif

// Shared by both packers for the case where the panel's P rows/columns run along k in the source
// (A not transposed, B transposed): dst[k * P + r] = src[r * ld + k] for r < valid, 0 for the padding.
// A plain loop would do P scattered scalar loads per k; with SSE the copy goes by 4 x 4 blocks
// transposed in registers, so each load and store moves 4 floats. (For a K-heavy product with a small
// N this packing is bound by memory bandwidth, not by the shuffles: 8 x 8 AVX blocks and software
// prefetch were tried and measured no faster.)
template <int P>
void pack_transposed(const float* src, int64_t ld, int valid, int64_t kc, float* dst) {
  int64_t k = 0;
#if defined(__SSE__)
  if (valid == P) {
    for (; k + 4 <= kc; k += 4) {
      int r = 0;
      for (; r + 4 <= P; r += 4) transpose_4x4<P>(src + r * ld + k, ld, dst + k * P + r);
      for (; r < P; ++r)
        for (int kk = 0; kk < 4; ++kk) dst[(k + kk) * P + r] = src[r * ld + k + kk];
    }
  }
#endif
  for (; k < kc; ++k) {
    for (int r = 0; r < valid; ++r) dst[k * P + r] = src[r * ld + k];
    for (int r = valid; r < P; ++r) dst[k * P + r] = 0.f;
  }
}

// Shared by both packers for the case where the panel's P rows/columns are contiguous in the source
// (A transposed, B not transposed): panel p gets dst[p * kc * P + k * P + r] = src[k * ld + p * P + r],
// zero-padded past `width`. Going panel by panel would walk all kc source rows once per panel, one
// cache line or two from each, which the hardware prefetchers follow poorly (it made packing 40% of a
// K-heavy product); instead a chunk of kChunk source rows is kept hot and spread over every panel.
template <int P>
void pack_contiguous(const float* src, int64_t ld, int64_t width, int64_t kc, float* dst) {
  constexpr int64_t kChunk = 16;
  const int64_t panels = (width + P - 1) / P;
  for (int64_t k0 = 0; k0 < kc; k0 += kChunk) {
    const int64_t k1 = k0 + kChunk < kc ? k0 + kChunk : kc;
    for (int64_t p = 0; p < panels; ++p) {
      const int64_t j0 = p * P;
      const int valid = static_cast<int>(width - j0 < P ? width - j0 : P);
      float* d = dst + p * kc * P;
      if (valid == P) {
        for (int64_t k = k0; k < k1; ++k) std::memcpy(d + k * P, src + k * ld + j0, sizeof(float) * P);
      } else {
        for (int64_t k = k0; k < k1; ++k) {
          for (int r = 0; r < valid; ++r) d[k * P + r] = src[k * ld + j0 + r];
          for (int r = valid; r < P; ++r) d[k * P + r] = 0.f;
        }
      }
    }
  }
}

// Packs op(A)(0..mc, 0..kc); `a` points at op(A)(0, 0) of the block. op(A)(i, k) is a[i * lda + k]
// when A is not transposed, a[k * lda + i] when it is.
template <int MR>
void pack_a(bool trans, const float* a, int64_t lda, int64_t mc, int64_t kc, float* dst) {
  if (trans) {
    // Column k of a panel is a contiguous run of row k of the stored A.
    pack_contiguous<MR>(a, lda, mc, kc, dst);
    return;
  }
  for (int64_t i0 = 0; i0 < mc; i0 += MR) {
    const int mr = static_cast<int>(mc - i0 < MR ? mc - i0 : MR);
    pack_transposed<MR>(a + i0 * lda, lda, mr, kc, dst);
    dst += kc * MR;
  }
}

// Packs op(B)(0..kc, 0..nc); `b` points at op(B)(0, 0) of the block. op(B)(k, j) is b[k * ldb + j]
// when B is not transposed, b[j * ldb + k] when it is.
template <int NR>
void pack_b(bool trans, const float* b, int64_t ldb, int64_t kc, int64_t nc, float* dst) {
  if (!trans) {
    // Row k of a panel is a contiguous run of row k of the stored B.
    pack_contiguous<NR>(b, ldb, nc, kc, dst);
    return;
  }
  for (int64_t j0 = 0; j0 < nc; j0 += NR) {
    const int nr = static_cast<int>(nc - j0 < NR ? nc - j0 : NR);
    pack_transposed<NR>(b + j0 * ldb, ldb, nr, kc, dst);
    dst += kc * NR;
  }
}

}  // namespace skinnet::cpu::gemm_detail
