// Device code of the staged kernel's channels-last tensor-core family (variant 6; nsplit 4 for fp16 models, nsplit 5
// for fp32 models; ranks that are multiples of 8): the three stages as three launches of one WMMA implicit-GEMM
// kernel, with t1 and t2 kept in the model's type and channels-last ([image x pixel][channel]) in scratch. Its own
// header, so that the CPU emulator (custom_ops/emu) compiles exactly this code.
//
// fp32 (nsplit 5, session 20) runs the same kernel on the tensor cores as 3xTF32: each operand fragment x is split
// into big = tf32(x) and small = tf32(x - big) (SplitTf32), and the products small x big + big x small + big x big
// are summed in fp32 (small x small, ~2^-21 of the product, is dropped): fp32 accuracy, not TF32's, so the comparison with cuDNN
// stays against its plain fp32 (TF32 off). Why: the fp32 FFMA kernels ran 0.83x cuDNN's fp32 triplet at batch 32
// (session 14) and FFMA peak is ~1/7 of TF32's. A step reduces 16 fp32 rows (64 bytes, as fp16's 32), so the
// ring, its copies and every thread's share of them are the same as fp16's.
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
#include <cooperative_groups.h>
#include <cuda_fp16.h>
#include <mma.h>

#include <cstdint>
#include <type_traits>

#include "tucker_conv_device.cuh"
#include "tucker_conv_staged_layout.h"
#include "tucker_conv_tf32.cuh"
#include "tucker_conv_wgmma.cuh"

