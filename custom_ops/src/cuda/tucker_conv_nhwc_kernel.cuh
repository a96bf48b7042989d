// Device code of the staged kernel's channels-last tensor-core family (variant 6, nsplit 4; fp16 models whose ranks
// are multiples of 8): the three stages as three launches of one WMMA implicit-GEMM kernel, with t1 and t2 kept in
// fp16 and channels-last ([image x pixel][channel]) in scratch. Its own header, so that the CPU emulator
// (custom_ops/emu) compiles exactly this code.
//
// Why (session 10, Nsight Compute on the H200, 64:64->32:64@56, batch 32): the channels-first tensor-core family
// (tucker_conv_staged_kernel.cuh) ran its stages issue-bound (63-69% of issue slots busy, 10% of DRAM bandwidth):
// every reduction step loaded its B tile one 2- or 4-byte value per instruction, converted and stored each to
// shared memory alone, and every output paid an image/pixel division. Channels-last scratch makes a column's 8
// consecutive reduction rows (8 channels of one tap) one 16-byte load and one 16-byte shared store, and t1/t2 rows
// 8 channels per 16-byte store; fp16 halves the scratch traffic and is what the fp16 triplet rounds t1, t2 to anyway.
// Stage 1 reads the model's channels-first input 8 pixels per 16-byte load (one element per load where the map
// size is not a multiple of 8); stage 3 writes the model's channels-first output with bias, residual and Relu.
#pragma once
#include <cuda_fp16.h>
#include <mma.h>

#include <cstdint>
#include <type_traits>

#include "tucker_conv_device.cuh"
#include "tucker_conv_staged_layout.h"

