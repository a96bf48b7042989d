// Device code of the tensor-core (WMMA) TuckerConv kernel, fp16 only (see tucker_conv_wmma.cu). A header of its
// own so that the CPU emulator (custom_ops/emu, tests/test_kernel_emu.py) compiles exactly this code.
//
// Block = one th x tw output tile of one image, all channels; 8 warps, each owning whole 16x16 output tiles of
// every stage (no cross-warp reduction). Every stage is fp16 x fp16 -> fp32 on tensor cores (16x16x16 WMMA):
//   stage 1: t1[R1][window] = W_in[R1][C] . xs[C][window]          (xs: X's window, staged once, zero padded)
//   stage 2: t2[R2][tile]   = W_core[R2][R1*kk] . col[R1*kk][tile]  (col: im2col of t1, built kc2 rows at a time)
//   stage 3: Y[N][tile]     = W_out[N][R2] . t2[R2][tile]          (+ bias, residual, Relu; written to global)
// Accumulators go through a per-warp fp32 scratch tile to become fp16 intermediates (t1, t2) or outputs.
// Requires C, R1, R2, N multiples of 16. The A operands (weights) are read in 16x16 tiles from global memory, or with
// stage_w (config nsplit 2) from shared memory, where all three weight matrices are copied by cp.async at the start
// while X's window loads. Why (session 13, CUPTI at batch 1): reading A from global memory put an L2 round trip in
// every step of each warp's dependent mma chain (64:32->32:64@7 took 16.5 us in one launch, the grid kernel 9 us);
// one block per tile with everything in shared memory needs no grid barrier, no scratch and no second launch.
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

// Shared-memory layout in bytes (host and device): xs [C][xld], t1 [R1][winp], col [16 * kk][cld], t2 [R2][cld]
// in fp16, then one 16x16 fp32 scratch tile per warp, then the index tables (ints): X's window positions' image
// offsets [winp], each tile pixel's t1 window origin [tpixp] and output offset [tpixp], each tap's t1 offset [kk];
// then the bias as fp32 [N].
// With stage_w, the weights follow as W_in [R1][C + 8], W_core [R2][R1 * kk + 8], W_out [N][R2 + 8] (-1 otherwise).
// Every matrix an mma operand is loaded from has rows padded by 8 fp16 (16 bytes): at a row stride that is a
// multiple of 128 bytes the 8 rows an ldmatrix phase reads share their banks (session 13's phase clocks: a step of
// the core stage took ~130 cycles).
constexpr int kWmmaPad = 8;
struct WmmaLayout {
  int winp, tpixp, xld, cld;
  int xs, t1, col, t2, w_in, w_core, w_out, scratch, tab, bias, total;
};

__host__ __device__ inline WmmaLayout MakeWmmaLayout(int C, int R1, int R2, int N, int kk, int win, int tpix,
                                                     bool stage_w) {
  WmmaLayout L;
  L.winp = RoundUp(win, 16);
  L.tpixp = RoundUp(tpix, 16);
  L.xld = L.winp + kWmmaPad;
  L.cld = L.tpixp + kWmmaPad;
  L.xs = 0;  // every size below is a multiple of 256 bytes (16 rows of a multiple of 16 bytes)
  L.t1 = L.xs + 2 * C * L.xld;
  L.col = L.t1 + 2 * R1 * L.winp;
  L.t2 = L.col + 2 * kWmmaChunkR1 * kk * L.cld;
  int end = L.t2 + 2 * R2 * L.cld;
  L.w_in = L.w_core = L.w_out = -1;
  if (stage_w) {
    L.w_in = RoundUp(end, 128);
    L.w_core = L.w_in + 2 * R1 * (C + kWmmaPad);
    L.w_out = L.w_core + 2 * R2 * (R1 * kk + kWmmaPad);
    end = L.w_out + 2 * N * (R2 + kWmmaPad);
  }
  L.scratch = RoundUp(end, 32);
  L.tab = L.scratch + 4 * 256 * kWmmaWarps;
  L.bias = L.tab + 4 * (L.winp + 2 * L.tpixp + kk);
  L.total = RoundUp(L.bias + 4 * N, 16);
  return L;
}

