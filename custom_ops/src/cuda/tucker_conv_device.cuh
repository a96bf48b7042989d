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

}  // namespace tucker_cuda
