// Device code of the tiled TuckerConv kernel (see tucker_conv_tiled.cu). A header of its own so that the CPU
// emulator (custom_ops/emu, tests/test_kernel_emu.py) compiles exactly this code with a host compiler.
#pragma once
#include <cuda_fp16.h>

#include "tucker_conv_device.cuh"
#include "tucker_conv_kernels.cuh"
#include "tucker_conv_tiled_layout.h"

namespace tucker_cuda {
namespace {

template <int TM, int TN, class ReadB>
__device__ __forceinline__ void Step(const float* a_row, ReadB& read_b, int kc, int k, float (&acc)[TM][TN]) {
  float a[TM], b[TN];
  LoadVec<TM>(a_row, a);
  read_b(kc, k, b);
#pragma unroll
  for (int i = 0; i < TM; ++i)
#pragma unroll
    for (int j = 0; j < TN; ++j) acc[i][j] = fmaf(a[i], b[j], acc[i][j]);
}

// One stage. All threads of the block must call it (it synchronises). fill_a(m, k) reads a weight,
// fill_b(k0) stages the chunk's B values (cooperatively, or not at all), read_b(kc, k, b[TN]) gives this
// thread's B values for chunk row kc (reduction index k = k0 + kc), store(m, col, v) consumes a result.
template <int TM, int TN, class FillA, class FillB, class ReadB, class Store>
__device__ __forceinline__ void GemmStage(const StageSplit s, int M, int cols, int K, int kchunk, float* As, int asp,
                                          FillA fill_a, FillB fill_b, ReadB read_b, Store store) {
  const int t = threadIdx.x, nthr = blockDim.x;
  const int row = (t / s.ntn) * TM, col = (t % s.ntn) * TN;
  const bool active = row < s.mp;
  for (int m0 = 0; m0 < M; m0 += s.mp) {
    float acc[TM][TN];
#pragma unroll
    for (int i = 0; i < TM; ++i)
#pragma unroll
      for (int j = 0; j < TN; ++j) acc[i][j] = 0.f;
    for (int k0 = 0; k0 < K; k0 += kchunk) {
      __syncthreads();  // the previous chunk (or stage) is done with As / B
      for (int i = t; i < s.mp * kchunk; i += nthr) {
        const int mm = i / kchunk, kc = i - mm * kchunk, m = m0 + mm, k = k0 + kc;
        As[kc * asp + mm] = (m < M && k < K) ? fill_a(m, k) : 0.f;
      }
      fill_b(k0);
      __syncthreads();
      if (active) {
        const int kn = min(kchunk, K - k0);
        int kc = 0;
        for (; kc + kChunk <= kn; kc += kChunk) {
#pragma unroll
          for (int u = 0; u < kChunk; ++u) Step<TM, TN>(As + (kc + u) * asp + row, read_b, kc + u, k0 + kc + u, acc);
        }
        for (; kc < kn; ++kc) Step<TM, TN>(As + kc * asp + row, read_b, kc, k0 + kc, acc);
      }
    }
    if (active) {
#pragma unroll
      for (int i = 0; i < TM; ++i) {
        const int m = m0 + row + i;
        if (m >= M) break;
#pragma unroll
        for (int j = 0; j < TN; ++j)
          if (col + j < cols) store(m, col + j, acc[i][j]);
      }
    }
  }
}

template <typename T, int TM, int TN>
__global__ void __launch_bounds__(512, 1) TiledKernel(const T* __restrict__ x, const T* __restrict__ w_in,
                                                   const T* __restrict__ w_core, const T* __restrict__ w_out,
                                                   const T* __restrict__ bias, const T* __restrict__ z,
                                                   T* __restrict__ y, Problem p, int th, int tw, int ih_n, int iw_n,
                                                   int nchunk, int kchunk) {
  TUCKER_DYNAMIC_SMEM(smem);
  PdlWait();  // activations and global writes only after the stream's previous kernel (PDL)
  PdlLaunchDependents();
  const int kk = p.kh * p.kw;
  const TiledLayout L = MakeTiledLayout(p.R1, p.R2, kk, ih_n, iw_n, th, tw, nchunk, blockDim.x, TM, TN, kchunk);
  float* t1 = smem + L.t1;
  float* t2 = smem + L.t2;
  float* As = smem + L.as;
  float* Bs = smem + L.bs;
  int* koff = reinterpret_cast<int*>(smem + L.koff);
  const int m_lo = blockIdx.z * nchunk;
  const int nb = min(p.N - m_lo, nchunk);
  if (nb <= 0) return;  // whole block: no barrier is skipped by part of it
  const int tiles_w = (p.Wo + tw - 1) / tw;
  const int oh0 = (blockIdx.x / tiles_w) * th, ow0 = (blockIdx.x % tiles_w) * tw;
  const int ih0 = oh0 * p.sh - p.pt, iw0 = ow0 * p.sw - p.pl;
  const size_t hw = static_cast<size_t>(p.H) * p.W;
  const T* xn = x + static_cast<size_t>(blockIdx.y) * p.C * hw;
  const int t = threadIdx.x, nthr = blockDim.x;

  // Stage 1: t1 = W_in . X over the input window; positions outside the image stay zero (core padding).
  // A thread stages the same window positions (q = t, t + nthr, ...) in every chunk, so their image offsets
  // are computed once here (at most kMaxWinPerThread of them: the host keeps win <= that x threads).
  {
    const int col = (t % L.s1.ntn) * TN;
    int xoff[kMaxWinPerThread];
#pragma unroll
    for (int u = 0; u < kMaxWinPerThread; ++u) {
      const int q = t + u * nthr, r = q / iw_n, ih = ih0 + r, iw = iw0 + (q - r * iw_n);
      xoff[u] = (q < L.win && ih >= 0 && ih < p.H && iw >= 0 && iw < p.W) ? ih * p.W + iw : -1;
    }
    GemmStage<TM, TN>(
        L.s1, p.R1, L.win, p.C, kchunk, As, L.asp,
        [&](int m, int k) { return ld(w_in + static_cast<size_t>(m) * p.C + k); },
        [&](int k0) {
          const int kn = min(kchunk, p.C - k0);
#pragma unroll
          for (int u = 0; u < kMaxWinPerThread; ++u) {
            const int q = t + u * nthr;
            if (q >= L.win) break;
            const T* src = xn + static_cast<size_t>(k0) * hw + xoff[u];
            for (int kc = 0; kc < kchunk; ++kc)
              Bs[kc * L.winp + q] = (xoff[u] >= 0 && kc < kn) ? ld(src + kc * hw) : 0.f;
          }
        },
        [&](int kc, int, float(&b)[TN]) { LoadVec<TN>(Bs + kc * L.winp + col, b); },
        [&](int m, int c, float v) { t1[m * L.winp + c] = v; });
  }

  // Stage 2: t2 = W_core . im2col(t1); koff maps a reduction index (r1, i, j) to its t1 offset.
  {
    const int col = (t % L.s2.ntn) * TN;
    int base[TN];
#pragma unroll
    for (int j = 0; j < TN; ++j) {
      const int c = col + j;
      base[j] = c < L.tpix ? (c / tw) * p.sh * iw_n + (c % tw) * p.sw : 0;
    }
    const int K2 = p.R1 * kk;
    GemmStage<TM, TN>(
        L.s2, p.R2, L.tpix, K2, kchunk, As, L.asp,
        [&](int m, int k) { return ld(w_core + static_cast<size_t>(m) * K2 + k); },
        [&](int k0) {
          if (t < kchunk) {
            const int k = k0 + t;
            int off = 0;
            if (k < K2) {
              const int r1 = k / kk, rem = k - r1 * kk, i = rem / p.kw, j = rem - i * p.kw;
              off = r1 * L.winp + i * p.dh * iw_n + j * p.dw;
            }
            koff[t] = off;
          }
        },
        [&](int kc, int, float(&b)[TN]) {
          const float* src = t1 + koff[kc];
#pragma unroll
          for (int j = 0; j < TN; ++j) b[j] = src[base[j]];
        },
        [&](int m, int c, float v) { t2[m * L.tpixp + c] = v; });
  }

  // Stage 3: Y = W_out . t2 + B (+ Z), Relu, for this block's nb output channels.
  {
    const int col = (t % L.s3.ntn) * TN;
    const size_t ohw = static_cast<size_t>(p.Ho) * p.Wo;
    GemmStage<TM, TN>(
        L.s3, nb, L.tpix, p.R2, kchunk, As, L.asp,
        [&](int m, int k) { return ld(w_out + static_cast<size_t>(m_lo + m) * p.R2 + k); },
        [](int) {},
        [&](int, int k, float(&b)[TN]) { LoadVec<TN>(t2 + k * L.tpixp + col, b); },
        [&](int m, int c, float v) {
          const int oh = oh0 + c / tw, ow = ow0 + c % tw;
          if (oh >= p.Ho || ow >= p.Wo) return;
          const int mm = m_lo + m;
          const size_t o = (static_cast<size_t>(blockIdx.y) * p.N + mm) * ohw + static_cast<size_t>(oh) * p.Wo + ow;
          v += ld(bias + mm);
          if (z != nullptr) v += ld(z + o);
          if (p.relu) v = fmaxf(v, 0.f);
          st(y + o, v);
        });
  }
}

}  // namespace
}  // namespace tucker_cuda