using FragA = wmma::fragment<wmma::matrix_a, 16, 16, 16, __half, wmma::row_major>;
using FragB = wmma::fragment<wmma::matrix_b, 16, 16, 16, __half, wmma::row_major>;
using FragC = wmma::fragment<wmma::accumulator, 16, 16, 16, float>;

// acc += A[16 x K] . B[K x 16], both row-major fp16: A (lda) in global or shared memory, B (ldb) in shared memory.
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

// kStageW: the weights staged in shared memory (a template argument, so that the A loads compile to shared-memory
// loads instead of generic ones).
template <bool kStageW>
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
  const WmmaLayout L = MakeWmmaLayout(p.C, p.R1, p.R2, p.N, kk, win, tpix, kStageW);
  const int winp = L.winp, tpixp = L.tpixp, xld = L.xld, cld = L.cld;
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

  // The weights into shared memory (stage_w), rows padded: 16-byte cp.async groups, in flight while X's window
  // loads below. lda_*: the A operands' row strides.
  const __half* a_in = w_in;
  const __half* a_core = w_core;
  const __half* a_out = w_out;
  int lda_in = p.C, lda_core = K2, lda_out = p.R2;
  if constexpr (kStageW) {
    __half* s_in = reinterpret_cast<__half*>(base + L.w_in);
    __half* s_core = reinterpret_cast<__half*>(base + L.w_core);
    __half* s_out = reinterpret_cast<__half*>(base + L.w_out);
    lda_in += kWmmaPad, lda_core += kWmmaPad, lda_out += kWmmaPad;
    const bool aligned = Aligned16(w_in) && Aligned16(w_core) && Aligned16(w_out);
    const auto copy = [&](__half* dst, const __half* src, int rows, int cols) {  // cols: a multiple of 16
      const int groups = cols / 8;
      for (int g = t; g < rows * groups; g += nthr) {
        const int r = g / groups, c = (g - r * groups) * 8;
        if (aligned) {
          CpAsync16(dst + r * (cols + kWmmaPad) + c, src + r * cols + c, true);
        } else {  // (ORT's buffers are aligned; a view into another tensor might not be)
          for (int j = 0; j < 8; ++j) dst[r * (cols + kWmmaPad) + c + j] = src[r * cols + c + j];
        }
      }
    };
    copy(s_in, w_in, p.R1, p.C);
    copy(s_core, w_core, p.R2, K2);
    copy(s_out, w_out, p.N, p.R2);
    CpAsyncCommit();
    a_in = s_in, a_core = s_core, a_out = s_out;
  }
  // The bias, loaded now and stored to shared memory after X's window, so the two loads' latencies overlap.
  constexpr int kBiasPer = 2;  // N <= kBiasPer * 256 per thread in registers; any rest is loaded at the store
  float bias_r[kBiasPer];