namespace tucker_cuda {
namespace {

// Eight fp16 values in one 16-byte register group.
struct alignas(16) Half8 {
  __half h[8];
};

__device__ __forceinline__ Half8 LoadHalf8(const __half* p) {
  const uint4 v = __ldg(reinterpret_cast<const uint4*>(p));
  Half8 r;
  memcpy(&r, &v, sizeof(r));
  return r;
}

// One stage: out = epilogue(W[M][K] x B[K][cols]) over cols = batch x Ho x Wo (image, output pixel) columns.
// IN_NHWC: the input is channels-last scratch and the reduction runs tap-major (k = tap x cin + c; cin a multiple of 8,
// so each 8 consecutive k are 8 channels of one tap); otherwise it is the model's channels-first input through a 1x1
// stride-1 conv (stage 1; k = c). OUT_NHWC: fp16 channels-last scratch without epilogue (cout a multiple of 8);
// otherwise the model's channels-first output with bias, residual and Relu (stage 3).
template <int BM, int BN, bool IN_NHWC, bool OUT_NHWC>
__global__ void __launch_bounds__(kStagedMmaThreads) StagedNhwcKernel(const __half* __restrict__ in,
                                                                     const __half* __restrict__ w,
                                                                     const __half* __restrict__ bias,
                                                                     const __half* __restrict__ z,
                                                                     __half* __restrict__ out, StagedConv a) {
#if (defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 700) || defined(TUCKER_EMU)
  namespace wmma = nvcuda::wmma;
  constexpr int NT = kStagedMmaThreads, BK = kStagedNhwcBK, AKP = BK + 8;
  constexpr int WARPS_M = 2, WARPS_N = NT / 32 / WARPS_M, WM = BM / WARPS_M, WN = BN / WARPS_N;
  constexpr int FM = WM / 16, FN = WN / 16, A_PER = BM * BK / NT;
  static_assert(BK % 16 == 0 && FM >= 1 && FN >= 1 && WM % 16 == 0 && WN % 16 == 0 && A_PER >= 1, "whole fragments");
  // B in shared memory: column-major [BN][BK + 8] when read channels-last (a column's BK values of k are contiguous,
  // as its 16-byte loads bring them), row-major [BK][BN + 8] from the channels-first input (8 columns per load).
  constexpr int B_LD = IN_NHWC ? AKP : BN + 8, B_BUF = IN_NHWC ? BN * AKP : BK * (BN + 8);
  constexpr int B_VECS = BK * BN / 8, B_PER = B_VECS / NT;  // 16-byte groups of one step's B tile, per thread
  static_assert(B_PER >= 1 && B_PER * NT == B_VECS, "whole B groups per thread and step");
  using BLayout = std::conditional_t<IN_NHWC, wmma::col_major, wmma::row_major>;
  TUCKER_DYNAMIC_SMEM(smem);
  __half* As = reinterpret_cast<__half*>(smem);  // [2][BM][AKP]
  __half* Bs = As + 2 * BM * AKP;                // [2][B_BUF]
  float* epi = reinterpret_cast<float*>(Bs + 2 * B_BUF);  // [warps][16 x 16]
  const int t = threadIdx.x, lane = t % 32, warp = t / 32;
  const int wm0 = (warp / WARPS_N) * WM, wn0 = (warp % WARPS_N) * WN;
  const int kk = a.kh * a.kw, K = a.cin * kk, hw = a.H * a.W, ohw = a.Ho * a.Wo, cols = a.batch * ohw;
  const int m0 = blockIdx.y * BM, j0 = blockIdx.x * BN;

  // A (weights [cout][cin][kh][kw]): this thread's reduction row ka and rows ma + u x (NT / BK).
  const int ka = t % BK, ma = t / BK;
  float ra[A_PER];
  // B: this thread's 16-byte groups u of the step's tile (group v = t + u x NT).
  // Channels-last: group v is column v / (BK / 8) and reduction rows 8 x (v % (BK / 8)) .. + 7 of the step (one tap,
  // 8 channels); per group, the column's image pixel base and window origin.
  // Channels-first: group v is reduction row v / (BN / 8) and the 8 columns from 8 x (v % (BN / 8)), the same
  // columns for all of this thread's groups (per-column offsets where they are not one vector).
  Half8 rb[B_PER];
  constexpr int KG = BK / 8, CG = BN / 8;
  int ih0[B_PER], iw0[B_PER];
  size_t base[B_PER];
  bool col_ok[B_PER];
  bool vec = false;
  int off[8];
  if constexpr (IN_NHWC) {
#pragma unroll
    for (int u = 0; u < B_PER; ++u) {
      const int jb = j0 + (t + u * NT) / KG;
      col_ok[u] = jb < cols;
      const int n = col_ok[u] ? jb / ohw : 0, pix = col_ok[u] ? jb - n * ohw : 0, oh = pix / a.Wo, ow = pix - oh * a.Wo;
      ih0[u] = oh * a.sh - a.pt;
      iw0[u] = ow * a.sw - a.pl;
      base[u] = static_cast<size_t>(n) * hw;
    }
  } else {
    const int jb = j0 + (t % CG) * 8;
    vec = hw % 8 == 0 && (reinterpret_cast<uintptr_t>(in) & 15) == 0;  // 8 columns = 8 pixels of one image
    int n = jb / hw, pix = jb - n * hw;  // one division; the next columns step through the image boundary
#pragma unroll
    for (int e = 0; e < 8; ++e) {
      off[e] = jb + e < cols ? n * a.cin * hw + pix : -1;  // < 2^31: StagedNhwcFits checks the input's size
      if (++pix == hw) pix = 0, ++n;
    }
  }

  // Where the next step's loads start in the reduction, kept as (tap, channel) and advanced by BK per step without
  // divisions (these index divisions by runtime sizes dominated the issue slots of the first version, Nsight).
  // A: k = step + ka; B (channels-last): k = step + 8 x (t % KG), as tap row bi, tap column bj, channel bc.
  int a_tap = ka / a.cin, a_c = ka - a_tap * a.cin;
  int bc = 0, bi = 0, bj = 0;
  if constexpr (IN_NHWC) {
    const int k = 8 * (t % KG), tap = k / a.cin;
    bc = k - tap * a.cin;
    bi = tap / a.kw;
    bj = tap - bi * a.kw;
  }
  int k0 = 0;  // the step's first reduction row (stage 1: its first channel)
  auto load = [&]() {
#pragma unroll
    for (int u = 0; u < A_PER; ++u) {
      const int m = m0 + ma + u * (NT / BK);
      ra[u] = (m < a.cout && a_tap < kk) ? ld(w + static_cast<size_t>(m) * K + a_c * kk + a_tap) : 0.f;
    }
    for (a_c += BK; a_c >= a.cin && a_tap < kk;) a_c -= a.cin, ++a_tap;
    if constexpr (IN_NHWC) {
      const int ih_t = bi * a.dh, iw_t = bj * a.dw;
#pragma unroll
      for (int u = 0; u < B_PER; ++u) {
        const int ih = ih0[u] + ih_t, iw = iw0[u] + iw_t;
        if (col_ok[u] && bi < a.kh && ih >= 0 && ih < a.H && iw >= 0 && iw < a.W)
          rb[u] = LoadHalf8(in + (base[u] + ih * a.W + iw) * a.cin + bc);
        else
          rb[u] = Half8{};
      }
      for (bc += BK; bc >= a.cin && bi < a.kh;) {
        bc -= a.cin;
        if (++bj == a.kw) bj = 0, ++bi;
      }
    } else {
#pragma unroll
      for (int u = 0; u < B_PER; ++u) {
        const int c = k0 + (t + u * NT) / CG;
        if (c >= a.cin || off[0] < 0) {
          rb[u] = Half8{};
        } else if (vec && off[7] >= 0) {
          rb[u] = LoadHalf8(in + off[0] + static_cast<size_t>(c) * hw);
        } else {
#pragma unroll
          for (int e = 0; e < 8; ++e) rb[u].h[e] = off[e] >= 0 ? in[off[e] + static_cast<size_t>(c) * hw] : __half{};
        }
      }
    }
    k0 += BK;
  };
  auto store = [&](int buf) {
#pragma unroll
    for (int u = 0; u < A_PER; ++u) As[(buf * BM + ma + u * (NT / BK)) * AKP + ka] = __float2half_rn(ra[u]);
#pragma unroll
    for (int u = 0; u < B_PER; ++u) {
      const int v = t + u * NT;
      __half* dst = Bs + buf * B_BUF + (IN_NHWC ? (v / KG) * AKP + 8 * (v % KG) : (v / CG) * (BN + 8) + (v % CG) * 8);
      *reinterpret_cast<Half8*>(dst) = rb[u];
    }
  };

  wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc[FM][FN];
#pragma unroll
  for (int i = 0; i < FM; ++i)
#pragma unroll
    for (int j = 0; j < FN; ++j) wmma::fill_fragment(acc[i][j], 0.f);

  const int steps = (K + BK - 1) / BK;
  load();
  store(0);
  __syncthreads();
  for (int s = 0; s < steps; ++s) {
    const int buf = s & 1;
    if (s + 1 < steps) load();  // the next step's, in flight during this step's products
#pragma unroll
    for (int kq = 0; kq < BK; kq += 16) {
      wmma::fragment<wmma::matrix_a, 16, 16, 16, __half, wmma::row_major> fa[FM];
      wmma::fragment<wmma::matrix_b, 16, 16, 16, __half, BLayout> fb[FN];
#pragma unroll
      for (int i = 0; i < FM; ++i) wmma::load_matrix_sync(fa[i], As + (buf * BM + wm0 + i * 16) * AKP + kq, AKP);
#pragma unroll
      for (int j = 0; j < FN; ++j)
        wmma::load_matrix_sync(fb[j], Bs + buf * B_BUF + (IN_NHWC ? (wn0 + j * 16) * AKP + kq : kq * (BN + 8) + wn0 + j * 16),
                               B_LD);
#pragma unroll
      for (int i = 0; i < FM; ++i)
#pragma unroll
        for (int j = 0; j < FN; ++j) wmma::mma_sync(acc[i][j], fa[i], fb[j], acc[i][j]);
    }
    if (s + 1 < steps) store(buf ^ 1);  // the other buffer: every thread left it at the last step's barrier
    __syncthreads();
  }

  // Epilogue through the warp's fp32 16x16 tile. Channels-last: a lane owns column lane % 16 and 8 channels from
  // 8 x (lane / 16): one 16-byte store. Channels-first: a lane owns column lane % 16 (its image and pixel worked out
  // once) and rows lane / 16 + 2q.
  float* tile = epi + warp * 256;
  const int cc = lane % 16, half_id = lane / 16;
#pragma unroll
  for (int i = 0; i < FM; ++i)
#pragma unroll
    for (int j = 0; j < FN; ++j) {
      const int col = j0 + wn0 + j * 16 + cc, mb = m0 + wm0 + i * 16;
      if constexpr (OUT_NHWC) {
        wmma::store_matrix_sync(tile, acc[i][j], 16, wmma::mem_col_major);  // tile[col][m]
        __syncwarp();
        const int m = mb + 8 * half_id;
        if (col < cols && m < a.cout) {
          Half8 v;
#pragma unroll
          for (int e = 0; e < 8; ++e) v.h[e] = __float2half_rn(tile[cc * 16 + 8 * half_id + e]);
          *reinterpret_cast<Half8*>(out + static_cast<size_t>(col) * a.cout + m) = v;
        }
      } else {
        wmma::store_matrix_sync(tile, acc[i][j], 16, wmma::mem_row_major);  // tile[m][col]
        __syncwarp();
        if (col < cols) {
          const int n = col / ohw, pix = col - n * ohw;
          const size_t o0 = static_cast<size_t>(n) * a.cout * ohw + pix;
#pragma unroll
          for (int q = 0; q < 8; ++q) {
            const int r = half_id + 2 * q, m = mb + r;
            if (m >= a.cout) continue;
            const size_t o = o0 + static_cast<size_t>(m) * ohw;
            float v = tile[r * 16 + cc];
            if (bias != nullptr) v += ld(bias + m);
            if (z != nullptr) v += ld(z + o);
            if (a.relu) v = fmaxf(v, 0.f);
            st(out + o, v);
          }
        }
      }
      __syncwarp();
    }
#endif
}

}  // namespace

// Runs the three stages of config c (nsplit 4): go(kernel, grid, threads, smem_bytes, kernel arguments...) launches
// one (the CUDA launcher on ORT's stream, or the emulator). t1 [batch x H x W][R1] and t2 [batch x Ho x Wo][R2] are
// fp16 in `scratch`, at the float offsets of StagedT1Words (the family needs half of StagedScratchWords).
template <class Go>
void RunStagedNhwc(const __half* x, const __half* w_in, const __half* w_core, const __half* w_out, const __half* bias,
                   const __half* z, __half* y, const Problem& p, const Config& c, float* scratch, Go go) {
  __half* t1 = reinterpret_cast<__half*>(scratch);
  __half* t2 = reinterpret_cast<__half*>(scratch + StagedT1Words(p));
  auto stage = [&](auto in_nhwc, auto out_nhwc, const __half* in, const __half* w, const __half* b, const __half* zz,
                   __half* out, const StagedConv& a) {
    constexpr bool IN = decltype(in_nhwc)::value, OUTN = decltype(out_nhwc)::value;
    const int bm = StagedBM(a.cout, c.th), bn = c.tw;
    auto launch = [&](auto kernel, int bm_, int bn_) {
      const dim3 grid(static_cast<unsigned>(CeilDiv(a.batch * a.Ho * a.Wo, bn_)), static_cast<unsigned>(CeilDiv(a.cout, bm_)));
      go(kernel, grid, kStagedMmaThreads, StagedNhwcSmemBytes(bm_, bn_, IN), in, w, b, zz, out, a);
    };
    if (bm == 32) {
      if (bn == 64) launch(StagedNhwcKernel<32, 64, IN, OUTN>, 32, 64);
      else launch(StagedNhwcKernel<32, 128, IN, OUTN>, 32, 128);
    } else {
      if (bn == 64) launch(StagedNhwcKernel<64, 64, IN, OUTN>, 64, 64);
      else launch(StagedNhwcKernel<64, 128, IN, OUTN>, 64, 128);
    }
  };
  stage(std::false_type{}, std::true_type{}, x, w_in, nullptr, nullptr, t1, StagedStage1(p));
  stage(std::true_type{}, std::true_type{}, t1, w_core, nullptr, nullptr, t2, StagedStage2(p));
  stage(std::true_type{}, std::false_type{}, t2, w_out, bias, z, y, StagedStage3(p));
}

}  // namespace tucker_cuda
