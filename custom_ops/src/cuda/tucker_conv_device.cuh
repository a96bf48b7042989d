// Device helpers shared by the TuckerConv kernels: loads and stores that compute in fp32 for every storage type.
#pragma once
#include <cuda_fp16.h>

// The kernels' dynamic shared memory; the CPU emulator (custom_ops/emu) defines it as the block's host buffer.
#ifndef TUCKER_DYNAMIC_SMEM
#define TUCKER_DYNAMIC_SMEM(name) extern __shared__ __align__(16) float name[]
#endif

namespace tucker_cuda {

__device__ __forceinline__ float ld(const float* p) { return __ldg(p); }
__device__ __forceinline__ float ld(const __half* p) { return __half2float(__ldg(p)); }
__device__ __forceinline__ void st(float* p, float v) { *p = v; }
__device__ __forceinline__ void st(__half* p, float v) { *p = __float2half_rn(v); }

// Image offset (ih * W + iw) of position q of a tile's input window (iw_n columns from row ih0, column iw0), or -1
// where q is past the window's win positions or outside the image (the core conv's zero padding).
__device__ __forceinline__ int WindowPixel(int q, int win, int iw_n, int ih0, int iw0, int H, int W) {
  if (q >= win) return -1;
  const int r = q / iw_n, ih = ih0 + r, iw = iw0 + (q - r * iw_n);
  return (ih >= 0 && ih < H && iw >= 0 && iw < W) ? ih * W + iw : -1;
}

}  // namespace tucker_cuda
