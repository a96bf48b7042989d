// Device code of the split-K TuckerConv kernel (see tucker_conv_splitk.cu). A header of its own so that the CPU
// emulator (custom_ops/emu, tests/test_kernel_emu.py) compiles exactly this code with a host compiler.
#pragma once
#include <cuda_fp16.h>

#include "tucker_conv_device.cuh"
#include "tucker_conv_kernels.cuh"

namespace tucker_cuda {
namespace {

// How many ways a stage splits its reduction of length k over `items` outputs: enough to occupy
// the block's threads, never more than k. Shared by the kernel and the host-side model.
__host__ __device__ inline int SplitK(int items, int k, int threads) {
  int s = threads / (items > 0 ? items : 1);
  if (s < 1) s = 1;
  if (s > k) s = k;
  return s;
}

// Per stage, each thread computes RB output channels of one pixel over a slice of the reduction
// (split-K): when a stage has fewer (channel group, pixel) items than threads, the reduction is
// split S ways and the partial sums meet in shared memory through atomics, so small tiles (batch 1,
// 7x7 maps) still keep every thread busy. Lanes run over pixels, so activation loads coalesce and
// weight loads are warp-uniform.
constexpr int RB = 4;

template <typename T>
__global__ void TuckerConvKernel(const T* __restrict__ x, const T* __restrict__ w_in, const T* __restrict__ w_core,
                                 const T* __restrict__ w_out, const T* __restrict__ bias, const T* __restrict__ z,
                                 T* __restrict__ y, Problem p, int th, int tw, int ih_n, int iw_n) {
  TUCKER_DYNAMIC_SMEM(smem);
  const int win = ih_n * iw_n, tpix = th * tw;
  float* t1 = smem;                         // [R1][win]
  float* t2 = t1 + p.R1 * win;              // [R2][tpix]
  float* ys = t2 + p.R2 * tpix;             // [N][tpix], only when stage 3 splits
  const int nthreads = blockDim.x;
  const int tiles_w = (p.Wo + tw - 1) / tw;
  const int tile = blockIdx.x;
  const int n = blockIdx.y;
  const int oh0 = (tile / tiles_w) * th, ow0 = (tile % tiles_w) * tw;
  const int ih0 = oh0 * p.sh - p.pt, iw0 = ow0 * p.sw - p.pl;
  const size_t hw = static_cast<size_t>(p.H) * p.W;
  const T* xn = x + static_cast<size_t>(n) * p.C * hw;
  const int kk = p.kh * p.kw;

  const int g1 = (p.R1 + RB - 1) / RB, g2 = (p.R2 + RB - 1) / RB, g3 = (p.N + RB - 1) / RB;
  const int s1 = SplitK(g1 * win, p.C, nthreads);
  const int s2 = SplitK(g2 * tpix, p.R1, nthreads);
  const int s3 = SplitK(g3 * tpix, p.R2, nthreads);
  if (s1 > 1) for (int i = threadIdx.x; i < p.R1 * win; i += nthreads) t1[i] = 0.f;
  if (s2 > 1) for (int i = threadIdx.x; i < p.R2 * tpix; i += nthreads) t2[i] = 0.f;
  if (s3 > 1) for (int i = threadIdx.x; i < p.N * tpix; i += nthreads) ys[i] = 0.f;
  if (s1 > 1) __syncthreads();

  // Stage 1: 1x1 conv over the input window (positions outside the image are the core's zero padding).
  {
    const int kc = (p.C + s1 - 1) / s1;
    for (int idx = threadIdx.x; idx < g1 * win * s1; idx += nthreads) {
      const int q = idx % win, rest = idx / win, r0 = (rest % g1) * RB, ks = rest / g1;
      const int ih = ih0 + q / iw_n, iw = iw0 + q % iw_n;
      float acc[RB] = {0.f, 0.f, 0.f, 0.f};
      const bool inside = ih >= 0 && ih < p.H && iw >= 0 && iw < p.W;
      if (inside) {
        const T* xp = xn + static_cast<size_t>(ih) * p.W + iw;
        const T* wp[RB];
#pragma unroll
        for (int u = 0; u < RB; ++u) wp[u] = w_in + static_cast<size_t>(min(r0 + u, p.R1 - 1)) * p.C;
        const int c1 = min(p.C, (ks + 1) * kc);
        for (int c = ks * kc; c < c1; ++c) {
          const float xv = ld(xp + c * hw);
#pragma unroll
          for (int u = 0; u < RB; ++u) acc[u] = fmaf(ld(wp[u] + c), xv, acc[u]);
        }
      }
#pragma unroll
      for (int u = 0; u < RB; ++u) {
        if (r0 + u >= p.R1) break;
        if (s1 > 1) { if (inside) atomicAdd(&t1[(r0 + u) * win + q], acc[u]); }
        else t1[(r0 + u) * win + q] = acc[u];
      }
    }
  }
  __syncthreads();

  // Stage 2: core conv from shared memory, reduction over R1 split s2 ways.
  {
    const int kc = (p.R1 + s2 - 1) / s2;
    for (int idx = threadIdx.x; idx < g2 * tpix * s2; idx += nthreads) {
      const int q = idx % tpix, rest = idx / tpix, r0 = (rest % g2) * RB, ks = rest / g2;
      const int ty = q / tw, tx = q % tw;
      if (oh0 + ty >= p.Ho || ow0 + tx >= p.Wo) continue;
      float acc[RB] = {0.f, 0.f, 0.f, 0.f};
      const T* wp[RB];
#pragma unroll
      for (int u = 0; u < RB; ++u) wp[u] = w_core + static_cast<size_t>(min(r0 + u, p.R2 - 1)) * p.R1 * kk;
      const int base = ty * p.sh * iw_n + tx * p.sw;
      const int c1 = min(p.R1, (ks + 1) * kc);
      for (int r1 = ks * kc; r1 < c1; ++r1) {
        const float* src = t1 + r1 * win + base;
        for (int i = 0; i < p.kh; ++i)
          for (int j = 0; j < p.kw; ++j) {
            const float v = src[i * p.dh * iw_n + j * p.dw];
            const int widx = r1 * kk + i * p.kw + j;
#pragma unroll
            for (int u = 0; u < RB; ++u) acc[u] = fmaf(ld(wp[u] + widx), v, acc[u]);
          }
      }
#pragma unroll
      for (int u = 0; u < RB; ++u) {
        if (r0 + u >= p.R2) break;
        if (s2 > 1) atomicAdd(&t2[(r0 + u) * tpix + q], acc[u]);
        else t2[(r0 + u) * tpix + q] = acc[u];
      }
    }
  }
  __syncthreads();

  // Stage 3: 1x1 conv + bias (+ residual) (+ Relu).
  const size_t ohw = static_cast<size_t>(p.Ho) * p.Wo;
  auto epilogue = [&](int m, int q, float v) {
    const int oh = oh0 + q / tw, ow = ow0 + q % tw;
    const size_t o = (static_cast<size_t>(n) * p.N + m) * ohw + static_cast<size_t>(oh) * p.Wo + ow;
    v += ld(bias + m);
    if (z != nullptr) v += ld(z + o);
    if (p.relu) v = fmaxf(v, 0.f);
    st(y + o, v);
  };
  {
    const int kc = (p.R2 + s3 - 1) / s3;
    for (int idx = threadIdx.x; idx < g3 * tpix * s3; idx += nthreads) {
      const int q = idx % tpix, rest = idx / tpix, m0 = (rest % g3) * RB, ks = rest / g3;
      if (oh0 + q / tw >= p.Ho || ow0 + q % tw >= p.Wo) continue;
      const T* wp[RB];
      float acc[RB] = {0.f, 0.f, 0.f, 0.f};
#pragma unroll
      for (int u = 0; u < RB; ++u) wp[u] = w_out + static_cast<size_t>(min(m0 + u, p.N - 1)) * p.R2;
      const int c1 = min(p.R2, (ks + 1) * kc);
      for (int r2 = ks * kc; r2 < c1; ++r2) {
        const float v = t2[r2 * tpix + q];
#pragma unroll
        for (int u = 0; u < RB; ++u) acc[u] = fmaf(ld(wp[u] + r2), v, acc[u]);
      }
#pragma unroll
      for (int u = 0; u < RB; ++u) {
        if (m0 + u >= p.N) break;
        if (s3 > 1) atomicAdd(&ys[(m0 + u) * tpix + q], acc[u]);
        else epilogue(m0 + u, q, acc[u]);
      }
    }
  }
  if (s3 > 1) {
    __syncthreads();
    for (int i = threadIdx.x; i < p.N * tpix; i += nthreads) {
      const int m = i / tpix, q = i % tpix;
      if (oh0 + q / tw < p.Ho && ow0 + q % tw < p.Wo) epilogue(m, q, ys[i]);
    }
  }
}

}  // namespace
}  // namespace tucker_cuda
