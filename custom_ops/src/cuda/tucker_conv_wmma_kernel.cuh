// Device code of the tensor-core (WMMA) TuckerConv kernel, fp16 only (see tucker_conv_wmma.cu). A header of its
// own so that the CPU emulator (custom_ops/emu, tests/test_kernel_emu.py) compiles exactly this code.
//
// Block = one th x tw output tile of one image, all channels; 8 warps, each owning whole 16x16 output tiles of
// every stage (no cross-warp reduction). Every stage is fp16 x fp16 -> fp32 on tensor cores (16x16x16 WMMA):
//   stage 1: t1[R1][window] = W_in[R1][C] . xs[C][window]          (xs: X's window, staged once, zero padded)
//   stage 2: t2[R2][tile]   = W_core[R2][R1*kk] . col[R1*kk][tile]  (col: im2col of t1, built kc2 rows at a time)
//   stage 3: Y[N][tile]     = W_out[N][R2] . t2[R2][tile]          (+ bias, residual, Relu; written to global)
// Accumulators go through a per-warp fp32 scratch tile to become fp16 intermediates (t1, t2) or outputs.
// Requires C, R1, R2, N multiples of 16 (the A operands are read from global memory in 16x16 tiles).
#pragma once
#include <cuda_fp16.h>
#include <mma.h>

#include "tucker_conv_device.cuh"
#include "tucker_conv_kernels.cuh"
#include "tucker_conv_tiled_layout.h"

