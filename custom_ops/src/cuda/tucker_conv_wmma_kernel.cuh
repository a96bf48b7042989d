// Device code of the tensor-core (WMMA) TuckerConv kernel, fp16 (nsplit 1 and 2) and fp32 (nsplit 3, 3xTF32; see
// tucker_conv_wmma.cu). A header of its own so that the CPU emulator (custom_ops/emu, tests/test_kernel_emu.py)
// compiles exactly this code.
//
// Block = one th x tw output tile of one image, all channels; 8 warps, each owning whole 16x16 output tiles of
// every stage (no cross-warp reduction). Every stage is fp16 x fp16 -> fp32 on tensor cores (16x16x16 WMMA):
//   stage 1: t1[R1][window] = W_in[R1][C] . xs[C][window]          (xs: X's window, staged once, zero padded)
//   stage 2: t2[R2][tile]   = W_core[R2][R1*kk] . col[R1*kk][tile]  (col: im2col of t1, kc x kk rows at a time)
//   stage 3: Y[N][tile]     = W_out[N][R2] . t2[R2][tile]          (+ bias, residual, Relu; written to global)
// Accumulators go through a per-warp fp32 scratch tile to become fp16 intermediates (t1, t2) or outputs.
// fp32 (nsplit 3, session 21): the same kernel with every buffer in fp32 and each 16-row step as two TF32 16x16x8
// steps of three products (3xTF32, tucker_conv_tf32.cuh: fp32's accuracy, so cuDNN is compared with TF32 off) summed
// into a fresh fragment that is added to the running sums (the tensor cores' accumulation does not round to
// nearest; session 20). Why: at batch 1 the fp32 layers on 7x7-28x28 maps ran the grid kernel (a cooperative launch
// and two grid barriers, ~9-14 us a layer) or three staged launches, where the fp16 layers ran this one launch in
// 4-8 us (session 21, call 1). The weights must be staged (the TF32 loads read shared memory).
// Requires C, R1, R2, N multiples of 16. The A operands (weights) are read in 16x16 tiles from global memory, or with
// stage_w (config nsplit 2) from shared memory, where all three weight matrices are copied by cp.async at the start
// while X's window loads. Why (session 13, CUPTI at batch 1): reading A from global memory put an L2 round trip in
// every step of each warp's dependent mma chain (64:32->32:64@7 took 16.5 us in one launch, the grid kernel 9 us);
// one block per tile with everything in shared memory needs no grid barrier, no scratch and no second launch.
//
// Cluster split (kSplit; config kchunk = 32 x cs, cs > 1, with stage_w): where the weights of large ranks do not fit
// one block's shared memory, a cluster of cs blocks shares a tile. Each block stages only its slice of each stage's
// output rows (W_in's R1 slice, W_core's R2 slice, W_out's N slice: whole 16-row groups), computes that slice, and
// reads the other blocks' t1 and t2 rows over DSMEM after a cluster barrier. Still one launch per layer; when a
// block's slice has fewer 16x16 tiles than warps, the warps split each tile's reduction and sum it in shared memory.
#pragma once
#include <cooperative_groups.h>
#include <cuda_fp16.h>
#include <mma.h>

#include "tucker_conv_device.cuh"
#include "tucker_conv_kernels.cuh"
#include "tucker_conv_tf32.cuh"
#include "tucker_conv_tiled_layout.h"