#pragma unroll
  for (int u = 0; u < kBiasPer; ++u) bias_r[u] = t + u * nthr < p.N ? ld(bias + t + u * nthr) : 0.f;

  // Index tables, so that no per-element loop below divides (session 13: the divisions of the window, im2col and
  // epilogue loops, not the tensor cores, bounded the kernel; its time grew with the pixels per block).
  int* wpix = reinterpret_cast<int*>(base + L.tab);  // window position -> image offset, -1 outside / padding
  int* pix_t1 = wpix + winp;                         // tile pixel -> its t1 window origin, -1 past the tile
  int* pix_y = pix_t1 + tpixp;                       // tile pixel -> output offset in the image plane, -1 outside
  int* tap_t1 = pix_y + tpixp;                       // tap -> t1 offset from the window origin
  for (int q = t; q < winp; q += nthr) wpix[q] = WindowPixel(q, win, iw_n, ih0, iw0, p.H, p.W);
  for (int q = t; q < tpixp; q += nthr) {
    const int qh = q / tw, qw = q - qh * tw, oh = oh0 + qh, ow = ow0 + qw;
    pix_t1[q] = q < tpix ? qh * p.sh * iw_n + qw * p.sw : -1;
    pix_y[q] = q < tpix && oh < p.Ho && ow < p.Wo ? oh * p.Wo + ow : -1;
  }
  for (int k = t; k < kk; k += nthr) tap_t1[k] = (k / p.kw) * p.dh * iw_n + (k % p.kw) * p.dw;
  __syncthreads();
  // PDL: everything above (the weights' copies, the bias, the tables) overlapped the stream's previous kernel; X and
  // y only after it.
  PdlWait();
  PdlLaunchDependents();

  // X's window, C x winp (rows xld apart), zero outside the image and in the padding columns: kXBatch loads per
  // thread in flight before their stores (a load-store loop waits out one global round trip per element). (c, q)
  // of element i = c x winp + q advance by nthr elements without dividing.
  constexpr int kXBatch = 16;
  const int nxs = p.C * winp, dc = nthr / winp, dq = nthr - dc * winp;
  int xc = t / winp, xq = t - xc * winp;
  for (int i0 = t; i0 < nxs; i0 += kXBatch * nthr) {
    __half v[kXBatch];
    int at[kXBatch];
#pragma unroll
    for (int u = 0; u < kXBatch; ++u) {
      const int off = i0 + u * nthr < nxs ? wpix[xq] : -1;
      v[u] = off >= 0 ? xn[static_cast<size_t>(xc) * hw + off] : zero;
      at[u] = xc * xld + xq;
      xq += dq, xc += dc;
      if (xq >= winp) xq -= winp, ++xc;
    }
#pragma unroll
    for (int u = 0; u < kXBatch; ++u)
      if (i0 + u * nthr < nxs) xs[at[u]] = v[u];
  }
  float* bias_s = reinterpret_cast<float*>(base + L.bias);  // read by the epilogue (after later barriers)
#pragma unroll
  for (int u = 0; u < kBiasPer; ++u)
    if (t + u * nthr < p.N) bias_s[t + u * nthr] = bias_r[u];
  for (int n = t + kBiasPer * nthr; n < p.N; n += nthr) bias_s[n] = ld(bias + n);
  CpAsyncWait<0>();
  __syncthreads();

  // Stage 1: each warp computes whole 16x16 tiles of t1.
  const int n1 = (p.R1 / 16) * (winp / 16);
  for (int tt = warp; tt < n1; tt += kWmmaWarps) {
    const int m0 = (tt / (winp / 16)) * 16, c0 = (tt % (winp / 16)) * 16;
    FragC acc;
    wmma::fill_fragment(acc, 0.f);
    MmaTile(acc, a_in + static_cast<size_t>(m0) * lda_in, lda_in, xs + c0, xld, p.C);
    StoreHalf(acc, scratch, t1 + m0 * winp + c0, winp, lane);
  }
  __syncthreads();

  // Stage 2: the warp's t2 tiles stay in registers while im2col(t1) is built kWmmaChunkR1 r1 rows at a time.
  const int n2 = (p.R2 / 16) * (tpixp / 16);
  FragC acc2[kWmmaMaxAcc];
#pragma unroll
  for (int u = 0; u < kWmmaMaxAcc; ++u) wmma::fill_fragment(acc2[u], 0.f);
  // im2col rows (r1 x kk + tap) of tpixp pixels, 8 pixels per store: thread t owns the 8-pixel segment t % nseg
  // (its 8 t1 window origins kept in registers) in rows t / nseg, t / nseg + row_step, ... (row_step rows on is
  // (d_r1, d_tap) further, with a carry). Session 13's ncu count: one element per step was 40% of the instructions.
  const int rows = kWmmaChunkR1 * kk;  // R1 is a multiple of 16
  const int nseg = tpixp / 8, row_step = nthr / nseg, d_r1 = row_step / kk, d_tap = row_step - d_r1 * kk;
  const int seg = t % nseg, row_t = t / nseg, r1_t = row_t / kk, tap_t = row_t - r1_t * kk;
  int po[8];
