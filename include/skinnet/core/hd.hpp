#pragma once
// SKN_HD marks functions callable from host and device code (nvcc), and is empty for g++ — both the
// plain CPU build and the emulator build, where "device" code is ordinary C++.
#if defined(__CUDACC__)
#define SKN_HD __host__ __device__
#define SKN_HD_INLINE __host__ __device__ __forceinline__
#else
#define SKN_HD
#define SKN_HD_INLINE inline
#endif
