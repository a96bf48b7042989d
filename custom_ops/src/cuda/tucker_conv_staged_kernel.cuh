// Device code of the staged TuckerConv kernel (variant 6, see tucker_conv_staged.cu): one implicit-GEMM conv
// kernel, launched once per stage. A header of its own so that the CPU emulator (custom_ops/emu,
// tests/test_kernel_emu.py) compiles exactly this code with a host compiler.
//
// One launch computes out[n][m][p] = epilogue(sum_k A[m][k] . B_n[k][p]) where A is a conv's weights [M][K]
// (K = Cin x kh x kw) and B_n the im2col of image n, never materialised. Columns are (image, output pixel) pairs
// flattened over the batch, so a batch-32 layer is one long GEMM. A block owns a BM x BN output tile and walks K
// in steps of kStagedBK through two shared-memory buffers (the next step's global loads are in registers while
// this step's FMAs run: one barrier per step). A thread owns a TM x TN register tile (the families in
// tucker_conv_staged_layout.h), read from shared memory as float4 groups spread by BM / 2 (BN / 2) so a warp's
// reads are conflict-free; a warp's threads form an 8 x 4 patch of tiles, so its reads touch few distinct
// addresses. A k step reads TM + TN floats for TM x TN FMAs and an SM's shared memory serves one 128-byte wavefront
// per cycle against four warp-FMAs: 4 x 4 tiles ran shared-memory-bound at half the FMA rate (Nsight, session 8).
#pragma once
#include <cuda_fp16.h>
#include <mma.h>

#include <type_traits>

#include "tucker_conv_device.cuh"
#include "tucker_conv_staged_layout.h"

namespace tucker_cuda {
namespace {

// Rows (columns) of a thread's register tile: TM values in groups of G = min(TM, 4) consecutive rows, the groups
// BM / (TM / G) apart.
template <int BM, int TM>
__device__ __forceinline__ int TileRow(int ty, int i) {
  constexpr int G = TM < 4 ? TM : 4;
  return (i / G) * (BM / (TM / G)) + ty * G + i % G;
}

// The operand loads of one reduction step (BK rows of K = cin x kh x kw) of a stage's implicit GEMM into registers:
// ra, A = the weights' rows this thread stages (k = ka, m = ma + u x NT / BK), and rb, B = the im2col values of its
// one column (k = kb + u x NT / BN), zero outside the input. Shared by the FFMA and tensor-core kernels.
template <typename TX, typename TW, int BM, int BN, int BK, int NT, bool PW, int KH, int KW, bool SPLIT>
struct StagedLoader {
  static constexpr int A_PER = BM * BK / NT, B_PER = BK * BN / NT, B_ROWS = NT / BN;
  static_assert(NT >= BN && NT % BN == 0 && A_PER * NT == BM * BK, "a thread loads B values of one column");
  float ra[A_PER], rb[B_PER];
  const TX* in_n;
  const TW* w;
  const StagedConv a;  // a copy: the kernel parameter's address is never taken
  int kh, kw, kk, K, hw, m0, ka, ma, kb, pb, ih0, iw0;
  bool col_ok, tap_major;
  size_t in_part;  // between the input's partial buffers

  __device__ StagedLoader(const TX* in, const TW* w_, const StagedConv& a_, int t, int m0_, int j0)
      : w(w_), a(a_), m0(m0_) {
    kh = KH ? KH : a.kh;
    kw = KW ? KW : a.kw;
    kk = kh * kw;
    K = a.cin * kk;
    hw = a.H * a.W;
    const int ohw = a.Ho * a.Wo, cols = a.batch * ohw;
    // This thread's B column (fixed for the whole reduction) and the rows it loads: image, window origin.
    const int jb = j0 + t % BN;
    kb = t / BN;
    col_ok = jb < cols;
    const int nb = col_ok ? jb / ohw : 0;
    pb = col_ok ? jb - nb * ohw : 0;
    const int ohb = pb / a.Wo, owb = pb - ohb * a.Wo;
    ih0 = ohb * a.sh - a.pt;
    iw0 = owb * a.sw - a.pl;
    in_n = in + static_cast<size_t>(nb) * a.cin * hw;
    in_part = static_cast<size_t>(a.batch) * a.cin * hw;
    ka = t % BK;
    ma = t / BK;
    // A core whose input channels are a multiple of BK walks the reduction tap-major (k = tap x cin + c): a step's
    // BK rows share one tap, so its window offset and bounds check are worked out once per step, not per element.
    tap_major = !PW && a.cin % BK == 0;
  }