#pragma unroll
  for (int j = 0; j < 8; ++j) po[j] = pix_t1[seg * 8 + j];
  for (int r10 = 0; r10 < p.R1; r10 += kWmmaChunkR1) {
    int tap = tap_t, r1 = r10 + r1_t;
    for (int kr = row_t; kr < rows && t < row_step * nseg; kr += row_step) {
      const __half* src = t1 + r1 * winp + tap_t1[tap];
      __align__(16) __half v[8];
#pragma unroll
      for (int j = 0; j < 8; ++j) v[j] = po[j] >= 0 ? src[po[j]] : zero;
      *reinterpret_cast<uint4*>(col + kr * cld + seg * 8) = *reinterpret_cast<const uint4*>(v);
      tap += d_tap, r1 += d_r1;
      if (tap >= kk) tap -= kk, ++r1;
    }
    __syncthreads();
#pragma unroll
    for (int u = 0; u < kWmmaMaxAcc; ++u) {
      const int tt = warp + u * kWmmaWarps;
      if (tt >= n2) break;
      const int m0 = (tt / (tpixp / 16)) * 16, c0 = (tt % (tpixp / 16)) * 16;
      MmaTile(acc2[u], a_core + static_cast<size_t>(m0) * lda_core + r10 * kk, lda_core, col + c0, cld, rows);
    }
    __syncthreads();  // col is rebuilt next
  }
#pragma unroll
  for (int u = 0; u < kWmmaMaxAcc; ++u) {
    const int tt = warp + u * kWmmaWarps;
    if (tt >= n2) break;
    const int m0 = (tt / (tpixp / 16)) * 16, c0 = (tt % (tpixp / 16)) * 16;
    StoreHalf(acc2[u], scratch, t2 + m0 * cld + c0, cld, lane);
  }
  __syncthreads();

  // Stage 3: Y = W_out . t2 + B (+ Z), Relu, tile by tile through the scratch.
  const size_t ohw = static_cast<size_t>(p.Ho) * p.Wo;
  const int n3 = (p.N / 16) * (tpixp / 16);
  for (int tt = warp; tt < n3; tt += kWmmaWarps) {
    const int m0 = (tt / (tpixp / 16)) * 16, c0 = (tt % (tpixp / 16)) * 16;
    FragC acc;
    wmma::fill_fragment(acc, 0.f);
    MmaTile(acc, a_out + static_cast<size_t>(m0) * lda_out, lda_out, t2 + c0, cld, p.R2);
    wmma::store_matrix_sync(scratch, acc, 16, wmma::mem_row_major);
    __syncwarp();
    // Lane owns pixel c0 + lane % 16 of rows m0 + lane / 16 + 2u (u < 8); the residual's 8 loads go out together.
    const int q = c0 + lane % 16, oq = pix_y[q], n0 = m0 + lane / 16;
    if (oq >= 0) {
      const size_t o0 = (static_cast<size_t>(blockIdx.y) * p.N + n0) * ohw + oq;
      float zv[8];
#pragma unroll
      for (int u = 0; u < 8; ++u) zv[u] = z != nullptr ? ld(z + o0 + 2 * u * ohw) : 0.f;
#pragma unroll
      for (int u = 0; u < 8; ++u) {
        float v = scratch[lane + 32 * u] + bias_s[n0 + 2 * u] + zv[u];
        if (p.relu) v = fmaxf(v, 0.f);
        st(y + o0 + 2 * u * ohw, v);
      }
    }
    __syncwarp();
  }
#endif
}

}  // namespace
}  // namespace tucker_cuda