namespace tucker_cuda {
namespace {

namespace wmma = nvcuda::wmma;

constexpr int kWmmaWarps = 8;     // warps per block (256 threads)
constexpr int kWmmaMaxAcc = 8;    // stage-2 accumulators a warp keeps across im2col chunks

// Shared-memory layout in bytes (host and device): xs [C][xld], t1 [R1][winp], col [kc * kk][cld], t2 [R2][cld]
// in the model's type (es bytes: 2 or 4), then one 16x16 fp32 scratch tile per warp, then the index tables (ints): X's window positions' image
// offsets [winp], each tile pixel's t1 window origin [tpixp] and output offset [tpixp], each tap's t1 offset [kk];
// then the bias as fp32 [N].
// With stage_w, the weights follow as W_in [R1][C + 8], W_core [R2][R1 * kk + 8], W_out [N][R2 + 8] (-1 otherwise).
// Every matrix an mma operand is loaded from has rows padded by 16 bytes (8 fp16, 4 fp32): at a row stride that is a
// multiple of 128 bytes the 8 rows an ldmatrix phase reads share their banks (session 13's phase clocks: a step of
// the core stage took ~130 cycles).
constexpr int kWmmaPadBytes = 16;

// Rows [lo, hi) of an M-row stage (M a multiple of 16) that cluster rank q of cs owns: whole 16-row groups.
__host__ __device__ inline void WmmaSlice(int M, int cs, int q, int* lo, int* hi) {
  const int g = M / 16;
  *lo = 16 * (g * q / cs);
  *hi = 16 * (g * (q + 1) / cs);
}
__host__ __device__ inline int WmmaSliceMax(int M, int cs) { return 16 * ((M / 16 + cs - 1) / cs); }

// r1 rows per im2col chunk: the largest multiple of 16 that divides R1 and whose kk rows each (cld fp16) take at
// most max_bytes; all of R1 where it fits. Why (session 16): each chunk costs a build and two block barriers (the
// model's wmma_sync, ~700 cycles); 16-row chunks gave a 64->32 layer four of them.
__host__ __device__ inline int WmmaChunkR1(int R1, int kk, int cld, int max_bytes, int es) {
  int best = 16;
  for (int c = 32; c <= R1; c += 16)
    if (R1 % c == 0 && es * c * kk * cld <= max_bytes) best = c;
  return best;
}
// The im2col buffer may grow to kWmmaColBytes, but not past what keeps two blocks per SM on Hopper (228 KB per SM,
// 1 KB reserved per block) where 16-row chunks allow two: 64:64->32:128 blocks of 2x4 pixels went from 96 to 117 KB
// with one chunk, one block per SM, and ran 30-50% slower wherever there was more than one wave (session 16, call 3).
constexpr int kWmmaColBytes = 32 * 1024;
constexpr int kWmmaTwoPerSm = 113 * 1024, kWmmaMaxBlock = 227 * 1024;

struct WmmaLayout {
  int winp, tpixp, xld, cld, kc;  // kc: r1 rows per im2col chunk (WmmaChunkR1)
  int xs, t1, col, t2, w_in, w_core, w_out, scratch, tab, bias, total;
};

// cs > 1: the weight rows are one cluster rank's slices (WmmaSliceMax). es: bytes per element (2 fp16, 4 fp32).
__host__ __device__ inline WmmaLayout MakeWmmaLayout(int C, int R1, int R2, int N, int kk, int win, int tpix,
                                                     bool stage_w, int cs, int es) {
  WmmaLayout L;
  const int pad = kWmmaPadBytes / es;
  L.winp = RoundUp(win, 16);
  L.tpixp = RoundUp(tpix, 16);
  L.xld = L.winp + pad;
  L.cld = L.tpixp + pad;
  // Every size is a multiple of 256 bytes (16 rows of a multiple of 16 bytes), so a larger im2col chunk adds its
  // bytes to the total and moves what follows col without changing any rounding.
  const auto place = [&](int kc) {
    L.kc = kc;
    L.xs = 0;
    L.t1 = L.xs + es * C * L.xld;
    L.col = L.t1 + es * R1 * L.winp;
    L.t2 = L.col + es * L.kc * kk * L.cld;
    int end = L.t2 + es * R2 * L.cld;
    L.w_in = L.w_core = L.w_out = -1;
    if (stage_w) {
      L.w_in = RoundUp(end, 128);
      L.w_core = L.w_in + es * WmmaSliceMax(R1, cs) * (C + pad);
      L.w_out = L.w_core + es * WmmaSliceMax(R2, cs) * (R1 * kk + pad);
      end = L.w_out + es * WmmaSliceMax(N, cs) * (R2 + pad);
    }
    L.scratch = RoundUp(end, 32);
    L.tab = L.scratch + 4 * 256 * kWmmaWarps;
    L.bias = L.tab + 4 * (L.winp + 2 * L.tpixp + kk);
    L.total = RoundUp(L.bias + 4 * N, 16);
  };
  place(16);
  const int col16 = es * 16 * kk * L.cld, room = (L.total <= kWmmaTwoPerSm ? kWmmaTwoPerSm : kWmmaMaxBlock) - L.total;
  const int kc = WmmaChunkR1(R1, kk, L.cld, min(kWmmaColBytes, col16 + max(room, 0)), es);
  if (kc != 16) place(kc);
  return L;
}

// The accumulator fragment and one 16-row reduction step, acc += A[16 x 16] . B[16 x 16] (both row-major), per
// element type. fp16: one 16x16x16 mma, A in global or shared memory. fp32 (TF32 types exist from sm_80 on; the
// host-only model build compiles this file for nvcc's default target): two 16x16x8 steps of 3xTF32 from shared
// memory into a fresh fragment, added to acc.
template <typename T>
struct WmmaOps;
template <>
struct WmmaOps<__half> {
  using Acc = wmma::fragment<wmma::accumulator, 16, 16, 16, float>;
  __device__ static __forceinline__ void Step(Acc& acc, const __half* a, int lda, const __half* b, int ldb, bool) {
    wmma::fragment<wmma::matrix_a, 16, 16, 16, __half, wmma::row_major> fa;
    wmma::fragment<wmma::matrix_b, 16, 16, 16, __half, wmma::row_major> fb;
    wmma::load_matrix_sync(fa, a, lda);
    wmma::load_matrix_sync(fb, b, ldb);
    wmma::mma_sync(acc, fa, fb, acc);
  }
};
#if (defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800) || defined(TUCKER_EMU)
#define TUCKER_WMMA_TF32 1
template <>
struct WmmaOps<float> {
  using Acc = wmma::fragment<wmma::accumulator, 16, 16, 8, float>;
  // tf32 (Problem::tf32): one product of the rounded operands per half step, accumulated in place, as cuDNN's TF32.
  __device__ static __forceinline__ void Step(Acc& acc, const float* a, int lda, const float* b, int ldb, bool tf32) {
    if (tf32) {
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        wmma::fragment<wmma::matrix_a, 16, 16, 8, wmma::precision::tf32, wmma::row_major> fa;
        wmma::fragment<wmma::matrix_b, 16, 16, 8, wmma::precision::tf32, wmma::row_major> fb;
        LoadTf32Shared(fa, a + 8 * h, lda);
        LoadTf32Shared(fb, b + 8 * h * ldb, ldb);
        RoundTf32(fa);
        RoundTf32(fb);
        wmma::mma_sync(acc, fa, fb, acc);
      }
      return;
    }
    Acc part;
    wmma::fill_fragment(part, 0.f);
#pragma unroll
    for (int h = 0; h < 2; ++h) {
      wmma::fragment<wmma::matrix_a, 16, 16, 8, wmma::precision::tf32, wmma::row_major> fa, fa_lo;
      wmma::fragment<wmma::matrix_b, 16, 16, 8, wmma::precision::tf32, wmma::row_major> fb, fb_lo;
      LoadTf32Shared(fa, a + 8 * h, lda);
      LoadTf32Shared(fb, b + 8 * h * ldb, ldb);
      SplitTf32(fa, fa_lo);
      SplitTf32(fb, fb_lo);
      wmma::mma_sync(part, fa_lo, fb, part);
      wmma::mma_sync(part, fa, fb_lo, part);
      wmma::mma_sync(part, fa, fb, part);
    }
#pragma unroll
    for (int e = 0; e < acc.num_elements; ++e) acc.x[e] += part.x[e];
  }
};
#else
#define TUCKER_WMMA_TF32 0
#endif

// acc += A[16 x K] . B[K x 16], both row-major: A (lda) in global or shared memory, B (ldb) in shared memory;
// only the 16-row steps first, first + stride, ... (a warp's share of a split reduction). tf32: fp32's TF32 mode.
template <typename T, class Acc>
__device__ __forceinline__ void MmaTile(Acc& acc, const T* a, int lda, const T* b, int ldb, int K, int first,
                                        int stride, bool tf32) {
  for (int k = first * 16; k < K; k += stride * 16) WmmaOps<T>::Step(acc, a + k, lda, b + k * ldb, ldb, tf32);
}

// A 16x16 fp32 tile in a warp's scratch as fp16 rows of dst (ld columns): lane l converts row l / 2, columns
// 8 (l % 2) .. + 7, with two 16-byte loads and one 16-byte store (dst and ld x 2 bytes multiples of 16 bytes: t1's
// and t2's rows are). Why (session 17): one element per step took 8 loads, conversions and 2-byte stores per lane;
// the kernel's code fell from 74 to 60 KB and the batch-1 WMMA layers ran ~2% faster (single runs, within noise
// per layer).
__device__ __forceinline__ void ScratchToRows(const float* scratch, __half* dst, int ld, int lane) {
  const float4* s = reinterpret_cast<const float4*>(scratch + lane * 8);
  const float4 a = s[0], b = s[1];
  __align__(16) const __half h[8] = {__float2half_rn(a.x), __float2half_rn(a.y), __float2half_rn(a.z),
                                     __float2half_rn(a.w), __float2half_rn(b.x), __float2half_rn(b.y),
                                     __float2half_rn(b.z), __float2half_rn(b.w)};
  *reinterpret_cast<uint4*>(dst + (lane / 2) * ld + (lane % 2) * 8) = *reinterpret_cast<const uint4*>(h);
}
// The fp32 form: the same 8 values copied as two 16-byte groups (dst and ld x 4 bytes multiples of 16 bytes).
__device__ __forceinline__ void ScratchToRows(const float* scratch, float* dst, int ld, int lane) {
  const float4* s = reinterpret_cast<const float4*>(scratch + lane * 8);
  float4* d = reinterpret_cast<float4*>(dst + (lane / 2) * ld + (lane % 2) * 8);
  d[0] = s[0];
  d[1] = s[1];
}

// Eight values (16-byte aligned) to shared memory in 16-byte groups: one for fp16, two for fp32.
template <typename T>
__device__ __forceinline__ void Store8Raw(T* dst, const T (&v)[8]) {
#pragma unroll
  for (int i = 0; i < static_cast<int>(8 * sizeof(T) / 16); ++i)
    reinterpret_cast<uint4*>(dst)[i] = reinterpret_cast<const uint4*>(v)[i];
}

// Stores an accumulator tile through the warp's scratch as rows of dst (ld columns, the model's type).
template <typename T, class Acc>
__device__ __forceinline__ void StoreRows(const Acc& acc, float* scratch, T* dst, int ld, int lane) {
  wmma::store_matrix_sync(scratch, acc, 16, wmma::mem_row_major);
  __syncwarp();
  ScratchToRows(scratch, dst, ld, lane);
  __syncwarp();
}

// A split reduction's partial tiles (warp w + j x ntiles holds part j of tile w, in its scratch) summed into warp w's
// scratch, by warp w (w < ntiles) after a block barrier.
__device__ __forceinline__ void SumPartialTiles(float* scratch0, int warp, int ntiles, int ks, int lane) {
  float* scratch = scratch0 + warp * 256;
  for (int i = lane; i < 256; i += 32) {
    float v = scratch[i];
    for (int j = 1; j < ks; ++j) v += scratch0[(warp + j * ntiles) * 256 + i];
    scratch[i] = v;
  }
  __syncwarp();
}

// ntiles 16x16 output tiles of a stage over the block's 8 warps; mma(acc, tile, first, stride) adds the tile's
// reduction steps first, first + stride, ... When the tiles are fewer than the warps and split is set, each tile's
// steps are dealt to ks = 8 / ntiles warps whose partial sums meet in their scratch tiles (a block-wide barrier: every
// thread calls this). epi(tile, s) then gets the tile's fp32 sums in s (16x16, row-major).
template <class Acc, class Mma, class Epi>
__device__ __forceinline__ void WarpTiles(int ntiles, int ksteps, bool split, float* scratch0, int warp, int lane,
                                          Mma mma, Epi epi) {
  if (ntiles <= 0) return;  // (block-uniform)
  float* scratch = scratch0 + warp * 256;
  const int ks = split && ntiles < kWmmaWarps ? min(kWmmaWarps / ntiles, ksteps) : 1;
  if (ks <= 1) {
    for (int tt = warp; tt < ntiles; tt += kWmmaWarps) {
      Acc acc;
      wmma::fill_fragment(acc, 0.f);
      mma(acc, tt, 0, 1);
      wmma::store_matrix_sync(scratch, acc, 16, wmma::mem_row_major);
      __syncwarp();
      epi(tt, scratch);
      __syncwarp();
    }
    return;
  }
  const int tile = warp % ntiles, part = warp / ntiles;
  if (part < ks) {
    Acc acc;
    wmma::fill_fragment(acc, 0.f);
    mma(acc, tile, part, ks);
    wmma::store_matrix_sync(scratch, acc, 16, wmma::mem_row_major);
  }
  __syncthreads();
  if (part == 0) {
    SumPartialTiles(scratch0, warp, ntiles, ks, lane);
    epi(tile, scratch);
    __syncwarp();
  }
}

// The cluster split's device side exists for Hopper and later (and the emulator); elsewhere the kSplit kernel is
// never launched (WmmaLaunchable) and these are stubs, so that builds for other targets compile.
#if (defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900) || defined(TUCKER_EMU)
#define TUCKER_WMMA_CLUSTER 1
#else
#define TUCKER_WMMA_CLUSTER 0
#endif
// The cluster barrier in two halves. Relaxed: cooperative_groups' cluster.sync() releases at GPU scope (SASS:
// MEMBAR.ALL.GPU before the arrive), which waits out every global store in flight; the split kernel needs no global
// ordering, only its t1/t2 rows in shared memory, which the __syncthreads() before each arrive has written into the
// SM's shared memory, where the other blocks' DSMEM reads go (session 15: 0.6 us less per layer at cs 2).
__device__ __forceinline__ void WmmaClusterArrive() {
#if TUCKER_WMMA_CLUSTER
#ifdef TUCKER_EMU
  cooperative_groups::this_cluster().barrier_arrive();
#else
  asm volatile("barrier.cluster.arrive.relaxed.aligned;\n" ::: "memory");
#endif
#endif
}
__device__ __forceinline__ void WmmaClusterWait() {
#if TUCKER_WMMA_CLUSTER
#ifdef TUCKER_EMU
  cooperative_groups::this_cluster().barrier_wait();
#else
  asm volatile("barrier.cluster.wait.aligned;\n" ::: "memory");
#endif
#endif
}
__device__ __forceinline__ void WmmaClusterShape(int* cs, int* me) {
#if TUCKER_WMMA_CLUSTER
  const cooperative_groups::cluster_group cluster = cooperative_groups::this_cluster();
  *cs = static_cast<int>(cluster.num_blocks());
  *me = static_cast<int>(cluster.block_rank());
#else
  *cs = 1, *me = 0;
#endif
}

// Copies the rows of a [M][ld] matrix in shared memory that the other cluster ranks computed (WmmaSlice) from
// their shared memory into this block's (ld x sizeof(T) a multiple of 16 bytes).
template <typename T>
__device__ __forceinline__ void GatherSlices(T* m, int M, int ld, int cs, int me, int t, int nthr) {
#if TUCKER_WMMA_CLUSTER
  const cooperative_groups::cluster_group cluster = cooperative_groups::this_cluster();
  for (int r = 0; r < cs; ++r) {
    if (r == me) continue;
    int lo, hi;
    WmmaSlice(M, cs, r, &lo, &hi);
    const uint4* src = reinterpret_cast<const uint4*>(cluster.map_shared_rank(m + lo * ld, r));
    uint4* dst = reinterpret_cast<uint4*>(m + lo * ld);
    const int n = (hi - lo) * ld / static_cast<int>(16 / sizeof(T));
    for (int i = t; i < n; i += nthr) dst[i] = src[i];
  }
#endif
}

// kStageW: the weights staged in shared memory (a template argument, so that the A loads compile to shared-memory
// loads instead of generic ones). kSplit: the cluster split (with kStageW; the cluster is gridDim.x's cs blocks of
// one tile).
template <typename T, bool kStageW, bool kSplit>
__device__ __forceinline__ void WmmaBody(const T* __restrict__ x, const T* __restrict__ w_in,
                                         const T* __restrict__ w_core, const T* __restrict__ w_out,
                                         const T* __restrict__ bias, const T* __restrict__ z, T* __restrict__ y,
                                         Problem p, int th, int tw, int ih_n, int iw_n) {
  static_assert(kStageW || !kSplit, "the cluster split stages its weight slices");
  static_assert(kStageW || std::is_same_v<T, __half>, "the fp32 form's TF32 loads read staged weights");
  using Acc = typename WmmaOps<T>::Acc;
  constexpr int kPad = kWmmaPadBytes / static_cast<int>(sizeof(T));
  // Warps split a stage's reductions where its tiles are fewer than the warps: the cluster split's slices, and the
  // fp32 blocks' stages of at least kWmmaSplitSteps 16-row steps (an fp32 step is six dependent products; session 21,
  // calls 2-3: splitting every such stage made 64:64->32:128 layers 10-15% faster and 32:32->32:64 ones 5-10% slower,
  // whose stages 1 and 3 are 2-4 steps: a barrier and the partial sums cost more than they save).
  const auto warp_split = [&](int ksteps) {
    return kSplit || (std::is_same_v<T, float> && ksteps >= kWmmaSplitSteps);
  };
  TUCKER_DYNAMIC_SMEM(smem);
  char* base = reinterpret_cast<char*>(smem);
  const int kk = p.kh * p.kw, K2 = p.R1 * kk;
  const int win = ih_n * iw_n, tpix = th * tw;
  int cs = 1, me = 0;
  if constexpr (kSplit) WmmaClusterShape(&cs, &me);
  const WmmaLayout L = MakeWmmaLayout(p.C, p.R1, p.R2, p.N, kk, win, tpix, kStageW, cs, sizeof(T));
  const int winp = L.winp, tpixp = L.tpixp, xld = L.xld, cld = L.cld;
  T* xs = reinterpret_cast<T*>(base + L.xs);
  T* t1 = reinterpret_cast<T*>(base + L.t1);
  T* col = reinterpret_cast<T*>(base + L.col);
  T* t2 = reinterpret_cast<T*>(base + L.t2);
  const int t = threadIdx.x, nthr = blockDim.x, warp = t / 32, lane = t % 32;
  float* scratch0 = reinterpret_cast<float*>(base + L.scratch);
  float* scratch = scratch0 + warp * 256;
  const int tile = kSplit ? blockIdx.x / cs : blockIdx.x;
  const int tiles_w = (p.Wo + tw - 1) / tw;
  const int oh0 = (tile / tiles_w) * th, ow0 = (tile % tiles_w) * tw;
  const int ih0 = oh0 * p.sh - p.pt, iw0 = ow0 * p.sw - p.pl;
  const size_t hw = static_cast<size_t>(p.H) * p.W;
  const T* xn = x + static_cast<size_t>(blockIdx.y) * p.C * hw;
  T zero;
  st(&zero, 0.f);
  // This block's output rows of each stage (all of them without the split).
  int r1_lo = 0, r1_hi = p.R1, r2_lo = 0, r2_hi = p.R2, n_lo = 0, n_hi = p.N;
  if constexpr (kSplit) {
    WmmaSlice(p.R1, cs, me, &r1_lo, &r1_hi);
    WmmaSlice(p.R2, cs, me, &r2_lo, &r2_hi);
    WmmaSlice(p.N, cs, me, &n_lo, &n_hi);
  }

  // The weights into shared memory (stage_w), rows padded: 16-byte cp.async groups, in flight while X's window
  // loads below. lda_*: the A operands' row strides; *_row0: the first row the A operand holds.
  const T* a_in = w_in;
  const T* a_core = w_core;
  const T* a_out = w_out;
  int lda_in = p.C, lda_core = K2, lda_out = p.R2;
  int in_row0 = 0, core_row0 = 0, out_row0 = 0;
  if constexpr (kStageW) {
    T* s_in = reinterpret_cast<T*>(base + L.w_in);
    T* s_core = reinterpret_cast<T*>(base + L.w_core);
    T* s_out = reinterpret_cast<T*>(base + L.w_out);
    lda_in += kPad, lda_core += kPad, lda_out += kPad;
    const bool aligned = Aligned16(w_in) && Aligned16(w_core) && Aligned16(w_out);
    // Group g = r x groups + c8 of a matrix advances by nthr groups as (dr, dc8) with a carry, not a division per
    // group (session 15's ncu count: the set-up before the first barrier was ~550 instructions per warp, most of them
    // the integer divisions of these loops).
    constexpr int V = 16 / sizeof(T);  // elements per 16-byte group
    const auto copy = [&](T* dst, const T* src, int rows, int cols) {  // cols: a multiple of 16
      const int groups = cols / V, dr = nthr / groups, dc = nthr - dr * groups;
      int r = t / groups, c8 = t - r * groups;
      for (; r < rows; r += dr, c8 += dc) {
        if (c8 >= groups) c8 -= groups, ++r;
        if (r >= rows) break;
        const int c = c8 * V;
        if (aligned) {
          CpAsync16(dst + r * (cols + kPad) + c, src + r * cols + c, true);
        } else {  // (ORT's buffers are aligned; a view into another tensor might not be)
          for (int j = 0; j < V; ++j) dst[r * (cols + kPad) + c + j] = src[r * cols + c + j];
        }
      }
    };
    copy(s_in, w_in + static_cast<size_t>(r1_lo) * p.C, r1_hi - r1_lo, p.C);
    copy(s_core, w_core + static_cast<size_t>(r2_lo) * K2, r2_hi - r2_lo, K2);
    copy(s_out, w_out + static_cast<size_t>(n_lo) * p.R2, n_hi - n_lo, p.R2);
    CpAsyncCommit();
    a_in = s_in, a_core = s_core, a_out = s_out;
    in_row0 = r1_lo, core_row0 = r2_lo, out_row0 = n_lo;
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

  // X's window, C x winp (rows xld apart), zero outside the image and in the padding columns. Thread t keeps one
  // window position q (its image offset read once) and walks channels t / winp, + cl, ... (cl = nthr / winp lanes; a
  // window wider than the block walks positions too): per element a pointer step, a load and a store, kXBatch loads
  // in flight before their stores. (Session 15's ncu count: the loop before, which stepped (channel, position) per
  // element, took ~535 instructions per warp at 32:32->32:32@7, a third of the kernel's, on the critical path after
  // the PDL wait.)
  constexpr int kXBatch = 16;
  {
    const bool wide = winp > nthr;
    const int cl = wide ? 1 : nthr / winp;
    if (wide || t < cl * winp) {
      const int c0 = wide ? 0 : t / winp;
      const size_t step = static_cast<size_t>(cl) * hw;
      for (int q = wide ? t : t - c0 * winp; q < winp; q += wide ? nthr : winp) {
        const int off = wpix[q];
        const T* src = xn + static_cast<size_t>(c0) * hw + (off >= 0 ? off : 0);
        T* dst = xs + c0 * xld + q;
        for (int c = c0; c < p.C; c += kXBatch * cl) {
          T v[kXBatch];
#pragma unroll
          for (int u = 0; u < kXBatch; ++u) v[u] = off >= 0 && c + u * cl < p.C ? src[u * step] : zero;
#pragma unroll
          for (int u = 0; u < kXBatch; ++u)
            if (c + u * cl < p.C) dst[u * cl * xld] = v[u];
          src += kXBatch * step;
          dst += kXBatch * cl * xld;
        }
      }
    }
  }
  float* bias_s = reinterpret_cast<float*>(base + L.bias);  // read by the epilogue (after later barriers)
#pragma unroll
  for (int u = 0; u < kBiasPer; ++u)
    if (t + u * nthr < p.N) bias_s[t + u * nthr] = bias_r[u];
  for (int n = t + kBiasPer * nthr; n < p.N; n += nthr) bias_s[n] = ld(bias + n);
  CpAsyncWait<0>();
  __syncthreads();

  // Stage 1: 16x16 tiles of this block's t1 rows.
  const int wt1 = winp / 16;
  WarpTiles<Acc>(
      ((r1_hi - r1_lo) / 16) * wt1, p.C / 16, warp_split(p.C / 16), scratch0, warp, lane,
      [&](Acc& acc, int tt, int first, int stride) {
        const int m0 = r1_lo + (tt / wt1) * 16, c0 = (tt % wt1) * 16;
        MmaTile(acc, a_in + static_cast<size_t>(m0 - in_row0) * lda_in, lda_in, xs + c0, xld, p.C, first, stride, p.tf32);
      },
      [&](int tt, const float* s) {
        ScratchToRows(s, t1 + (r1_lo + (tt / wt1) * 16) * winp + (tt % wt1) * 16, winp, lane);
      });
  __syncthreads();
  if constexpr (kSplit) {  // the other ranks' t1 rows
    WmmaClusterArrive();
    WmmaClusterWait();
    GatherSlices(t1, p.R1, winp, cs, me, t, nthr);
    __syncthreads();
  }

  // Stage 2: the warp's t2 tiles stay in registers while im2col(t1) is built L.kc r1 rows at a time.
  const int wt2 = tpixp / 16;
  const int n2 = ((r2_hi - r2_lo) / 16) * wt2;
  // With the split and fewer tiles than warps, ks2 warps share a tile, each taking every ks2-th 16-row step.
  const int ks2 = warp_split(K2 / 16) && n2 > 0 && n2 < kWmmaWarps ? min(kWmmaWarps / n2, K2 / 16) : 1;
  const int part2 = n2 > 0 ? warp / n2 : 0;  // (a rank's slice may be empty when cs exceeds a stage's row groups)
  Acc acc2[kWmmaMaxAcc];
#pragma unroll
  for (int u = 0; u < kWmmaMaxAcc; ++u) wmma::fill_fragment(acc2[u], 0.f);
  // im2col rows (r1 x kk + tap) of tpixp pixels, 8 pixels per store: thread t owns the 8-pixel segment t % nseg
  // (its 8 t1 window origins kept in registers) in rows t / nseg, t / nseg + row_step, ... (row_step rows on is
  // (d_r1, d_tap) further, with a carry). Session 13's ncu count: one element per step was 40% of the instructions.
  const int rows = L.kc * kk;  // (L.kc divides R1)
  const int nseg = tpixp / 8, row_step = nthr / nseg, d_r1 = row_step / kk, d_tap = row_step - d_r1 * kk;
  const int seg = t % nseg, row_t = t / nseg, r1_t = row_t / kk, tap_t = row_t - r1_t * kk;
  int po[8];
#pragma unroll
  for (int j = 0; j < 8; ++j) po[j] = pix_t1[seg * 8 + j];
  for (int r10 = 0; r10 < p.R1; r10 += L.kc) {
    int tap = tap_t, r1 = r10 + r1_t;
    for (int kr = row_t; kr < rows && t < row_step * nseg; kr += row_step) {
      const T* src = t1 + r1 * winp + tap_t1[tap];
      __align__(16) T v[8];
#pragma unroll
      for (int j = 0; j < 8; ++j) v[j] = po[j] >= 0 ? src[po[j]] : zero;
      Store8Raw(col + kr * cld + seg * 8, v);
      tap += d_tap, r1 += d_r1;
      if (tap >= kk) tap -= kk, ++r1;
    }
    __syncthreads();
    if (ks2 == 1) {
#pragma unroll
      for (int u = 0; u < kWmmaMaxAcc; ++u) {
        const int tt = warp + u * kWmmaWarps;
        if (tt >= n2) break;
        const int m0 = r2_lo + (tt / wt2) * 16, c0 = (tt % wt2) * 16;
        MmaTile(acc2[u], a_core + static_cast<size_t>(m0 - core_row0) * lda_core + r10 * kk, lda_core, col + c0, cld,
                rows, 0, 1, p.tf32);
      }
    } else if (part2 < ks2) {
      const int tt = warp % n2, m0 = r2_lo + (tt / wt2) * 16, c0 = (tt % wt2) * 16;
      const int step0 = (r10 / 16) * kk;  // the chunk's first 16-row step: the parts' shares rotate over chunks
      MmaTile(acc2[0], a_core + static_cast<size_t>(m0 - core_row0) * lda_core + r10 * kk, lda_core, col + c0, cld,
              rows, (part2 - step0 % ks2 + ks2) % ks2, ks2, p.tf32);
    }
    if (r10 + L.kc < p.R1) __syncthreads();  // col is rebuilt next (after the last chunk, only t2 is written)
  }
  if (ks2 == 1) {
#pragma unroll
    for (int u = 0; u < kWmmaMaxAcc; ++u) {
      const int tt = warp + u * kWmmaWarps;
      if (tt >= n2) break;
      const int m0 = r2_lo + (tt / wt2) * 16, c0 = (tt % wt2) * 16;
      StoreRows(acc2[u], scratch, t2 + m0 * cld + c0, cld, lane);
    }
  } else {  // the ks2 partial tiles meet in the warps' scratch
    if (part2 < ks2) wmma::store_matrix_sync(scratch, acc2[0], 16, wmma::mem_row_major);
    __syncthreads();
    if (part2 == 0) {
      SumPartialTiles(scratch0, warp, n2, ks2, lane);
      ScratchToRows(scratch, t2 + (r2_lo + (warp / wt2) * 16) * cld + (warp % wt2) * 16, cld, lane);
    }
  }
  __syncthreads();
  if constexpr (kSplit) {  // the other ranks' t2 rows; then this block reads no other's shared memory
    WmmaClusterArrive();
    WmmaClusterWait();
    GatherSlices(t2, p.R2, cld, cs, me, t, nthr);
    __syncthreads();
    WmmaClusterArrive();
  }

  // Stage 3: Y = W_out . t2 + B (+ Z), Relu, tile by tile through the scratch.
  const size_t ohw = static_cast<size_t>(p.Ho) * p.Wo;
  WarpTiles<Acc>(
      ((n_hi - n_lo) / 16) * wt2, p.R2 / 16, warp_split(p.R2 / 16), scratch0, warp, lane,
      [&](Acc& acc, int tt, int first, int stride) {
        const int m0 = n_lo + (tt / wt2) * 16, c0 = (tt % wt2) * 16;
        MmaTile(acc, a_out + static_cast<size_t>(m0 - out_row0) * lda_out, lda_out, t2 + c0, cld, p.R2, first, stride, p.tf32);
      },
      [&](int tt, const float* s) {
        // Lane owns pixel c0 + lane % 16 of rows m0 + lane / 16 + 2u (u < 8); the residual's 8 loads go out together.
        const int m0 = n_lo + (tt / wt2) * 16, c0 = (tt % wt2) * 16;
        const int q = c0 + lane % 16, oq = pix_y[q], n0 = m0 + lane / 16;
        if (oq < 0) return;
        const size_t o0 = (static_cast<size_t>(blockIdx.y) * p.N + n0) * ohw + oq;
        float zv[8];
#pragma unroll
        for (int u = 0; u < 8; ++u) zv[u] = z != nullptr ? ld(z + o0 + 2 * u * ohw) : 0.f;
#pragma unroll
        for (int u = 0; u < 8; ++u) {
          float v = s[lane + 32 * u] + bias_s[n0 + 2 * u] + zv[u];
          if (p.relu) v = fmaxf(v, 0.f);
          st(y + o0 + 2 * u * ohw, v);
        }
      });
  // No block may leave while another still reads its shared memory (GatherSlices): the arrive after the t2 gather,
  // waited for only now, so that stage 3 overlaps the other blocks' gathers.
  if constexpr (kSplit) WmmaClusterWait();
}

// The kernels: fp16 models, and fp32 (3xTF32, staged weights; compiled from sm_80 on, an empty body elsewhere, where
// Launchable never picks it) held to 128 registers, two blocks of 256 threads per SM as the fp16 kernel gets (144-155
// registers unbounded, no spills at 128). Two kernels, not one template, because the fp16 one's bounds have no
// block minimum: ptxas gave it 128 registers that way and 137-152 with a minimum of 1.
template <bool kStageW, bool kSplit = false>
__global__ void __launch_bounds__(256) WmmaKernel(const __half* __restrict__ x, const __half* __restrict__ w_in,
                                                  const __half* __restrict__ w_core, const __half* __restrict__ w_out,
                                                  const __half* __restrict__ bias, const __half* __restrict__ z,
                                                  __half* __restrict__ y, Problem p, int th, int tw, int ih_n,
                                                  int iw_n) {
#if (defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 700) || defined(TUCKER_EMU)
  WmmaBody<__half, kStageW, kSplit>(x, w_in, w_core, w_out, bias, z, y, p, th, tw, ih_n, iw_n);
#endif
}
template <bool kSplit = false>
__global__ void __launch_bounds__(256, 2) WmmaKernelTf32(const float* __restrict__ x, const float* __restrict__ w_in,
                                                         const float* __restrict__ w_core,
                                                         const float* __restrict__ w_out,
                                                         const float* __restrict__ bias, const float* __restrict__ z,
                                                         float* __restrict__ y, Problem p, int th, int tw, int ih_n,
                                                         int iw_n) {
#if TUCKER_WMMA_TF32
  WmmaBody<float, true, kSplit>(x, w_in, w_core, w_out, bias, z, y, p, th, tw, ih_n, iw_n);
#endif
}

}  // namespace
}  // namespace tucker_cuda