namespace tucker_cuda {
namespace {

// One 16-byte group: 8 fp16 or 4 fp32 values.
template <typename T>
struct alignas(16) Vec16 {
  T h[16 / sizeof(T)];
};
using Half8 = Vec16<__half>;

// Eight consecutive values (16- or 32-byte aligned) to and from fp32.
__device__ __forceinline__ void Load8(const __half* p, float (&v)[8]) {
  const uint4 u = __ldg(reinterpret_cast<const uint4*>(p));
  Half8 h;
  memcpy(&h, &u, sizeof(h));
#pragma unroll
  for (int e = 0; e < 8; ++e) v[e] = __half2float(h.h[e]);
}
__device__ __forceinline__ void Load8(const float* p, float (&v)[8]) {
  const float4 lo = __ldg(reinterpret_cast<const float4*>(p)), hi = __ldg(reinterpret_cast<const float4*>(p) + 1);
  v[0] = lo.x, v[1] = lo.y, v[2] = lo.z, v[3] = lo.w, v[4] = hi.x, v[5] = hi.y, v[6] = hi.z, v[7] = hi.w;
}
// One 16-byte store, forced by inline PTX: written as a Half8 (or a uint4), the compiler split most of stage 3's
// into 2- and 4-byte stores, and their partial sectors were 48% of that stage's L2 traffic (session 24, Nsight
// Compute).
__device__ __forceinline__ void Store8(__half* p, const float (&v)[8]) {
  Half8 h;
#pragma unroll
  for (int e = 0; e < 8; ++e) h.h[e] = __float2half_rn(v[e]);
  uint4 u;
  memcpy(&u, &h, sizeof(u));
#if defined(__CUDA_ARCH__)
  asm volatile("st.global.v4.b32 [%0], {%1, %2, %3, %4};" ::"l"(p), "r"(u.x), "r"(u.y), "r"(u.z), "r"(u.w) : "memory");
#else
  *reinterpret_cast<uint4*>(p) = u;
#endif
}
// Eight fp32 values from a 16-byte aligned shared-memory tile, as two 16-byte loads.
__device__ __forceinline__ void Load8Shared(const float* p, float (&v)[8]) {
  const float4 lo = reinterpret_cast<const float4*>(p)[0], hi = reinterpret_cast<const float4*>(p)[1];
  v[0] = lo.x, v[1] = lo.y, v[2] = lo.z, v[3] = lo.w, v[4] = hi.x, v[5] = hi.y, v[6] = hi.z, v[7] = hi.w;
}
__device__ __forceinline__ void Store8(float* p, const float (&v)[8]) {
#if defined(__CUDA_ARCH__)  // two 16-byte stores, forced as fp16's (the compiler split some of stage 3's)
  asm volatile("st.global.v4.f32 [%0], {%1, %2, %3, %4};" ::"l"(p), "f"(v[0]), "f"(v[1]), "f"(v[2]), "f"(v[3]) : "memory");
  asm volatile("st.global.v4.f32 [%0], {%1, %2, %3, %4};" ::"l"(p + 4), "f"(v[4]), "f"(v[5]), "f"(v[6]), "f"(v[7]) : "memory");
#else
  reinterpret_cast<float4*>(p)[0] = float4{v[0], v[1], v[2], v[3]};
  reinterpret_cast<float4*>(p)[1] = float4{v[4], v[5], v[6], v[7]};
#endif
}
// The core weights [R2][R1][kh][kw] reordered to [R2][kh x kw][R1], the reduction's tap-major order, so that the core
// stage loads its A tile as 16-byte rows (scalar loads at a stride of kh x kw, converted and stored one by one, were
// half of that stage's staging instructions). Extra blocks of stage 1's launch do it (blockIdx.x >= tiles, first
// grid row); stage 2 follows on the stream, so it costs no launch of its own. Where the core stage pre-splits
// (StagedNhwcSplitsCore), the same blocks write the packed weights' 3xTF32 high part at dst and low part at dst + lo.
template <typename T>
struct NhwcPack {
  const T* src = nullptr;
  T* dst = nullptr;
  int cout = 0, cin = 0, kk = 0;
  long long lo = 0;  // element offset of the low parts from dst (0: no split)
  int tiles = 0x7fffffff;  // the launch's own column tiles (no packing: every block is a tile)
};
template <typename T>
TUCKER_HD int NhwcPackBlocks(const NhwcPack<T>& k) {
  return static_cast<int>((static_cast<long long>(k.cout) * k.kk * (k.cin / (16 / sizeof(T))) + kStagedMmaThreads - 1) /
                          kStagedMmaThreads);
}
// Stores 8 fp32 values, or (lo != 0, fp32's pre-split form) their 3xTF32 high parts at p and low parts at p + lo.
template <typename T>
__device__ __forceinline__ void StoreSplit8(T* p, long long lo, float (&v)[8]) {
  if (lo != 0) {
    float l[8];
#pragma unroll
    for (int e = 0; e < 8; ++e) l[e] = Tf32Split(v[e]);
    Store8(p + lo, l);
  }
  Store8(p, v);
}

// One stage: out = epilogue(W[M][K] x B[K][cols]) over cols = batch x Ho x Wo (image, output pixel) columns.
// W is row-major [M][K] in T (the 1x1 weights as given, the core's packed tap-major). IN_NHWC: the input is
// channels-last scratch and the reduction runs tap-major (k = tap x cin + c; cin a multiple of 8, so each 8
// consecutive k are 8 channels of one tap); otherwise it is the model's channels-first input through a 1x1 stride-1
// conv (stage 1; k = c). OUT_NHWC: fp16 channels-last scratch without epilogue (cout a multiple of 8); otherwise the
// model's channels-first output with bias, residual and Relu (stage 3). Operands go global -> shared by cp.async
// through a ring of kStagedNhwcStages steps (synchronous 16-byte stores where a source is not 16-byte groups).
// a.ksplit > 1 (channels-last output only; a cluster of that many blocks along x per column tile, launched by
// RunStagedNhwc): block x = tile x ksplit + slice, each slice walks its share of the reduction's steps, and the
// slices sum their partial tiles through distributed shared memory, each writing an interleaved share of the
// output. Why (session 12, CUPTI at batch 1): the core stage of 384:192->96:384@28 ran 39 blocks of 54 steps,
// 19 us of the layer's 32, latency-bound with most SMs idle.
// T: __half (WMMA 16x16x16) or float (3xTF32, WMMA 16x16x8). "Groups" below are 16 bytes: V = 8 fp16 or 4 fp32.
// The fp32 tiles below 128 x 128 are held to two blocks per SM (128 registers): the per-step partial sums took
// BM 64 x BN 128 from 120 to 130 registers, one block per SM.
// WG (BM 64 or 128; every stage at fp16 and fp32): in the sm_90a build the products run as Hopper warpgroup MMAs
// (tucker_conv_wgmma.cuh) straight from the ring, which then holds A and B unpadded in the 64-byte swizzle: each of
// the two warpgroups takes 64 rows x BN (BM 128) or 64 rows x BN / 2 (BM 64) of the tile; fp32 runs TF32 in the TF32
// mode and 3xTF32 otherwise (kSplit), stage 1 at fp32 as the transposed product with B from registers (kT1); and
// the core stage at BM 32 with the operands' roles swapped (kSw: pixels on wgmma's M). Elsewhere WG changes nothing. Why: cuDNN's sm90 wgmma core ran 1.7-4.7x faster than this kernel's WMMA core stage
// at batch 32 (session 22, call 6).
// Blocks per SM the registers must allow: fp32 tiles below 128 x 128 two (above); the fp16 wgmma tiles up to
// 64 x 128 three (80 registers; stage 1 took 86, two blocks per SM, 23% occupancy: session 24, Nsight Compute).
constexpr int StagedNhwcMinBlocks(int elem_bytes, int bm, int bn, bool wg) {
  return elem_bytes == 4 ? (bm * bn < 128 * 128 ? 2 : 1) : (wg && bm * bn <= 64 * 128 ? 3 : 1);
}
// PRE: fp32's pre-split core (StagedNhwcPresplit; the launcher passes its operands' low parts).
template <typename T, int BM, int BN, bool IN_NHWC, bool OUT_NHWC, bool WG = false, bool PRE = false>
__global__ void __launch_bounds__(kStagedMmaThreads, StagedNhwcMinBlocks(sizeof(T), BM, BN, WG)) StagedNhwcKernel(const T* __restrict__ in,
                                                                     const T* __restrict__ w,
                                                                     const T* __restrict__ bias,
                                                                     const T* __restrict__ z,
                                                                     T* __restrict__ out, StagedConv a,
                                                                     NhwcPack<T> pack) {
#if (defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800) || defined(TUCKER_EMU)
  namespace wmma = nvcuda::wmma;
  constexpr bool kHalf = std::is_same_v<T, __half>;
  constexpr int NT = kStagedMmaThreads;
  // wgmma: stages 2 and 3 (B K-major); stage 1 (B N-major from the channels-first input) as fp16's transposed B,
  // and at fp32 (TF32 wgmma has no transposed B) with the operands' roles swapped (kT1, below)
  // kSw: the core stage at BM 32 (R2 <= 32) with the operands' roles swapped, t2^T = B^T x A^T: the ring's B tile
  // (pixels x K, K-major) is wgmma's A (64 pixels per warpgroup) and its A tile (the weights, K-major) wgmma's B (N 32,
  // or 16 per warpgroup at BN 64), so no row of the products is padding. The accumulators come out pixel-major, t2's
  // own layout. Why (session 30): at BM 32 the core ran the WMMA kernel (58% of 64:32->32:64@56 at fp32 batch 32,
  // session 28), and widened to the WG kernel at BM 64 half its products and splits were padding (fp32 0-8% slower).
  constexpr bool kWg = WG && TUCKER_WGMMA && (BM >= 64 || (BM == 32 && IN_NHWC && OUT_NHWC)) && NT == 256;
  constexpr bool kSw = kWg && BM == 32;
  // fp32 stage 1 under wgmma: the raw B tile stays row-major [BK][BN + 8] in the ring, and the products run
  // transposed, t1^T = B^T x A^T: each thread loads its fragment of B^T (columns as rows) from the raw tile into
  // registers and splits it there (WgmmaRA), and A (the weights, K-major) is the products' B operand. Why: the
  // split used to write B's high and low parts transposed into shared memory, 16 scalar stores per thread and step,
  // and stage 1 ran 74 us of 320:160->96:320@28's ~320 at batch 32 (session 25).
  constexpr bool kT1 = kWg && !kHalf && !IN_NHWC;
  constexpr bool kTr = kT1 || kSw;  // the accumulators hold the output transposed (pixels as rows)
  // The ring: S slots, loads issued PD steps ahead. wgmma keeps one step's products in flight across the next
  // step's barrier, so the slot refilled at step s is step s - 2's (S = PD + 2), not step s - 1's.
  constexpr int S = StagedNhwcStagesFor(kWg), PD = kWg ? S - 2 : S - 1;
  constexpr int V = 16 / sizeof(T), BK = StagedNhwcBKFor(sizeof(T)), AKP = BK + V;
  constexpr int KF = kHalf ? 16 : 8;  // KF: one WMMA's reduction depth
  constexpr int WARPS_M = BM == 128 ? 4 : 2, WARPS_N = NT / 32 / WARPS_M, WM = BM / WARPS_M, WN = BN / WARPS_N;
  constexpr int FM = WM / 16, FN = WN / 16;
  static_assert(BK % 16 == 0 && FM >= 1 && FN >= 1 && WM % 16 == 0 && WN % 16 == 0, "whole fragments");
  // B in shared memory: column-major [BN][BK + V] when read channels-last (a column's BK values of k are contiguous,
  // as its 16-byte loads bring them), row-major [BK][BN + V] from the channels-first input (V columns per load).
  // wgmma: A and B unpadded in the 64-byte swizzle (WgmmaSw64; each slot 512-byte aligned).
  constexpr int B_LD = IN_NHWC ? AKP : BN + V;
  constexpr int B_BUF = kT1 ? BK * StagedNhwcRawBLd(BN) : kWg ? BN * BK : IN_NHWC ? BN * AKP : BK * (BN + V);
  constexpr int A_BUF = kWg ? BM * BK : BM * AKP, STAGE = A_BUF + B_BUF;  // one ring slot: A [BM][BK + V], then B
  // fp32's pre-split core stage (PRE; StagedNhwcPresplit: a WG kernel's core, wgmma or not, given its operands' low
  // parts, a.in_lo and a.w_lo): a slot holds the step's high parts (A, B) and then their low parts, both copied from
  // global memory; nothing is split here. A template argument, not a run-time switch: as one (session 27, call 3)
  // the core at 14x14 kept only a third of its gain.
  static_assert(!PRE || StagedNhwcPresplit(WG, sizeof(T), IN_NHWC, OUT_NHWC), "pre-split: fp32 WG core only");
  constexpr bool pre = PRE;
  constexpr int SLOT = PRE ? 2 * STAGE : STAGE;  // a ring slot's elements
  constexpr int KG = BK / V, CG = BN / V, A_VECS = BM * KG, A_PER = (A_VECS + NT - 1) / NT;  // A's 16-byte groups
  constexpr int B_VECS = BK * BN / V, B_PER = B_VECS / NT;  // 16-byte groups of one step's B tile, per thread
  static_assert(B_PER >= 1 && B_PER * NT == B_VECS && (A_VECS < NT || A_PER * NT == A_VECS) && NT % KG == 0,
                "whole groups per thread and step");
  using BLayout = std::conditional_t<IN_NHWC, wmma::col_major, wmma::row_major>;
  constexpr int NW = BM == 128 ? BN : BN / 2;  // a warpgroup's columns under wgmma
  // Where 16-byte group g (of KG per step) of tile row r lies in a ring slot's A or B tile.
  static_assert(!kWg || KG == 4, "wgmma's 64-byte swizzle: 64-byte rows per step");
  auto at = [](int r, int g) { return kWg ? WgmmaSw64(r, g, V) : r * AKP + V * g; };
  // The descriptor of K slice q (32 bytes) of a K-major tile's rows r0..r0 + 63 (A) or r0.. (B) at `tile`.
  auto kdesc = [](const T* tile, int r0, int q) { return WgmmaDesc(tile + WgmmaSw64(r0, 0, V) + 2 * q * V, 16, 512, 2); };
  // A descriptor moved `elems` further on in shared memory: its address field (bits 0-13, address >> 4) plus
  // elems x sizeof(T) / 16; shared addresses stay below 2^18 bytes, so the field does not overflow.
  auto dmove = [](uint64_t d, int elems) { return d + static_cast<uint64_t>(elems * static_cast<int>(sizeof(T)) / 16); };
  // Stage 1's B under wgmma: group n8 (8 columns) of reduction row k in the N-major 64-byte swizzle (WgmmaSw64Mn),
  // one tile per warpgroup column half (NW columns each).
  auto at_mn = [](int k, int n8) { return n8 / (NW / 8) * (BK * NW) + WgmmaSw64Mn(k, n8 % (NW / 8), NW, V); };
  const int t = threadIdx.x, warp = t / 32;
  PdlWait();  // PDL; no early trigger here (why: tucker_conv_device.cuh)

  if (static_cast<int>(blockIdx.x) >= pack.tiles) {  // a packing block of stage 1's launch (NhwcPack)
    const int cg = pack.cin / V, per_m = pack.kk * cg;
    const long long g = static_cast<long long>(blockIdx.x - pack.tiles) * NT + t;
    if (blockIdx.y == 0 && g < static_cast<long long>(pack.cout) * per_m) {
      const int m = static_cast<int>(g / per_m), r = static_cast<int>(g - static_cast<long long>(m) * per_m);
      const int tap = r / cg, c0 = V * (r - tap * cg);
      Vec16<T> v, l;
#pragma unroll
      for (int e = 0; e < V; ++e) v.h[e] = __ldg(pack.src + (static_cast<size_t>(m) * pack.cin + c0 + e) * pack.kk + tap);
      T* dst = pack.dst + (static_cast<size_t>(m) * pack.kk + tap) * pack.cin + c0;
      if constexpr (!kHalf) {
        if (pack.lo != 0) {
#pragma unroll
          for (int e = 0; e < V; ++e) l.h[e] = Tf32Split(v.h[e]);
          *reinterpret_cast<Vec16<T>*>(dst + pack.lo) = l;
        }
      }
      *reinterpret_cast<Vec16<T>*>(dst) = v;
    }
    return;
  }

  TUCKER_DYNAMIC_SMEM(smem);
  T* ring = reinterpret_cast<T*>(smem);  // [S][SLOT]
  const int wm0 = (warp / WARPS_N) * WM, wn0 = (warp % WARPS_N) * WN;
  const int K = a.cin * a.kh * a.kw, hw = a.H * a.W, ohw = a.Ho * a.Wo, cols = a.batch * ohw;
  const int ks = a.ksplit, slice = static_cast<int>(blockIdx.x) % ks;
  const int m0 = blockIdx.y * BM, j0 = static_cast<int>(blockIdx.x) / ks * BN;
  // This slice's steps [s_first, s_first + steps) of the reduction's total.
  const int all_steps = (K + BK - 1) / BK, s_first = slice * all_steps / ks;
  const int steps = (slice + 1) * all_steps / ks - s_first;

  // A: this thread's groups u (t + u x NT < A_VECS): rows am + u x NT / KG of the tile, reduction rows V x ag ..
  // V x ag + V - 1 of each step.
  const int am = t / KG, ag = t % KG;
  const bool a_vec = K % V == 0 && Aligned16(w);  // else (stage 1 with C not a multiple of V) single loads
  // B: this thread's 16-byte groups u of the step's tile (group v = t + u x NT).
  // Channels-last: group v is column v / KG and reduction rows V x (v % KG) .. + V - 1 of the step (one tap, V
  // channels); per group, the element offset of the column's window origin in the input (negative where the window
  // starts above or left of the map; int: StagedNhwcFits bounds t1 and t2) and which tap rows and columns of the
  // window lie inside the map, as bit masks (none for a column past the end). Why: per step, a load's bounds
  // checks and 64-bit address math were most of the core stage's instructions, and that stage ran issue-bound
  // (62% of issue slots busy, warps eligible but not selected; session 24, Nsight Compute).
  // Channels-first: group v is reduction row v / CG and the V columns from V x (v % CG), the same columns for all
  // of this thread's groups (per-column offsets where they are not one vector). kT1: a warp's copy (v / 32) covers
  // 4 rows x 128 contiguous bytes (NhwcT1Row/Group; 16 rows x 32 bytes took 16 L1 wavefronts per copy,
  // 22% of stage 1's shared wavefronts excess: session 25, Nsight Compute); the columns differ per group u.
  auto b_row = [](int v) { return kT1 ? NhwcT1Row(v) : v / CG; };
  auto b_cg = [](int v) { return kT1 ? NhwcT1Group(v) : v % CG; };
  constexpr int OFFS = kT1 ? B_PER : 1;
  int org[B_PER];
  unsigned rmask[B_PER], cmask[B_PER];
  bool vec = false;
  int off[OFFS][V];
  if constexpr (IN_NHWC) {
#pragma unroll
    for (int u = 0; u < B_PER; ++u) {
      const int jb = j0 + (t + u * NT) / KG;
      const bool col_ok = jb < cols;
      const int n = col_ok ? jb / ohw : 0, pix = col_ok ? jb - n * ohw : 0, oh = pix / a.Wo, ow = pix - oh * a.Wo;
      const int ih0 = oh * a.sh - a.pt, iw0 = ow * a.sw - a.pl;
      org[u] = ((n * a.H + ih0) * a.W + iw0) * a.cin;
      rmask[u] = cmask[u] = 0;
      for (int i = 0; i < a.kh; ++i) rmask[u] |= (col_ok && ih0 + i * a.dh >= 0 && ih0 + i * a.dh < a.H ? 1u : 0u) << i;
      for (int j = 0; j < a.kw; ++j) cmask[u] |= (iw0 + j * a.dw >= 0 && iw0 + j * a.dw < a.W ? 1u : 0u) << j;
    }
  } else {
    vec = hw % V == 0 && Aligned16(in);  // V columns = V pixels of one image
#pragma unroll
    for (int u = 0; u < OFFS; ++u) {
      const int jb = j0 + b_cg(t + u * NT) * V;
      int n = jb / hw, pix = jb - n * hw;  // one division; the next columns step through the image boundary
#pragma unroll
      for (int e = 0; e < V; ++e) {
        off[u][e] = jb + e < cols ? n * a.cin * hw + pix : -1;  // < 2^31: StagedNhwcFits checks the input's size
        if (++pix == hw) pix = 0, ++n;
      }
    }
  }

  // Where the next step's B loads start in the reduction, kept as (tap row bi, tap column bj, channel bc) and advanced
  // by BK per step without divisions (index divisions by runtime sizes dominated the issue slots of the first
  // version, Nsight): k = step + V x (t % KG).
  // toff: the element offset of (bi, bj, bc) from a window origin, advanced with them.
  int bc = 0, bi = 0, bj = 0, toff = 0;
  const int col_step = a.dw * a.cin, row_step = a.dh * a.W * a.cin - (a.kw - 1) * col_step;
  if constexpr (IN_NHWC) {
    const int k = s_first * BK + V * (t % KG), tap = k / a.cin;
    bc = k - tap * a.cin;
    bi = tap / a.kw;
    bj = tap - bi * a.kw;
    toff = (bi * a.dh * a.W + bj * a.dw) * a.cin + bc;
  }
  int k0 = s_first * BK;  // the next step's first reduction row (stage 1: its first channel)
  // Starts the next step's copies into ring slot `slot`; the slot's last reader finished before the barrier above.
  auto issue = [&](int slot) {
    T* As = ring + slot * SLOT;
    T* Bs = As + A_BUF;
#pragma unroll
    for (int u = 0; u < A_PER; ++u) {
      if (A_VECS < NT && t >= A_VECS) break;
      const int row = am + u * (NT / KG), arow = m0 + row, k = k0 + V * ag;
      const T* a_src = w + static_cast<size_t>(arow < a.cout ? arow : 0) * K;
      T* dst = As + at(row, ag);
      const bool ok = arow < a.cout && k < K;
      if (a_vec) {
        CpAsync16(dst, ok ? a_src + k : w, ok);
        if (pre) CpAsync16(dst + STAGE, ok ? a_src + k + a.w_lo : w, ok);
      } else {
        Vec16<T> v;
#pragma unroll
        for (int e = 0; e < V; ++e) v.h[e] = arow < a.cout && k + e < K ? __ldg(a_src + k + e) : T{};
        *reinterpret_cast<Vec16<T>*>(dst) = v;
        if (pre) {
#pragma unroll
          for (int e = 0; e < V; ++e) v.h[e] = arow < a.cout && k + e < K ? __ldg(a_src + k + e + a.w_lo) : T{};
          *reinterpret_cast<Vec16<T>*>(dst + STAGE) = v;
        }
      }
    }
    if constexpr (IN_NHWC) {
#pragma unroll
      for (int u = 0; u < B_PER; ++u) {  // bi == kh (past the reduction's end) is outside every row mask
        const int v = t + u * NT;
        const bool ok = (rmask[u] >> bi) & (cmask[u] >> bj) & 1u;
        CpAsync16(Bs + at(v / KG, v % KG), ok ? in + (org[u] + toff) : in, ok);
        if (pre) CpAsync16(Bs + STAGE + at(v / KG, v % KG), ok ? in + (org[u] + toff) + a.in_lo : in, ok);
      }
      for (bc += BK, toff += BK; bc >= a.cin && bi < a.kh;) {
        bc -= a.cin;
        toff -= a.cin;
        if (++bj == a.kw) {
          bj = 0, ++bi;
          toff += row_step;
        } else {
          toff += col_step;
        }
      }
    } else {
#pragma unroll
      for (int u = 0; u < B_PER; ++u) {
        const int v = t + u * NT, row = b_row(v), cg = b_cg(v), c = k0 + row;
        const int* of = off[kT1 ? u : 0];
        T* dst = Bs + (kT1 ? row * StagedNhwcRawBLd(BN) + cg * V : kWg ? at_mn(row, cg) : row * (BN + V) + cg * V);
        if (vec) {  // cols is a multiple of V here: a group is wholly inside or outside
          const bool ok = c < a.cin && of[0] >= 0;
          CpAsync16(dst, ok ? in + of[0] + static_cast<size_t>(c) * hw : in, ok);
        } else {
          Vec16<T> r;
#pragma unroll
          for (int e = 0; e < V; ++e) r.h[e] = c < a.cin && of[e] >= 0 ? in[of[e] + static_cast<size_t>(c) * hw] : T{};
          *reinterpret_cast<Vec16<T>*>(dst) = r;
        }
      }
    }
    k0 += BK;
  };

  // wgmma: warpgroup wg's rows WG_M0.., columns WG_N0..; warp w % 4 of it holds 16 of the rows (WgmmaRow/Col).
  const int WG_M0 = BM == 128 ? 64 * (warp / 4) : 0, WG_N0 = BM == 128 ? 0 : (warp / 4) * NW;
  // kT1 (the transposed products, t1^T = B^T x A^T, M = columns in chunks of 64): warpgroup wg's chunks from column
  // T1_P0 and its T1N channels from T1_M0. The same NW / 2 accumulators per thread: BM 128 takes BN / 64 chunks of
  // its 64 rows; BM 64 x BN 128 one chunk per warpgroup of all 64 rows; BM 64 x BN 64 all 64 columns and half the rows.
  // kSw reuses these names: warpgroup wg's 64 pixels from T1_P0 (64 wg at BN 128, 0 at BN 64) and its T1N channels
  // (all 32 at BN 128; 16 from 16 wg at BN 64) from T1_M0; T1N is then also the products' N (WN_).
  constexpr int T1N = kSw ? (BN == 128 ? 32 : 16) : BM == 64 && BN == 64 ? 32 : 64, T1H = kT1 ? NW / T1N : 1;
  const int T1_M0 = kSw ? (BN == 128 ? 0 : 16 * (warp / 4))
                        : BM == 128 ? WG_M0 : (T1N == 32 ? 32 * (warp / 4) : 0);
  const int T1_P0 = kSw ? (BN == 128 ? 64 * (warp / 4) : 0) : BM == 64 && BN == 128 ? WG_N0 : 0;
  constexpr int WN_ = kSw ? T1N : NW, WACC = kWg ? WN_ / 2 : 1;  // the products' N; accumulators per thread
  float wacc[WACC];
#pragma unroll
  for (int e = 0; e < WACC; ++e) wacc[e] = 0.f;
  // fp32 outside the TF32 mode (kSplit && !a.tf32): 3xTF32 on wgmma. Each thread splits the 16-byte groups it copied
  // into the step's slot, x -> hi = tf32(x) in place and lo = tf32(x - hi) into one of two lo slots (alternating by
  // step: step s + 1's are written while step s's products read theirs), then per 8-row K slice three products,
  // lo x hi + hi x lo + hi x hi, into wpart (fresh each step), added to wacc in fp32 once the step's group is done (as
  // the WMMA form's per-step partial sums: the tensor cores' own accumulation over a long reduction lost accuracy).
  constexpr bool kSplit = kWg && !kHalf;
  float wpart[kSplit ? WACC : 1];
  // The split slots after the ring (StagedNhwcSmemBytes(..., wg) makes room): [2][LO_STAGE], each A's low part at 0
  // and B's at A_BUF (kT1: A's only; B's parts stay in registers).
  constexpr int LO_STAGE = StagedNhwcSplitSlot(BM, BN, BK, kT1);
  T* lo_ring = ring + S * SLOT;  // (not with PRE)
  wmma::fragment<wmma::accumulator, 16, 16, KF, float> acc[FM][FN];
  // 3xTF32 only: one step's products, added to acc by FADD once per step. The tensor cores' own accumulation does not
  // round to nearest: chained through acc over a 1728-row reduction its errors reached 2.4e-5 of the largest output
  // (session 20, call 2), 20x FFMA's; per step they stay within the step's small partial sums.
  wmma::fragment<wmma::accumulator, 16, 16, KF, float> part[kHalf ? 1 : FM][kHalf ? 1 : FN];
#pragma unroll
  for (int i = 0; i < FM; ++i)
#pragma unroll
    for (int j = 0; j < FN; ++j) wmma::fill_fragment(acc[i][j], 0.f);

  // wgmma: the descriptors of slot 0's tiles, moved to step s's slot in the loop (dmove) instead of rebuilt.
  uint64_t dA0 = 0, dB0 = 0, dAl0 = 0, dBl0 = 0;
  if constexpr (kSw) {  // (A: the pixels' tile; B: the weights')
    dA0 = kdesc(ring + A_BUF, T1_P0, 0);
    dB0 = kdesc(ring, T1_M0, 0);
    dAl0 = kdesc(lo_ring + A_BUF, T1_P0, 0);
    dBl0 = kdesc(lo_ring, T1_M0, 0);
  } else if constexpr (kWg) {
    dA0 = kdesc(ring, kT1 ? T1_M0 : WG_M0, 0);
    dB0 = IN_NHWC ? kdesc(ring + A_BUF, WG_N0, 0)
          : kT1   ? 0  // (B from registers)
                  : WgmmaDesc(ring + A_BUF + at_mn(0, WG_N0 / 8), 512, (NW / 32) * 512, 2);
    dAl0 = kdesc(lo_ring, kT1 ? T1_M0 : WG_M0, 0);
    dBl0 = kdesc(lo_ring + A_BUF, WG_N0, 0);
  }

#pragma unroll
  for (int s = 0; s < PD; ++s) {
    if (s < steps) issue(s);
    CpAsyncCommit();  // one group per step, empty ones included, so the wait below counts steps
  }
  // 3xTF32: splits the 16-byte groups this thread copied into step s's slot (hi in place, lo into split slot s % 2).
  // kT1: only A's (the weights'), and none in the TF32 mode; B is split in registers (t1_frags below).
  auto split_step = [&](int s) {
    T* hi = ring + (s % S) * SLOT;
    T* lo = lo_ring + (s % 2) * LO_STAGE;
    auto split = [&](int off) {
      float4 x = *reinterpret_cast<const float4*>(hi + off), l;
      float* xv = &x.x;
      float* lv = &l.x;
#pragma unroll
      for (int e = 0; e < 4; ++e) lv[e] = Tf32Split(xv[e]);
      *reinterpret_cast<float4*>(hi + off) = x;
      *reinterpret_cast<float4*>(lo + off) = l;
    };
    if (!kT1 || !a.tf32) {
#pragma unroll
      for (int u = 0; u < A_PER; ++u) {
        if (A_VECS < NT && t >= A_VECS) break;
        split(at(am + u * (NT / KG), ag));
      }
    }
    if constexpr (!kT1) {
#pragma unroll
      for (int u = 0; u < B_PER; ++u) split(A_BUF + at((t + u * NT) / KG, (t + u * NT) % KG));
    }
  };
  // kT1: this thread's B^T fragments of step slot `so`, per 64-column chunk h and K slice q: register i holds
  // B[8q + WgmmaRegACol][T1_P0 + 64h + 16 (warp % 4) + WgmmaRegARow], split into hi and lo (lo left out in the TF32
  // mode). The raw tile's row stride (BN + 8 floats) puts a warp's 32 loads in 32 banks.
  auto t1_frags = [&](int so, uint32_t (&fh)[T1H][2][4], uint32_t (&fl)[T1H][2][4]) {
    const float* raw = reinterpret_cast<const float*>(ring + so + A_BUF);
    const int lane = t % 32, c0 = T1_P0 + 16 * (warp % 4);
#pragma unroll
    for (int h = 0; h < T1H; ++h)
#pragma unroll
      for (int q = 0; q < 2; ++q)
#pragma unroll
        for (int i = 0; i < 4; ++i) {
          const float x =
              raw[(8 * q + WgmmaRegACol(lane, i)) * StagedNhwcRawBLd(BN) + c0 + 64 * h + WgmmaRegARow(lane, i)];
          const float big = Tf32Trunc(x);
          fh[h][q][i] = __float_as_uint(big);
          fl[h][q][i] = a.tf32 ? 0u : __float_as_uint(Tf32Trunc(x - big));
        }
  };
  for (int s = 0; s < steps; ++s) {
    CpAsyncWait<PD - 1>();  // this thread's copies of step s have landed ...
    if constexpr (kSplit) {
      // (later steps are split while the step before runs its products)
      if (!pre && (kT1 || !a.tf32) && s == 0) split_step(0);
    }
    if constexpr (kWg) FenceProxyAsyncShared();  // ... visible to wgmma's reads ...
    __syncthreads();       // ... and everyone's; and every warp is done with step s - 1's slot
    if (s + PD < steps) issue((s + PD) % S);
    CpAsyncCommit();
    const int so = (s % S) * SLOT;  // step s's slot, in elements from slot 0
    const T* As = ring + so;
    const T* Bs = As + A_BUF;
    if constexpr (kSplit) {
      if (kT1 || !a.tf32) {  // (kT1 in the TF32 mode: the high parts' product only)
        const int lo = (s % 2) * LO_STAGE;
        if constexpr (kT1) {  // t1^T chunk h (+)= B^T x A^T: B^T from registers, A (hi, lo) the K-major B operand
          uint32_t fh[T1H][2][4], fl[T1H][2][4];
          t1_frags(so, fh, fl);
          float (&wp)[T1H][T1N / 2] = *reinterpret_cast<float (*)[T1H][T1N / 2]>(wpart);
          if (a.tf32) {  // (one branch around each whole sequence, each fenced: otherwise ptxas fences the
            WgmmaFence();  // products itself, C7519)
#pragma unroll
            for (int h = 0; h < T1H; ++h)
#pragma unroll
              for (int q = 0; q < 2; ++q) WgmmaRA<T1N>::Run(wp[h], fh[h][q], dmove(dA0, so + 2 * q * V), q);
            WgmmaCommit();
          } else {
            WgmmaFence();
#pragma unroll
            for (int h = 0; h < T1H; ++h)
#pragma unroll
              for (int q = 0; q < 2; ++q) {
                const uint64_t da = dmove(dA0, so + 2 * q * V);
                WgmmaRA<T1N>::Run(wp[h], fl[h][q], da, q);
                WgmmaRA<T1N>::Run(wp[h], fh[h][q], dmove(dAl0, lo + 2 * q * V), 1);
                WgmmaRA<T1N>::Run(wp[h], fh[h][q], da, 1);
              }
            WgmmaCommit();
          }
        } else {
          // the low parts: the slot's second half (pre-split), else split slot s % 2; one sequence per case, each
          // fenced and committed whole (a select inside one made ptxas fence each product itself, C7519)
          auto products = [&](uint64_t al0, uint64_t bl0, int lo_off) {
            WgmmaFence();
#pragma unroll
            for (int q = 0; q < 2; ++q) {  // K slice q: 32 bytes on
              const uint64_t da = dmove(dA0, so + 2 * q * V), db = dmove(dB0, so + 2 * q * V);
              Wgmma<T, WN_>::Run(wpart, dmove(al0, lo_off + 2 * q * V), db, q);
              Wgmma<T, WN_>::Run(wpart, da, dmove(bl0, lo_off + 2 * q * V), 1);
              Wgmma<T, WN_>::Run(wpart, da, db, 1);
            }
            WgmmaCommit();
          };
          if constexpr (PRE) products(dA0, dB0, so + STAGE);
          else products(dAl0, dBl0, lo);
        }
        // While the products run: step s + 1's split, once this thread's copies of it have landed (the groups
        // committed so far are PD + s + 1). It writes lo slot (s + 1) % 2, which step s - 1's products read: every
        // warpgroup waited for those before the barrier above. Why: the split waited behind each step's products
        // (session 23: 3xTF32 gained 12% on the fp32 core stage against fp16's 2x).
        if (!pre && s + 1 < steps) {
          CpAsyncWait<PD - 1>();
          split_step(s + 1);
        }
        WgmmaWait<0>();
        WgmmaFenceOperands(wpart);
#pragma unroll
        for (int e = 0; e < (kSplit ? WACC : 1); ++e) wacc[e] += wpart[e];
        continue;
      }
    }
    if constexpr (kWg) {  // the step's 64 bytes of K as two 32-byte wgmma slices; done before the next barrier
      WgmmaFence();
#pragma unroll
      for (int q = 0; q < 2; ++q) {
        const uint64_t da = dmove(dA0, so + 2 * q * V);
        if constexpr (IN_NHWC) {
          Wgmma<T, WN_>::Run(wacc, da, dmove(dB0, so + 2 * q * V), 1);
        } else {  // rows 16q.. of this warpgroup's column half: 8-row groups 2q, 2q + 1
          WgmmaBT<NW>::Run(wacc, da, dmove(dB0, so + at_mn(16 * q, WG_N0 / 8) - at_mn(0, WG_N0 / 8)), 1);
        }
      }
      WgmmaCommit();
      WgmmaWait<1>();  // step s - 1's products are done (their slot is refilled at step s + 1); step s's run on
      WgmmaFenceOperands(wacc);
    } else {
#pragma unroll
      for (int kq = 0; kq < BK; kq += KF) {
        const T* b_at = Bs + (IN_NHWC ? wn0 * AKP + kq : kq * (BN + V) + wn0);
        const int b_frag = IN_NHWC ? 16 * AKP : 16;  // one fragment's columns further on
        if constexpr (kHalf) {
          wmma::fragment<wmma::matrix_a, 16, 16, 16, __half, wmma::row_major> fa[FM];
          wmma::fragment<wmma::matrix_b, 16, 16, 16, __half, BLayout> fb[FN];
#pragma unroll
          for (int i = 0; i < FM; ++i) wmma::load_matrix_sync(fa[i], As + (wm0 + i * 16) * AKP + kq, AKP);
#pragma unroll
          for (int j = 0; j < FN; ++j) wmma::load_matrix_sync(fb[j], b_at + j * b_frag, B_LD);
#pragma unroll
          for (int i = 0; i < FM; ++i)
#pragma unroll
            for (int j = 0; j < FN; ++j) wmma::mma_sync(acc[i][j], fa[i], fb[j], acc[i][j]);
        } else if (a.tf32) {  // TF32 mode: the operands rounded to TF32, one product accumulated in place (cuDNN's TF32)
          wmma::fragment<wmma::matrix_a, 16, 16, 8, wmma::precision::tf32, wmma::row_major> fa[FM];
          wmma::fragment<wmma::matrix_b, 16, 16, 8, wmma::precision::tf32, BLayout> fb[FN];
#pragma unroll
          for (int i = 0; i < FM; ++i) {
            LoadTf32Shared(fa[i], As + (wm0 + i * 16) * AKP + kq, AKP);
            RoundTf32(fa[i]);
          }
#pragma unroll
          for (int j = 0; j < FN; ++j) {
            LoadTf32Shared(fb[j], b_at + j * b_frag, B_LD);
            RoundTf32(fb[j]);
          }
#pragma unroll
          for (int i = 0; i < FM; ++i)
#pragma unroll
            for (int j = 0; j < FN; ++j) wmma::mma_sync(acc[i][j], fa[i], fb[j], acc[i][j]);
        } else {  // 3xTF32: big and small parts of every fragment, the small x small product dropped
          if (kq == 0) {
#pragma unroll
            for (int i = 0; i < FM; ++i)
#pragma unroll
              for (int j = 0; j < FN; ++j) wmma::fill_fragment(part[i][j], 0.f);
          }
          wmma::fragment<wmma::matrix_a, 16, 16, 8, wmma::precision::tf32, wmma::row_major> fa[FM], fa_lo[FM];
          wmma::fragment<wmma::matrix_b, 16, 16, 8, wmma::precision::tf32, BLayout> fb[FN], fb_lo[FN];
#pragma unroll
          for (int i = 0; i < FM; ++i) {
            LoadTf32Shared(fa[i], As + (wm0 + i * 16) * AKP + kq, AKP);
            // (PRE: a WG kernel's WMMA body, which runs off Hopper and in the emulator)
            if (pre) LoadTf32Shared(fa_lo[i], As + STAGE + (wm0 + i * 16) * AKP + kq, AKP);
            else SplitTf32(fa[i], fa_lo[i]);
          }
#pragma unroll
          for (int j = 0; j < FN; ++j) {
            LoadTf32Shared(fb[j], b_at + j * b_frag, B_LD);
            if (pre) LoadTf32Shared(fb_lo[j], b_at + STAGE + j * b_frag, B_LD);
            else SplitTf32(fb[j], fb_lo[j]);
          }
#pragma unroll
          for (int i = 0; i < FM; ++i)
#pragma unroll
            for (int j = 0; j < FN; ++j) {
              wmma::mma_sync(part[i][j], fa_lo[i], fb[j], part[i][j]);
              wmma::mma_sync(part[i][j], fa[i], fb_lo[j], part[i][j]);
              wmma::mma_sync(part[i][j], fa[i], fb[j], part[i][j]);
            }
          if (kq + KF == BK) {  // the step's partial sums into the running ones, rounded to nearest
#pragma unroll
            for (int i = 0; i < FM; ++i)
#pragma unroll
              for (int j = 0; j < FN; ++j)
#pragma unroll
                for (int e = 0; e < acc[i][j].num_elements; ++e) acc[i][j].x[e] += part[i][j].x[e];
          }
        }
      }
    }
  }
  CpAsyncWait<0>();
  if constexpr (kWg) {
    WgmmaWait<0>();
    WgmmaFenceOperands(wacc);
  }
  __syncthreads();  // the epilogue's tile reuses the ring

  float* tile = reinterpret_cast<float*>(smem);
  // The epilogue walks this warp's EFM x EFN 16x16 fragments from (ewm0, ewn0) of the tile; store_frag(i, j, p, ld,
  // col_major) writes fragment (i, j) to p (element [r][c] at p[r x ld + c], or p[c x ld + r] column-major).
  constexpr int EFM = kWg ? 1 : FM, EFN = kWg ? NW / 16 : FN;
  const int ewm0 = kWg ? WG_M0 + 16 * (warp % 4) : wm0, ewn0 = kWg ? WG_N0 : wn0;
  auto store_frag = [&](int i, int j, float* p, int ld, bool col_major) {
    if constexpr (kWg) {
      const int lane = t % 32;
#pragma unroll
      for (int e = 8 * j; e < 8 * j + 8; ++e) {
        const int r = WgmmaRow(lane, e), c = WgmmaCol(lane, e) - 16 * j;
        p[col_major ? c * ld + r : r * ld + c] = wacc[e];
      }
    } else {
      wmma::store_matrix_sync(p, acc[i][j], ld, col_major ? wmma::mem_col_major : wmma::mem_row_major);
    }
  };
  // kTr (kT1, kSw): the accumulators hold the output transposed, chunk h's 64 columns from T1_P0 as rows (WgmmaRow)
  // and the warpgroup's T1N channels from T1_M0 as columns (WgmmaCol); this writes them to p[col x ld + channel -
  // m_off].
  auto store_t1 = [&](float* p, int ld, int m_off) {
    if constexpr (kTr) {
      const int lane = t % 32, c0 = T1_P0 + 16 * (warp % 4);
#pragma unroll
      for (int h = 0; h < T1H; ++h)
#pragma unroll
        for (int e = 0; e < T1N / 2; ++e)
          p[(c0 + 64 * h + WgmmaRow(lane, e)) * ld + T1_M0 - m_off + WgmmaCol(lane, e)] = wacc[T1N / 2 * h + e];
    }
  };
  if constexpr (OUT_NHWC) {
#if (defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900) || defined(TUCKER_EMU)
    if (ks > 1) {
      // The slice's whole partial tile[col][m] (StagedNhwcSmemBytes makes room); once every slice's is there, slice q
      // sums groups of 8 channels g = q x NT + t, + NT x ks, ... over the cluster and writes them (16-byte stores).
      constexpr int SLD = BM + 4, MG = BM / 8;
      if constexpr (kTr) {
        store_t1(tile, SLD, 0);
      } else {
#pragma unroll
        for (int i = 0; i < EFM; ++i)
#pragma unroll
          for (int j = 0; j < EFN; ++j) store_frag(i, j, tile + (ewn0 + j * 16) * SLD + ewm0 + i * 16, SLD, true);
      }
      cooperative_groups::cluster_group cluster = cooperative_groups::this_cluster();
      cluster.sync();
      for (int g = slice * NT + t; g < BN * MG; g += NT * ks) {
        const int c = g / MG, m8 = 8 * (g % MG), col = j0 + c, m = m0 + m8;
        if (col >= cols || m >= a.cout) continue;
        float sum[8] = {};
        for (int q = 0; q < ks; ++q) {
          const float4* src = reinterpret_cast<const float4*>(cluster.map_shared_rank(tile, q) + c * SLD + m8);
          const float4 lo = src[0], hi = src[1];
          sum[0] += lo.x, sum[1] += lo.y, sum[2] += lo.z, sum[3] += lo.w;
          sum[4] += hi.x, sum[5] += hi.y, sum[6] += hi.z, sum[7] += hi.w;
        }
        StoreSplit8(out + static_cast<size_t>(col) * a.cout + m, a.out_lo, sum);
      }
      cluster.sync();  // no slice's tile is read after this (a block may exit)
      return;
    }
#endif
    // Channels-last scratch: through a block-wide fp32 tile[col][m] (up to 64 channels a pass), a thread writes 8
    // channels of a column, so that a warp's stores are whole 64- or 128-byte rows of t1/t2. Fragment by fragment
    // (16 columns x 32 bytes per warp store), stage 1 of 64:64->32:64@56 and 384:192->96:384@28 at batch 32 took
    // 19.5 and 36 us, against 14.1 and 31 us this way (session 11, calls 2 and 4).
    constexpr int EP = BM < 64 ? BM : 64, PASSES = BM / EP, TLD = EP + 4;
    static_assert(WM <= EP && EP % WM == 0 && EP % 16 == 0, "a warp's rows lie in one pass");
#pragma unroll
    for (int pass = 0; pass < PASSES; ++pass) {
      if ((kTr ? T1_M0 : ewm0) / EP == pass) {
        if constexpr (kTr) {
          store_t1(tile, TLD, pass * EP);
        } else {
#pragma unroll
          for (int i = 0; i < EFM; ++i)
#pragma unroll
            for (int j = 0; j < EFN; ++j)
              store_frag(i, j, tile + (ewn0 + j * 16) * TLD + ewm0 - pass * EP + i * 16, TLD, true);
        }
      }
      __syncthreads();
      for (int g = t; g < BN * (EP / 8); g += NT) {
        const int c = g / (EP / 8), m8 = 8 * (g % (EP / 8)), col = j0 + c, m = m0 + pass * EP + m8;
        if (col < cols && m < a.cout) {
          float v[8];
          Load8Shared(tile + c * TLD + m8, v);  // 16-byte aligned: TLD and m8 are multiples of 4
          StoreSplit8(out + static_cast<size_t>(col) * a.cout + m, a.out_lo, v);
        }
      }
      if (pass + 1 < PASSES) __syncthreads();  // the next pass's fragments overwrite the tile
    }
  } else {
    // The model's channels-first output, fragment by fragment through the warp's own fp32 16x16 tile (a block-wide
    // tile was slower here: stage 3 of 384:192->96:384@28 at batch 32 ran 33 -> 47 us, session 11 call 4). Where the
    // output map is a multiple of 8 pixels (8 columns are 8 pixels of one image), a lane owns row lane / 2 and 8
    // columns from 8 x (lane % 2): one 16-byte store and residual load; otherwise a lane owns column lane % 16 (its
    // image and pixel worked out once) and rows lane / 16 + 2q.
    float* wt = tile + warp * 256;
    const int lane = t % 32, cc = lane % 16, half_id = lane / 16;
    const bool out_vec = ohw % 8 == 0 && Aligned16(out) && (z == nullptr || Aligned16(z));
    // Vector path: a lane's output row (and its bias) is the same in every fragment of a fragment row i, and its
    // column moves 16 on per fragment, so its image and pixel are divided out once per i and then stepped (ohw >= 8).
    // (Per fragment, the bias load and the division were on each fragment's critical path: session 24.)
    const int vr = lane / 2, vc8 = 8 * (lane % 2);
#pragma unroll
    for (int i = 0; i < EFM; ++i) {
      const int vm = m0 + ewm0 + i * 16 + vr;
      const float vb = out_vec && bias != nullptr && vm < a.cout ? ld(bias + vm) : 0.f;
      const int vcol0 = j0 + ewn0 + vc8;
      int vn = 0, vpix = 0;
      if (out_vec) vn = vcol0 / ohw, vpix = vcol0 - vn * ohw;
#pragma unroll
      for (int j = 0; j < EFN; ++j) {
        const int mb = m0 + ewm0 + i * 16, cb = j0 + ewn0 + j * 16;
        store_frag(i, j, wt, 16, false);  // wt[m][col]
        __syncwarp();
        if (out_vec) {
          if (cb + vc8 < cols && vm < a.cout) {
            const size_t o = (static_cast<size_t>(vn) * a.cout + vm) * ohw + vpix;
            float zr[8] = {}, res[8], acc8[8];
            if (z != nullptr) Load8(z + o, zr);
            Load8Shared(wt + vr * 16 + vc8, acc8);
#pragma unroll
            for (int e = 0; e < 8; ++e) {
              float v = acc8[e] + vb + zr[e];
              if (a.relu) v = fmaxf(v, 0.f);
              res[e] = v;
            }
            Store8(out + o, res);
          }
        } else {
          const int col = cb + cc;
          if (col < cols) {
            const int n = col / ohw, pix = col - n * ohw;
            const size_t o0 = static_cast<size_t>(n) * a.cout * ohw + pix;
#pragma unroll
            for (int q = 0; q < 8; ++q) {
              const int r = half_id + 2 * q, m = mb + r;
              if (m >= a.cout) continue;
              const size_t o = o0 + static_cast<size_t>(m) * ohw;
              float v = wt[r * 16 + cc];
              if (bias != nullptr) v += ld(bias + m);
              if (z != nullptr) v += ld(z + o);
              if (a.relu) v = fmaxf(v, 0.f);
              st(out + o, v);
            }
          }
        }
        if (out_vec)
          for (vpix += 16; vpix >= ohw; vpix -= ohw) ++vn;  // the next fragment's column
        __syncwarp();
      }
    }
  }
#endif
}

}  // namespace

// Runs the three stages of config c (nsplit 4 with T = __half, nsplit 5 with T = float): go(kernel, grid, cluster
// size along x, threads, smem_bytes, kernel arguments...) launches one (the CUDA launcher on ORT's stream, or the
// emulator). In `scratch` (StagedScratchWords floats, laid out by StagedNhwcLayout): t1 [batch x H x W][R1] and t2
// [batch x Ho x Wo][R2] in T, the packed core weights (NhwcPack) and, where the core pre-splits
// (StagedNhwcSplitsCore), the low parts of t1 and of the packed weights. sm_count: the device's SMs (the stages' K
// splits, StagedNhwcStageSplit). wgmma: stages at BM 64 or 128 take the kernel's WG form, which runs wgmma in the
// sm_90a build.
template <typename T, class Go>
void RunStagedNhwc(const T* x, const T* w_in, const T* w_core, const T* w_out, const T* bias, const T* z, T* y,
                   const Problem& p, const Config& c, float* scratch, int sm_count, Go go, bool wgmma = false) {
  const StagedNhwcScratch L = StagedNhwcLayout(p, c, wgmma);
  T* t1 = reinterpret_cast<T*>(scratch + L.t1);
  T* t2 = reinterpret_cast<T*>(scratch + L.t2);
  T* packed = reinterpret_cast<T*>(scratch + L.packed);
  // element offsets of the core's low parts (fp32 only: one float per element; 0 where it does not pre-split)
  const long long t1_lo = L.t1_lo != 0 ? static_cast<long long>(L.t1_lo - L.t1) : 0;
  const long long pk_lo = L.packed_lo != 0 ? static_cast<long long>(L.packed_lo - L.packed) : 0;
  const bool wide32 = wgmma && StagedWgBm32(sizeof(T) == 2);  // BM 32 stages as the WG kernel at BM 64
  const bool swap32 = wgmma && StagedCoreSwap(sizeof(T) == 2) != 0;  // ... the core at BM 32, operands swapped
  auto stage = [&](auto in_nhwc, auto out_nhwc, const T* in, const T* w, const T* b, const T* zz, T* out,
                   const StagedConv& a, NhwcPack<T> pack) {
    constexpr bool IN = decltype(in_nhwc)::value, OUTN = decltype(out_nhwc)::value;
    constexpr bool kCore = IN && OUTN;
    const bool swap = kCore && swap32;
    const int bm0 = StagedBM(a.cout, c.th), bm = bm0 == 32 && wide32 && !swap ? 64 : bm0, bn = c.tw;
    auto launch = [&](auto kernel, int bm_, int bn_, bool wg_ = false, bool pre_ = false) {
      StagedConv s = a;  // the split follows StagedBM(a.cout, c.th) x c.tw (StagedNhwcSplitStage), widened or not
      s.ksplit = OUTN ? StagedNhwcSplitStage(a, c, sm_count).ksplit : 1;
      const int ks = s.ksplit, tiles = CeilDiv(a.batch * a.Ho * a.Wo, bn_) * ks;
      const int extra = pack.dst != nullptr ? CeilDiv(NhwcPackBlocks(pack), ks) * ks : 0;  // whole clusters
      if (pack.dst != nullptr) pack.tiles = tiles;
      const dim3 grid(static_cast<unsigned>(tiles + extra), static_cast<unsigned>(CeilDiv(a.cout, bm_)));
      go(kernel, grid, static_cast<unsigned>(ks), kStagedMmaThreads,
         StagedNhwcSmemBytes(bm_, bn_, IN, sizeof(T), wg_, pre_), in, w, b, zz, out, s, pack);
    };
    if (bm == 32) {
      if constexpr (kCore) {
        if (swap) {  // (kSw; pre-split where StagedNhwcSplitsCore set a.in_lo: fp32, StagedCoreSwap 2)
          if constexpr (std::is_same_v<T, float>) {
            if (a.in_lo != 0) {
              if (bn == 64) launch(StagedNhwcKernel<T, 32, 64, IN, OUTN, true, true>, 32, 64, true, true);
              else launch(StagedNhwcKernel<T, 32, 128, IN, OUTN, true, true>, 32, 128, true, true);
              return;
            }
          }
          if (bn == 64) launch(StagedNhwcKernel<T, 32, 64, IN, OUTN, true>, 32, 64, true);
          else launch(StagedNhwcKernel<T, 32, 128, IN, OUTN, true>, 32, 128, true);
          return;
        }
      }
      if (bn == 64) launch(StagedNhwcKernel<T, 32, 64, IN, OUTN>, 32, 64);
      else launch(StagedNhwcKernel<T, 32, 128, IN, OUTN>, 32, 128);
      return;
    }
    if constexpr (IN && OUTN && std::is_same_v<T, float>) {
      if (a.in_lo != 0) {  // the pre-split core (StagedNhwcSplitsCore: wgmma; BM 64, or 128 with BN 64)
        if (bm == 64 && bn == 64) launch(StagedNhwcKernel<T, 64, 64, IN, OUTN, true, true>, 64, 64, true, true);
        else if (bm == 64) launch(StagedNhwcKernel<T, 64, 128, IN, OUTN, true, true>, 64, 128, true, true);
        else launch(StagedNhwcKernel<T, 128, 64, IN, OUTN, true, true>, 128, 64, true, true);
        return;
      }
    }
    if (wgmma) {
      if (bm == 64) {
        if (bn == 64) launch(StagedNhwcKernel<T, 64, 64, IN, OUTN, true>, 64, 64, true);
        else launch(StagedNhwcKernel<T, 64, 128, IN, OUTN, true>, 64, 128, true);
      } else {
        if (bn == 64) launch(StagedNhwcKernel<T, 128, 64, IN, OUTN, true>, 128, 64, true);
        else launch(StagedNhwcKernel<T, 128, 128, IN, OUTN, true>, 128, 128, true);
      }
      return;
    }
    if (bm == 64) {
      if (bn == 64) launch(StagedNhwcKernel<T, 64, 64, IN, OUTN>, 64, 64);
      else launch(StagedNhwcKernel<T, 64, 128, IN, OUTN>, 64, 128);
    } else {
      if (bn == 64) launch(StagedNhwcKernel<T, 128, 64, IN, OUTN>, 128, 64);
      else launch(StagedNhwcKernel<T, 128, 128, IN, OUTN>, 128, 128);
    }
  };
  NhwcPack<T> pack;
  pack.src = w_core;
  pack.dst = packed;
  pack.cout = p.R2;
  pack.cin = p.R1;
  pack.kk = p.kh * p.kw;
  pack.lo = pk_lo;
  StagedConv s1 = StagedStage1(p), s2 = StagedStage2(p);
  s1.out_lo = s2.in_lo = t1_lo;
  s2.w_lo = pk_lo;
  stage(std::false_type{}, std::true_type{}, x, w_in, nullptr, nullptr, t1, s1, pack);
  stage(std::true_type{}, std::true_type{}, t1, packed, nullptr, nullptr, t2, s2, NhwcPack<T>{});
  stage(std::true_type{}, std::false_type{}, t2, w_out, bias, z, y, StagedStage3(p), NhwcPack<T>{});
}

}  // namespace tucker_cuda