  __device__ __forceinline__ void LoadTapMajor(int k0) {
    const int tap = k0 / a.cin, c0 = k0 - tap * a.cin, i = tap / kw, j = tap - i * kw;
#pragma unroll
    for (int u = 0; u < A_PER; ++u) {
      const int m = m0 + ma + u * (NT / BK);
      ra[u] = m < a.cout ? ld(w + static_cast<size_t>(m) * K + (c0 + ka) * kk + tap) : 0.f;
    }
    const int ih = ih0 + i * a.dh, iw = iw0 + j * a.dw;
    const bool ok = col_ok && ih >= 0 && ih < a.H && iw >= 0 && iw < a.W;
    const TX* src = in_n + static_cast<size_t>(c0 + kb) * hw + (ok ? ih * a.W + iw : 0);
#pragma unroll
    for (int u = 0; u < B_PER; ++u) rb[u] = ok ? ld(src + static_cast<size_t>(u * B_ROWS) * hw) : 0.f;
  }

  __device__ __forceinline__ void Load(int k0) {
    if (tap_major) {
      LoadTapMajor(k0);
      return;
    }
#pragma unroll
    for (int u = 0; u < A_PER; ++u) {
      const int m = m0 + ma + u * (NT / BK), k = k0 + ka;
      ra[u] = (m < a.cout && k < K) ? ld(w + static_cast<size_t>(m) * K + k) : 0.f;
    }
#pragma unroll
    for (int u = 0; u < B_PER; ++u) {
      const int k = k0 + kb + u * B_ROWS;
      float v = 0.f;
      if (col_ok && k < K) {
        if constexpr (PW) {
          const TX* src = in_n + static_cast<size_t>(k) * hw + pb;
          v = ld(src);
          if constexpr (SPLIT)
            for (int q = 1; q < a.in_parts; ++q) v += ld(src + q * in_part);
        } else {
          const int c = k / kk, r = k - c * kk, i = r / kw, j = r - i * kw;
          const int ih = ih0 + i * a.dh, iw = iw0 + j * a.dw;
          if (ih >= 0 && ih < a.H && iw >= 0 && iw < a.W) v = ld(in_n + static_cast<size_t>(c) * hw + ih * a.W + iw);
        }
      }
      rb[u] = v;
    }
  }
};

// This block's slice of the reduction, in whole BK steps [begin, end), and its partial-sum buffer (a.ksplit > 1).
template <int BK, bool SPLIT>
struct StagedSlice {
  int begin, end;
  __device__ StagedSlice(const StagedConv& a, int K) {
    const int all = (K + BK - 1) / BK, per = SPLIT ? (all + a.ksplit - 1) / a.ksplit : all;
    begin = SPLIT ? static_cast<int>(blockIdx.z) * per : 0;
    end = SPLIT ? min(all, begin + per) : all;
  }
};

// The epilogue of one output value: + bias (+ residual), Relu, stored to out[n][m][p] (col = n x Ho x Wo + p).
template <typename TW, typename TY>
__device__ __forceinline__ void StagedStore(TY* out, const TW* bias, const TW* z, const StagedConv& a, int m, int col,
                                            float v) {
  const int ohw = a.Ho * a.Wo, n = col / ohw, pix = col - n * ohw;
  const size_t o = (static_cast<size_t>(n) * a.cout + m) * ohw + pix;
  if (bias != nullptr) v += ld(bias + m);
  if (z != nullptr) v += ld(z + o);
  if (a.relu) v = fmaxf(v, 0.f);
  st(out + o, v);
}

// One conv as an implicit GEMM. TX: input storage (the model's dtype for stage 1, fp32 scratch after), TW: weights,
// bias and residual (the model's dtype), TY: output storage. KH/KW: the kernel's size when known at compile time
// (1x1 with unit stride and no padding: PW, a plain GEMM over each image's pixels), 0 when read from `a`.
// SPLIT: the launch takes part in a K split (a.ksplit slices, or a.in_parts input buffers). Without it the slice
// bounds are the whole reduction and the partial-sum loads compile out: the kernel timed in session 8 (calls 6-7),
// within 2-6 registers per instantiation under ptxas and the same blocks per SM.
template <typename TX, typename TW, typename TY, int BM, int BN, int TM, int TN, bool PW, int KH, int KW, bool SPLIT>
__global__ void __launch_bounds__((BM / TM) * (BN / TN), StagedMinBlocks((BM / TM) * (BN / TN)))
    StagedConvKernel(const TX* __restrict__ in, const TW* __restrict__ w, const TW* __restrict__ bias,
                     const TW* __restrict__ z, TY* __restrict__ out, StagedConv a) {
  constexpr int NT = (BM / TM) * (BN / TN);  // threads: one register tile each
  constexpr int BK = kStagedBK, AP = BM + 4;  // padded A rows: the transposed stores do not collide
  TUCKER_DYNAMIC_SMEM(smem);
  PdlWait();  // PDL; no early trigger here (why: tucker_conv_device.cuh)
  float* As = smem;                // [2][BK][AP]
  float* Bs = smem + 2 * BK * AP;  // [2][BK][BN]
  const int t = threadIdx.x;
  const int cols = a.batch * a.Ho * a.Wo;
  const int m0 = blockIdx.y * BM, j0 = blockIdx.x * BN;
  using Loader = StagedLoader<TX, TW, BM, BN, BK, NT, PW, KH, KW, SPLIT>;
  Loader L(in, w, a, t, m0, j0);
  constexpr int A_PER = Loader::A_PER, B_PER = Loader::B_PER, B_ROWS = Loader::B_ROWS;
  const StagedSlice<BK, SPLIT> slice(a, L.K);
  const int s_begin = slice.begin, s_end = slice.end;
  if constexpr (SPLIT) out += static_cast<size_t>(blockIdx.z) * a.batch * a.cout * a.Ho * a.Wo;
  auto store = [&](int buf) {
#pragma unroll
    for (int u = 0; u < A_PER; ++u) As[(buf * BK + L.ka) * AP + L.ma + u * (NT / BK)] = L.ra[u];
#pragma unroll
    for (int u = 0; u < B_PER; ++u) Bs[(buf * BK + L.kb + u * B_ROWS) * BN + t % BN] = L.rb[u];
  };

  constexpr int GM = TM < 4 ? TM : 4, GN = TN < 4 ? TN : 4;
  // Thread tiles: a warp covers 8 x 4 of them (columns x rows), so its shared-memory reads touch 8 distinct B
  // groups and 4 distinct A groups (one 128-byte wavefront each for 4-wide groups) instead of 32 and 1.
  constexpr int WX = BN / TN / 8;  // warps across the columns
  static_assert((BN / TN) % 8 == 0 && (BM / TM) % 4 == 0, "8 x 4 thread tiles per warp");
  const int lane = t % 32, warp = t / 32;
  const int tx = (warp % WX) * 8 + lane % 8, ty = (warp / WX) * 4 + lane / 8;
  float acc[TM][TN];
#pragma unroll
  for (int i = 0; i < TM; ++i)
#pragma unroll
    for (int j = 0; j < TN; ++j) acc[i][j] = 0.f;

  if (s_begin < s_end) {  // an empty slice (more slices than steps) still writes its zeros below
    L.Load(s_begin * BK);
    store(0);
  }
  __syncthreads();
  for (int s = s_begin; s < s_end; ++s) {
    const int buf = (s - s_begin) & 1;
    if (s + 1 < s_end) L.Load((s + 1) * BK);  // in flight during this step's FMAs
    const float* as = As + buf * BK * AP;
    const float* bs = Bs + buf * BK * BN;
#pragma unroll
    for (int k = 0; k < BK; ++k) {
      float av[TM], bv[TN];
#pragma unroll
      for (int g = 0; g < TM / GM; ++g) LoadVec<GM>(as + k * AP + TileRow<BM, TM>(ty, g * GM), av + g * GM);
#pragma unroll
      for (int g = 0; g < TN / GN; ++g) LoadVec<GN>(bs + k * BN + TileRow<BN, TN>(tx, g * GN), bv + g * GN);
#pragma unroll
      for (int i = 0; i < TM; ++i)
#pragma unroll
        for (int j = 0; j < TN; ++j) acc[i][j] = fmaf(av[i], bv[j], acc[i][j]);
    }
    if (s + 1 < s_end) store(buf ^ 1);  // the other buffer: every thread left it at the last step's barrier
    __syncthreads();
  }

  // Epilogue: + bias (+ residual), Relu, stored to out[n][m][p].
#pragma unroll
  for (int j = 0; j < TN; ++j) {
    const int col = j0 + TileRow<BN, TN>(tx, j);
    if (col >= cols) continue;
#pragma unroll
    for (int i = 0; i < TM; ++i) {
      const int m = m0 + TileRow<BM, TM>(ty, i);
      if (m < a.cout) StagedStore(out, bias, z, a, m, col, acc[i][j]);
    }
  }
}

// The tensor-core form of the kernel above (register-tile family 3, fp16 models only): the same loads (StagedLoader,
// kStagedMmaBK reduction rows per step, double-buffered), staged to shared memory as fp16, and 16x16x16 WMMA
// products accumulated in fp32 by 8 warps, each owning a (BM / WARPS_M) x (BN / WARPS_N) part of the block's tile.
// Why: the FFMA kernel reaches ~30-35% of the FP32 peak, and cuDNN's fp16 triplet runs on tensor cores
// (fp16, batch 32: 0.70x median, session 8). fp16 operands: the values a fp16 model's triplet rounds to fp16 between
// its convs too (t1, t2 stay fp32 in scratch; each stage rounds them as it stages them).
// A and B are row-major in shared memory: A [BM][kStagedMmaBK + 8] (the pad keeps rows 16-byte aligned and apart in
// banks), B [kStagedMmaBK][BN + 8]. The accumulators leave through a per-warp fp32 16x16 tile for the epilogue.
template <typename TX, typename TY, int BM, int BN, bool PW, int KH, int KW, bool SPLIT>
__global__ void __launch_bounds__(kStagedMmaThreads) StagedMmaKernel(const TX* __restrict__ in, const __half* __restrict__ w,
                                                                    const __half* __restrict__ bias,
                                                                    const __half* __restrict__ z, TY* __restrict__ out,
                                                                    StagedConv a) {
#if (defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 700) || defined(TUCKER_EMU)
  namespace wmma = nvcuda::wmma;
  constexpr int NT = kStagedMmaThreads, BK = kStagedMmaBK, AKP = BK + 8, BNP = BN + 8;
  constexpr int WARPS_M = BM == 128 ? 4 : 2, WARPS_N = NT / 32 / WARPS_M;
  constexpr int WM = BM / WARPS_M, WN = BN / WARPS_N, FM = WM / 16, FN = WN / 16;
  static_assert(BK == 16 && FM >= 1 && FN >= 1 && WM % 16 == 0 && WN % 16 == 0, "whole 16x16 fragments per warp");
  TUCKER_DYNAMIC_SMEM(smem);
  PdlWait();  // PDL; no early trigger here (why: tucker_conv_device.cuh)
  __half* As = reinterpret_cast<__half*>(smem);  // [2][BM][AKP]
  __half* Bs = As + 2 * BM * AKP;                // [2][BK][BNP]
  float* epi = reinterpret_cast<float*>(Bs + 2 * BK * BNP);  // [warps][16 x 16]
  const int t = threadIdx.x, lane = t % 32, warp = t / 32;
  const int wm0 = (warp / WARPS_N) * WM, wn0 = (warp % WARPS_N) * WN;
  const int cols = a.batch * a.Ho * a.Wo;
  const int m0 = blockIdx.y * BM, j0 = blockIdx.x * BN;
  using Loader = StagedLoader<TX, __half, BM, BN, BK, NT, PW, KH, KW, SPLIT>;
  Loader L(in, w, a, t, m0, j0);
  const StagedSlice<BK, SPLIT> slice(a, L.K);
  if constexpr (SPLIT) out += static_cast<size_t>(blockIdx.z) * a.batch * a.cout * a.Ho * a.Wo;
  auto store = [&](int buf) {
#pragma unroll
    for (int u = 0; u < Loader::A_PER; ++u)
      As[(buf * BM + L.ma + u * (NT / BK)) * AKP + L.ka] = __float2half_rn(L.ra[u]);
#pragma unroll
    for (int u = 0; u < Loader::B_PER; ++u)
      Bs[(buf * BK + L.kb + u * Loader::B_ROWS) * BNP + t % BN] = __float2half_rn(L.rb[u]);
  };

  wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc[FM][FN];
#pragma unroll
  for (int i = 0; i < FM; ++i)
#pragma unroll
    for (int j = 0; j < FN; ++j) wmma::fill_fragment(acc[i][j], 0.f);

  if (slice.begin < slice.end) {  // an empty slice (more slices than steps) still writes its zeros below
    L.Load(slice.begin * BK);
    store(0);
  }
  __syncthreads();
  for (int s = slice.begin; s < slice.end; ++s) {
    const int buf = (s - slice.begin) & 1;
    if (s + 1 < slice.end) L.Load((s + 1) * BK);  // in flight during this step's products
    wmma::fragment<wmma::matrix_a, 16, 16, 16, __half, wmma::row_major> fa[FM];
    wmma::fragment<wmma::matrix_b, 16, 16, 16, __half, wmma::row_major> fb[FN];
#pragma unroll
    for (int i = 0; i < FM; ++i) wmma::load_matrix_sync(fa[i], As + (buf * BM + wm0 + i * 16) * AKP, AKP);
#pragma unroll
    for (int j = 0; j < FN; ++j) wmma::load_matrix_sync(fb[j], Bs + buf * BK * BNP + wn0 + j * 16, BNP);
#pragma unroll
    for (int i = 0; i < FM; ++i)
#pragma unroll
      for (int j = 0; j < FN; ++j) wmma::mma_sync(acc[i][j], fa[i], fb[j], acc[i][j]);
    if (s + 1 < slice.end) store(buf ^ 1);  // the other buffer: every thread left it at the last step's barrier
    __syncthreads();
  }

  // Epilogue: each fragment through the warp's fp32 tile, then + bias (+ residual), Relu, stored to out[n][m][p]
  // (a warp's lanes walk a tile row by row: 16 consecutive pixels per row).
  float* tile = epi + warp * 256;
#pragma unroll
  for (int i = 0; i < FM; ++i)
#pragma unroll
    for (int j = 0; j < FN; ++j) {
      wmma::store_matrix_sync(tile, acc[i][j], 16, wmma::mem_row_major);
      __syncwarp();
      for (int e = lane; e < 256; e += 32) {
        const int m = m0 + wm0 + i * 16 + e / 16, col = j0 + wn0 + j * 16 + e % 16;
        if (m < a.cout && col < cols) StagedStore(out, bias, z, a, m, col, tile[e]);
      }
      __syncwarp();
    }
#endif
}

}  // namespace

// Runs the three stages for config c: go(kernel, grid, threads, smem_bytes, kernel arguments...) launches one (the CUDA
// launcher with <<<>>> on ORT's stream, the emulator on host threads). t1 and t2 (its K-split partials) are fp32 in
// `scratch` (StagedScratchWords floats).
template <typename T, class Go>
void RunStaged(const T* x, const T* w_in, const T* w_core, const T* w_out, const T* bias, const T* z, T* y,
               const Problem& p, const Config& c, float* scratch, Go go) {
  float* t1 = scratch;
  float* t2 = scratch + StagedT1Words(p);
  auto stage = [&](auto tx, auto ty, auto kind, const auto* in, const T* w, const T* b, const T* zz, auto* out,
                   const StagedConv& a) {
    using TX = decltype(tx);
    using TY = decltype(ty);
    constexpr int KIND = decltype(kind)::value;  // 1: pointwise GEMM, 3: 3x3 core, 0: any core
    constexpr bool PW = KIND == 1;
    constexpr int KS = KIND == 3 ? 3 : 0;
    const int bm = StagedBM(a.cout, c.th), bn = c.tw, fam = c.nsplit;
    auto launch = [&](auto kernel, int threads, size_t smem) {
      const dim3 grid(static_cast<unsigned>(CeilDiv(a.batch * a.Ho * a.Wo, bn)), static_cast<unsigned>(CeilDiv(a.cout, bm)),
                      static_cast<unsigned>(a.ksplit));
      go(kernel, grid, threads, smem, in, w, b, zz, out, a);
    };
    auto tiles = [&](auto split) {
      constexpr bool S = decltype(split)::value;
      auto tile = [&](auto bm_c, auto bn_c, auto fam_c) {
        constexpr int BM = decltype(bm_c)::value, BN = decltype(bn_c)::value, F = decltype(fam_c)::value;
        if constexpr (F == 3) {
          if constexpr (std::is_same_v<T, __half>)
            launch(StagedMmaKernel<TX, TY, BM, BN, PW, KS, KS, S>, kStagedMmaThreads, StagedMmaSmemBytes(BM, BN));
        } else {
          launch(StagedConvKernel<TX, T, TY, BM, BN, StagedTM(BM, F), StagedTN(F), PW, KS, KS, S>,
                 StagedBlockThreads(BM, BN, F), StagedSmemBytes(BM, BN));
        }
      };
      using I32 = std::integral_constant<int, 32>;
      using I64 = std::integral_constant<int, 64>;
      using I128 = std::integral_constant<int, 128>;
      using Wide = std::integral_constant<int, 1>;
      using Small = std::integral_constant<int, 2>;  // 256 threads, BN 64
      using Mma = std::integral_constant<int, 3>;    // tensor cores, fp16 only
      if (fam == 3) {
        if (bn == 64) {
          if (bm == 32) tile(I32{}, I64{}, Mma{});
          else if (bm == 64) tile(I64{}, I64{}, Mma{});
          else tile(I128{}, I64{}, Mma{});
        } else {
          if (bm == 32) tile(I32{}, I128{}, Mma{});
          else if (bm == 64) tile(I64{}, I128{}, Mma{});
          else tile(I128{}, I128{}, Mma{});
        }
      } else if (fam == 2) {
        if (bm == 32) tile(I32{}, I64{}, Small{});
        else if (bm == 64) tile(I64{}, I64{}, Small{});
        else tile(I128{}, I64{}, Small{});
      } else if (bn == 64) {
        if (bm == 32) tile(I32{}, I64{}, Wide{});
        else if (bm == 64) tile(I64{}, I64{}, Wide{});
        else tile(I128{}, I64{}, Wide{});
      } else {
        if (bm == 32) tile(I32{}, I128{}, Wide{});
        else if (bm == 64) tile(I64{}, I128{}, Wide{});
        else tile(I128{}, I128{}, Wide{});
      }
    };
    if (a.ksplit > 1 || a.in_parts > 1) tiles(std::true_type{});
    else tiles(std::false_type{});
  };
  using Pointwise = std::integral_constant<int, 1>;
  const int split = StagedKSplit(c);  // the core stage's K slices, summed by stage 3's loads
  const StagedConv s1 = StagedStage1(p), s2 = StagedStage2(p, split), s3 = StagedStage3(p, split);
  stage(T{}, float{}, Pointwise{}, x, w_in, nullptr, nullptr, t1, s1);
  if (StagedPointwise(s2)) stage(float{}, float{}, Pointwise{}, t1, w_core, nullptr, nullptr, t2, s2);
  else if (p.kh == 3 && p.kw == 3) stage(float{}, float{}, std::integral_constant<int, 3>{}, t1, w_core, nullptr, nullptr, t2, s2);
  else stage(float{}, float{}, std::integral_constant<int, 0>{}, t1, w_core, nullptr, nullptr, t2, s2);
  stage(float{}, T{}, Pointwise{}, t2, w_out, bias, z, y, s3);
}

}  // namespace tucker_cuda
