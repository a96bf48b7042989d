// Device helpers shared by the TuckerConv kernels: loads and stores that compute in fp32 for every storage type.
#pragma once
#include <cuda_fp16.h>

#include <cstdint>
#include <cstring>

// The kernels' dynamic shared memory; the CPU emulator (custom_ops/emu) defines it as the block's host buffer.
#ifndef TUCKER_DYNAMIC_SMEM
#define TUCKER_DYNAMIC_SMEM(name) extern __shared__ __align__(16) float name[]
#endif

// A load with acquire semantics at GPU scope (a counter other blocks publish with __threadfence + atomicAdd); the
// emulator defines it with std::atomic_ref.
#ifndef TUCKER_LOAD_ACQUIRE
#define TUCKER_LOAD_ACQUIRE(p) tucker_cuda::LoadAcquireGpu(p)
#endif

namespace tucker_cuda {

#ifndef TUCKER_EMU
__device__ __forceinline__ int LoadAcquireGpu(const int* p) {
  int v;
  asm volatile("ld.acquire.gpu.global.s32 %0, [%1];" : "=r"(v) : "l"(p) : "memory");
  return v;
}
#endif

__device__ __forceinline__ float ld(const float* p) { return __ldg(p); }
__device__ __forceinline__ float ld(const __half* p) { return __half2float(__ldg(p)); }
// Four consecutive weights in one load instruction (LDG.128 for fp32, LDG.64 for fp16); p must be aligned to
// 4 elements (Aligned4). A warp's weight loads are uniform, so the load instructions, not bytes, bound the
// kernels' inner loops: one vector load feeds four FMAs instead of one.
__device__ __forceinline__ void ld4(const float* p, float* out) {
  const float4 v = __ldg(reinterpret_cast<const float4*>(p));
  out[0] = v.x, out[1] = v.y, out[2] = v.z, out[3] = v.w;
}
__device__ __forceinline__ void ld4(const __half* p, float* out) {
  const float2 v = __ldg(reinterpret_cast<const float2*>(p));
  __half h[4];
  memcpy(h, &v, sizeof(h));
#pragma unroll
  for (int i = 0; i < 4; ++i) out[i] = __half2float(h[i]);
}
template <typename T>
__device__ __forceinline__ bool Aligned4(const T* p) {
  return (reinterpret_cast<unsigned long long>(p) & (4 * sizeof(T) - 1)) == 0;
}
// N (1, 2 or 4) consecutive floats of shared memory in one load; p aligned to N floats.
template <int N>
__device__ __forceinline__ void LoadVec(const float* p, float* v) {
  if constexpr (N == 4) {
    const float4 q = *reinterpret_cast<const float4*>(p);
    v[0] = q.x; v[1] = q.y; v[2] = q.z; v[3] = q.w;
  } else if constexpr (N == 2) {
    const float2 q = *reinterpret_cast<const float2*>(p);
    v[0] = q.x; v[1] = q.y;
  } else {
#pragma unroll
    for (int i = 0; i < N; ++i) v[i] = p[i];
  }
}
__device__ __forceinline__ void st(float* p, float v) { *p = v; }
__device__ __forceinline__ void st(__half* p, float v) { *p = __float2half_rn(v); }

template <typename T>
__device__ __forceinline__ bool Aligned16(const T* p) {
  return (reinterpret_cast<uintptr_t>(p) & 15) == 0;
}

// cp.async (sm_80+): a 16-byte global -> shared copy that runs while the block does other work: the channels-last
// family keeps a step's loads kStagedNhwcStages - 1 steps ahead (session 10: the per-step latency was exposed with 4
// blocks per SM); the WMMA kernel stages its weights while it loads X's window. !valid zero-fills the destination (padding, tails; src is not read). The emulator copies at
// once, which a correct pipeline cannot tell apart.
// Before sm_80 (a host-side build for another target) it is a synchronous 16-byte copy.
#if defined(TUCKER_EMU) || (defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 800)
#define TUCKER_CP_ASYNC 0
#else
#define TUCKER_CP_ASYNC 1
#endif
template <typename T>
__device__ __forceinline__ void CpAsync16(T* dst, const T* src, bool valid) {
#if TUCKER_CP_ASYNC
  const unsigned d = static_cast<unsigned>(__cvta_generic_to_shared(dst));
  asm volatile("cp.async.cg.shared.global [%0], [%1], 16, %2;\n" ::"r"(d), "l"(src), "r"(valid ? 16 : 0) : "memory");
#else
  if (valid) memcpy(dst, src, 16);
  else memset(dst, 0, 16);
#endif
}
// A 4-byte copy through L1 (cp.async.ca): the grid kernel stages a warp's t1 rows and core weights with every copy in
// flight at once, where a loop of loads would wait on one round trip per few values.
__device__ __forceinline__ void CpAsync4(float* dst, const float* src) {
#if TUCKER_CP_ASYNC
  const unsigned d = static_cast<unsigned>(__cvta_generic_to_shared(dst));
  asm volatile("cp.async.ca.shared.global [%0], [%1], 4;\n" ::"r"(d), "l"(src) : "memory");
#else
  *dst = *src;
#endif
}
__device__ __forceinline__ void CpAsyncCommit() {
#if TUCKER_CP_ASYNC
  asm volatile("cp.async.commit_group;\n" ::: "memory");
#endif
}
template <int N>
__device__ __forceinline__ void CpAsyncWait() {
#if TUCKER_CP_ASYNC
  asm volatile("cp.async.wait_group %0;\n" ::"n"(N) : "memory");
#endif
}

// Programmatic dependent launch (PDL, Hopper and later; tucker_conv_launch.h): a kernel launched with it may start
// while the stream's previous kernel still runs, so its set-up (index tables, weights staged in shared memory) and
// its launch overlap that kernel's tail. Every kernel calls PdlWait() before it reads an activation (x, z, t1/t2 in
// scratch) or writes global memory: it returns once the previous kernel has finished and its writes are visible (at
// once without PDL). PdlLaunchDependents() lets the next kernel launch before this one's blocks exit: the
// one-launch kernels (WMMA, tiled) call it right after the wait, so the next layer's set-up overlaps this one's work
// (session 14, a stack of 64:32->32:64 layers at batch 1: 10.3 -> 8.2 us per layer; leaving the trigger to the
// blocks' exit gave 9.4); the staged kernels do not (their next stage's blocks, resident early, made them 1.2-1.5x
// slower; a trigger before their epilogue 1.04-1.26x), nor does the grid kernel, which fills every SM. Weights and
// bias may be read before the wait: the adaptor asks for PDL only when they are constant initializers. No-ops
// elsewhere and in the emulator.
__device__ __forceinline__ void PdlWait() {
#if !defined(TUCKER_EMU) && defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.wait;\n" ::: "memory");
#endif
}
__device__ __forceinline__ void PdlLaunchDependents() {
#if !defined(TUCKER_EMU) && defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900
  asm volatile("griddepcontrol.launch_dependents;\n" ::: "memory");
#endif
}

// Image offset (ih * W + iw) of position q of a tile's input window (iw_n columns from row ih0, column iw0), or -1
// where q is past the window's win positions or outside the image (the core conv's zero padding).
__device__ __forceinline__ int WindowPixel(int q, int win, int iw_n, int ih0, int iw0, int H, int W) {
  if (q >= win) return -1;
  const int r = q / iw_n, ih = ih0 + r, iw = iw0 + (q - r * iw_n);
  return (ih >= 0 && ih < H && iw >= 0 && iw < W) ? ih * W + iw : -1;
}

}  // namespace tucker_cuda
