#pragma once
// CUDA's built-in vector types for the emulator, with CUDA's alignment: a float4 is 16-byte aligned on
// the GPU and a misaligned float4 load faults there, so here the same alignment lets UBSan
// (-fsanitize=alignment) flag such a load instead of silently accepting it.
#include <cstdint>

// Declare T##1..4 with the given alignments, and make_T##N helpers, as <vector_types.h> does.
#define SKN_EMU_VECTOR_TYPES(T, A1, A2, A3, A4)                                                      \
  struct alignas(A1) T##1 { T x; };                                                                 \
  struct alignas(A2) T##2 { T x, y; };                                                              \
  struct alignas(A3) T##3 { T x, y, z; };                                                           \
  struct alignas(A4) T##4 { T x, y, z, w; };                                                        \
  inline T##1 make_##T##1(T x) { return T##1{x}; }                                                  \
  inline T##2 make_##T##2(T x, T y) { return T##2{x, y}; }                                          \
  inline T##3 make_##T##3(T x, T y, T z) { return T##3{x, y, z}; }                                 \
  inline T##4 make_##T##4(T x, T y, T z, T w) { return T##4{x, y, z, w}; }

using uchar = unsigned char;
using ushort = unsigned short;
using uint = unsigned int;
using ulong = unsigned long;
using longlong = long long;
using ulonglong = unsigned long long;

SKN_EMU_VECTOR_TYPES(char, 1, 2, 1, 4)
SKN_EMU_VECTOR_TYPES(uchar, 1, 2, 1, 4)
SKN_EMU_VECTOR_TYPES(short, 2, 4, 2, 8)
SKN_EMU_VECTOR_TYPES(ushort, 2, 4, 2, 8)
SKN_EMU_VECTOR_TYPES(int, 4, 8, 4, 16)
SKN_EMU_VECTOR_TYPES(uint, 4, 8, 4, 16)
SKN_EMU_VECTOR_TYPES(float, 4, 8, 4, 16)
SKN_EMU_VECTOR_TYPES(longlong, 8, 16, 8, 16)
SKN_EMU_VECTOR_TYPES(ulonglong, 8, 16, 8, 16)
SKN_EMU_VECTOR_TYPES(double, 8, 16, 8, 16)
#undef SKN_EMU_VECTOR_TYPES

static_assert(alignof(float4) == 16 && sizeof(float4) == 16, "float4 must match CUDA's layout");
static_assert(alignof(float2) == 8 && sizeof(float3) == 12, "float2/float3 must match CUDA's layout");

// dim3: launch extents; unspecified components are 1.
struct dim3 {
  unsigned int x = 1, y = 1, z = 1;
  constexpr dim3(unsigned int vx = 1, unsigned int vy = 1, unsigned int vz = 1) : x(vx), y(vy), z(vz) {}
  constexpr dim3(uint3 v) : x(v.x), y(v.y), z(v.z) {}
  constexpr operator uint3() const { return uint3{x, y, z}; }
};