namespace tucker_cuda {
namespace {

namespace wmma = nvcuda::wmma;

constexpr int kWmmaWarps = 8;     // warps per block (256 threads)
constexpr int kWmmaMaxAcc = 8;    // stage-2 accumulators a warp keeps across im2col chunks
constexpr int kWmmaChunkR1 = 16;  // r1 rows per im2col chunk (16 * kk reduction rows)

// Shared-memory layout in bytes (host and device): xs and t1 [.][winp], col [16 * kk][tpixp], t2 [R2][tpixp]
// in fp16, then one 16x16 fp32 scratch tile per warp.
struct WmmaLayout {
  int winp, tpixp;
  int xs, t1, col, t2, scratch, total;
};

__host__ __device__ inline WmmaLayout MakeWmmaLayout(int C, int R1, int R2, int kk, int win, int tpix) {
  WmmaLayout L;
  L.winp = RoundUp(win, 16);
  L.tpixp = RoundUp(tpix, 16);
  L.xs = 0;
  L.t1 = L.xs + 2 * C * L.winp;
  L.col = L.t1 + 2 * R1 * L.winp;
  L.t2 = L.col + 2 * kWmmaChunkR1 * kk * L.tpixp;
  L.scratch = RoundUp(L.t2 + 2 * R2 * L.tpixp, 32);
  L.total = L.scratch + 4 * 256 * kWmmaWarps;
  return L;
}

using FragA = wmma::fragment<wmma::matrix_a, 16, 16, 16, __half, wmma::row_major>;
using FragB = wmma::fragment<wmma::matrix_b, 16, 16, 16, __half, wmma::row_major>;
using FragC = wmma::fragment<wmma::accumulator, 16, 16, 16, float>;

// acc += A[16 x K] . B[K x 16], both row-major fp16: A (lda) in global memory, B (ldb) in shared memory.
__device__ __forceinline__ void MmaTile(FragC& acc, const __half* a, int lda, const __half* b, int ldb, int K) {
  for (int k = 0; k < K; k += 16) {
    FragA fa;
    FragB fb;
    wmma::load_matrix_sync(fa, a + k, lda);
    wmma::load_matrix_sync(fb, b + k * ldb, ldb);
    wmma::mma_sync(acc, fa, fb, acc);
  }
}

// Stores an accumulator tile through the warp's scratch as fp16 rows of dst (ld columns).
__device__ __forceinline__ void StoreHalf(const FragC& acc, float* scratch, __half* dst, int ld, int lane) {
  wmma::store_matrix_sync(scratch, acc, 16, wmma::mem_row_major);
  __syncwarp();
  for (int i = lane; i < 256; i += 32) dst[(i / 16) * ld + i % 16] = __float2half_rn(scratch[i]);
  __syncwarp();
}

__global__ void __launch_bounds__(256) WmmaKernel(const __half* __restrict__ x, const __half* __restrict__ w_in,
                                                  const __half* __restrict__ w_core, const __half* __restrict__ w_out,
                                                  const __half* __restrict__ bias, const __half* __restrict__ z,
                                                  __half* __restrict__ y, Problem p, int th, int tw, int ih_n,
                                                  int iw_n) {
#if (defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 700) || defined(TUCKER_EMU)
  TUCKER_DYNAMIC_SMEM(smem);
  char* base = reinterpret_cast<char*>(smem);
  const int kk = p.kh * p.kw, K2 = p.R1 * kk;
  const int win = ih_n * iw_n, tpix = th * tw;
  const WmmaLayout L = MakeWmmaLayout(p.C, p.R1, p.R2, kk, win, tpix);
  const int winp = L.winp, tpixp = L.tpixp;
  __half* xs = reinterpret_cast<__half*>(base + L.xs);
  __half* t1 = reinterpret_cast<__half*>(base + L.t1);
  __half* col = reinterpret_cast<__half*>(base + L.col);
  __half* t2 = reinterpret_cast<__half*>(base + L.t2);
  const int t = threadIdx.x, nthr = blockDim.x, warp = t / 32, lane = t % 32;
  float* scratch = reinterpret_cast<float*>(base + L.scratch) + warp * 256;
  const int tiles_w = (p.Wo + tw - 1) / tw;
  const int oh0 = (blockIdx.x / tiles_w) * th, ow0 = (blockIdx.x % tiles_w) * tw;
  const int ih0 = oh0 * p.sh - p.pt, iw0 = ow0 * p.sw - p.pl;
  const size_t hw = static_cast<size_t>(p.H) * p.W;
  const __half* xn = x + static_cast<size_t>(blockIdx.y) * p.C * hw;
  const __half zero = __float2half_rn(0.f);

  // X's window, C x winp, zero outside the image and in the padding columns.
  for (int i = t; i < p.C * winp; i += nthr) {
    const int c = i / winp, off = WindowPixel(i - c * winp, win, iw_n, ih0, iw0, p.H, p.W);
    xs[i] = off >= 0 ? xn[static_cast<size_t>(c) * hw + off] : zero;
  }
  __syncthreads();

  // Stage 1: each warp computes whole 16x16 tiles of t1.
  const int n1 = (p.R1 / 16) * (winp / 16);
  for (int tt = warp; tt < n1; tt += kWmmaWarps) {
    const int m0 = (tt / (winp / 16)) * 16, c0 = (tt % (winp / 16)) * 16;
    FragC acc;
    wmma::fill_fragment(acc, 0.f);
    MmaTile(acc, w_in + static_cast<size_t>(m0) * p.C, p.C, xs + c0, winp, p.C);
    StoreHalf(acc, scratch, t1 + m0 * winp + c0, winp, lane);
  }
  __syncthreads();

  // Stage 2: the warp's t2 tiles stay in registers while im2col(t1) is built kWmmaChunkR1 r1 rows at a time.
  const int n2 = (p.R2 / 16) * (tpixp / 16);
  FragC acc2[kWmmaMaxAcc];
#pragma unroll
  for (int u = 0; u < kWmmaMaxAcc; ++u) wmma::fill_fragment(acc2[u], 0.f);
  for (int r10 = 0; r10 < p.R1; r10 += kWmmaChunkR1) {
    const int rows = kWmmaChunkR1 * kk;  // R1 is a multiple of 16
    for (int i = t; i < rows * tpixp; i += nthr) {
      const int kr = i / tpixp, q = i - kr * tpixp;
      const int r1 = r10 + kr / kk, tap = kr % kk, ki = tap / p.kw, kj = tap % p.kw;
      col[i] = q < tpix ? t1[r1 * winp + ((q / tw) * p.sh + ki * p.dh) * iw_n + (q % tw) * p.sw + kj * p.dw] : zero;
    }
    __syncthreads();
#pragma unroll
    for (int u = 0; u < kWmmaMaxAcc; ++u) {
      const int tt = warp + u * kWmmaWarps;
      if (tt >= n2) break;
      const int m0 = (tt / (tpixp / 16)) * 16, c0 = (tt % (tpixp / 16)) * 16;
      MmaTile(acc2[u], w_core + static_cast<size_t>(m0) * K2 + r10 * kk, K2, col + c0, tpixp, rows);
    }
    __syncthreads();  // col is rebuilt next
  }
#pragma unroll
  for (int u = 0; u < kWmmaMaxAcc; ++u) {
    const int tt = warp + u * kWmmaWarps;
    if (tt >= n2) break;
    const int m0 = (tt / (tpixp / 16)) * 16, c0 = (tt % (tpixp / 16)) * 16;
    StoreHalf(acc2[u], scratch, t2 + m0 * tpixp + c0, tpixp, lane);
  }
  __syncthreads();

  // Stage 3: Y = W_out . t2 + B (+ Z), Relu, tile by tile through the scratch.
  const size_t ohw = static_cast<size_t>(p.Ho) * p.Wo;
  const int n3 = (p.N / 16) * (tpixp / 16);
  for (int tt = warp; tt < n3; tt += kWmmaWarps) {
    const int m0 = (tt / (tpixp / 16)) * 16, c0 = (tt % (tpixp / 16)) * 16;
    FragC acc;
    wmma::fill_fragment(acc, 0.f);
    MmaTile(acc, w_out + static_cast<size_t>(m0) * p.R2, p.R2, t2 + c0, tpixp, p.R2);
    wmma::store_matrix_sync(scratch, acc, 16, wmma::mem_row_major);
    __syncwarp();
    for (int i = lane; i < 256; i += 32) {
      const int q = c0 + i % 16, n = m0 + i / 16;
      if (q >= tpix) continue;
      const int oh = oh0 + q / tw, ow = ow0 + q % tw;
      if (oh >= p.Ho || ow >= p.Wo) continue;
      const size_t o = (static_cast<size_t>(blockIdx.y) * p.N + n) * ohw + static_cast<size_t>(oh) * p.Wo + ow;
      float v = scratch[i] + ld(bias + n);
      if (z != nullptr) v += ld(z + o);
      if (p.relu) v = fmaxf(v, 0.f);
      st(y + o, v);
    }
    __syncwarp();
  }
#endif
}

}  // namespace
}  // namespace tucker_cuda
