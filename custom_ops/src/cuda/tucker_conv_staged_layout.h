// Config checks, tile choice, scratch layout and per-stage arguments of the staged TuckerConv kernel (variant 6),
// shared by its launcher, the host-side model and the CPU emulator's driver (custom_ops/emu).
#pragma once
#include <cstddef>
#include <cstdlib>

#include "tucker_conv_impl.cuh"
#include "tucker_conv_tiled_layout.h"

namespace tucker_cuda {

constexpr int kStagedThreads = 256;  // Config::threads of every staged config (a label: the tile sets the block size)
constexpr int kStagedBK = 8;         // reduction rows per shared-memory step
constexpr int kStagedRegsPerSm = 65536;  // registers of an SM
constexpr int kStagedMmaThreads = 256;  // the tensor-core family's block (8 warps)
constexpr int kStagedMmaBK = 16;        // its reduction rows per step (one 16x16x16 WMMA deep)
constexpr int kStagedNhwcBK = 32;       // the channels-last form's (two WMMA deep: half the steps and barriers)
constexpr int kStagedNhwcStages = 3;    // its cp.async ring: steps in flight + 1 (45 KB at BM 64 x BN 128)
constexpr int kStagedMaxRegs = 168;      // per thread: the 8 x 8 tiles spill at 128 (ptxas, sm_90), not at 168
// Blocks per SM a kernel of `threads` threads is compiled for (__launch_bounds__), so it gets kStagedMaxRegs.
constexpr int StagedMinBlocks(int threads) { return kStagedRegsPerSm / (kStagedMaxRegs * threads); }

// One stage as a conv: out[batch][cout][Ho][Wo] = conv(in[batch][cin][H][W]) with a kh x kw kernel.
// ksplit: the reduction is cut into that many slices of whole kStagedBK steps (grid z), each writing its partial sums
// to its own output buffer (batch x cout x Ho x Wo apart); in_parts: the input is the sum of that many such buffers
// (stage 3 reading a split stage 2's partials). No atomics, no zeroing: every slice writes all of its buffer.
struct StagedConv {
  int batch, cin, H, W, cout, Ho, Wo, kh, kw, sh, sw, pt, pl, dh, dw;
  bool relu;
  int ksplit = 1, in_parts = 1;
  bool tf32 = false;  // Problem::tf32 (the channels-last fp32 form: one TF32 product per step)
  // The channels-last fp32 form's pre-split core (StagedNhwcSplitsCore): element offsets from `in`, `w` and `out` of
  // their 3xTF32 low parts (0: none). Stage 1 then writes t1 as its high part at out and low part at out + out_lo, and
  // the core reads both parts of t1 and of its packed weights.
  long long in_lo = 0, w_lo = 0, out_lo = 0;
};

// Config: th = the largest BM (output channels per block: 32, 64 or 128), tw = BN (columns, i.e. (image, pixel)
// pairs, per block: 64 or 128), threads kStagedThreads, nsplit the register-tile family: 1 = wide (8 x 8 per thread,
// 4 x 8 when BM is 32; 64-256 threads), 2 = small (2 x 4 to 8 x 4 per thread, 256 threads, BN 64 only: more blocks
// for maps of 14x14-28x28, where the wide tiles leave SMs idle), kchunk 32 x the core stage's K split (1, 2 or 4:
// more blocks again where a long core reduction meets few column tiles, e.g. 14x14 at batch 32). Family 3 is the
// tensor-core kernel (fp16 models only, 8 warps of 16x16x16 WMMA, any BM cap and BN). Family 4 is its
// channels-last form (tucker_conv_nhwc_kernel.cuh: fp16 t1/t2, 16-byte loads, a cp.async ring; any BM cap; ranks
// that are multiples of 8, StagedNhwcFits; BM 128 x BN 128 needs 60 KB of shared memory, opted into by
// PrepareStagedNhwc). Its kchunk is 32 x a K split of stages 1 and 2 over a thread-block cluster (1, 2, 4 or 8,
// StagedNhwcStageSplit; Hopper and later), the slices' partial tiles summed through distributed shared memory.
inline bool StagedConfigValid(const Config& c) {
  return c.variant == kStaged && (c.th == 32 || c.th == 64 || c.th == 128) && (c.tw == 64 || c.tw == 128) &&
         c.threads == kStagedThreads &&
         (c.nsplit >= 1 && c.nsplit <= 5 && (c.nsplit != 2 || c.tw == 64)) &&
         (c.kchunk == 32 || c.kchunk == 64 || c.kchunk == 128 || (c.nsplit >= 4 && c.kchunk == 256));
}
inline bool StagedTensorCores(const Config& c) { return c.nsplit >= 3; }
// Family 5 is the channels-last family for fp32 models: the same kernel with fp32 t1/t2 and 3xTF32 products (each
// fp32 operand split into a TF32 high part and a TF32 remainder, three tensor-core products summed in fp32: fp32
// accuracy, not TF32's).
inline bool StagedNhwc(const Config& c) { return c.nsplit == 4 || c.nsplit == 5; }
inline bool StagedFp16Only(const Config& c) { return c.nsplit == 3 || c.nsplit == 4; }
inline bool StagedFp32Only(const Config& c) { return c.nsplit == 5; }
// Bytes of one t1/t2 element (and of the model's tensors) in the channels-last family: fp16 (4) or fp32 (5).
inline int StagedNhwcElemBytes(const Config& c) { return c.nsplit == 5 ? 4 : 2; }
// The channels-last family reads and writes 8 channels per 16-byte access (ranks multiples of 8), indexes the
// model's input and t1/t2 with 32-bit offsets, and keeps a window's tap rows and columns as 32-bit masks.
inline bool StagedNhwcFits(const Problem& p) {
  const long long px = static_cast<long long>(p.batch) * p.H * p.W, po = static_cast<long long>(p.batch) * p.Ho * p.Wo;
  return p.R1 % 8 == 0 && p.R2 % 8 == 0 && p.kh < 32 && p.kw < 32 && px * p.C < (1LL << 31) &&
         px * p.R1 < (1LL << 31) && po * p.R2 < (1LL << 31);
}
inline int StagedKSplit(const Config& c) { return c.kchunk / 32; }

// A stage's BM: the smallest tile that covers its M output channels, at most the config's cap.
TUCKER_HD int StagedBM(int M, int cap) { return (M <= 32 || cap == 32) ? 32 : ((M <= 64 || cap == 64) ? 64 : 128); }

// Register tile (TM x TN) of each (BM, BN) and family, and the block's threads (BM / TM x BN / TN, at least BN).
// The kernel's template arguments come from these too (constexpr), so host and device cannot disagree.
TUCKER_HD constexpr int StagedTM(int bm, int fam) { return fam == 2 ? bm / 16 : (bm == 32 ? 4 : 8); }
TUCKER_HD constexpr int StagedTN(int fam) { return fam == 2 ? 4 : 8; }
TUCKER_HD constexpr int StagedBlockThreads(int bm, int bn, int fam) {
  return (bm / StagedTM(bm, fam)) * (bn / StagedTN(fam));
}

TUCKER_HD size_t StagedSmemBytes(int bm, int bn) {
  return sizeof(float) * 2 * kStagedBK * static_cast<size_t>(bm + 4 + bn);
}
// The tensor-core family: fp16 A [2][BM][BK + 8] and B [2][BK][BN + 8], then a 16x16 fp32 tile per warp.
TUCKER_HD size_t StagedMmaSmemBytes(int bm, int bn) {
  return 2 * 2 * static_cast<size_t>(bm * (kStagedMmaBK + 8) + kStagedMmaBK * (bn + 8)) +
         sizeof(float) * 256 * (kStagedMmaThreads / 32);
}

// Its reduction rows per step for elements of `elem_bytes` (2: fp16, 4: fp32): 32 fp16 or 16 fp32, 64 bytes of a
// row either way, so a step's copies and the ring's bytes are the same for both.
TUCKER_HD constexpr int StagedNhwcBKFor(int elem_bytes) { return elem_bytes == 2 ? kStagedNhwcBK : kStagedNhwcBK / 2; }
// The channels-last family (BK = StagedNhwcBKFor, V = 16 / elem_bytes elements per 16-byte group): a ring of
// kStagedNhwcStages slots, each A [BM][BK + V] and B [BN][BK + V] read channels-last (stages 2 and 3) or
// [BK][BN + V] from the channels-first input (stage 1); after the loop the same memory holds the epilogue's fp32
// tiles: the block's [BN][up to 64 channels + 4] for channels-last output, a 16x16 tile per warp for channels-first
// output, and a K slice's whole [BN][BM + 4] partial tile (within the ring's size for every tile that splits).
// The fp32 ring is never larger than the fp16 one (same A and channels-last B bytes, less channels-first B).
// wg: the kernel's wgmma form (WG, tucker_conv_wgmma.cuh): StagedNhwcStagesFor(true) slots of unpadded A and B, and
// at fp32 two more for 3xTF32's low parts (the host cannot tell whether the device code runs it, so the WG kernels
// always get this size).
// (Six slots, four steps in flight, ran 0-10% slower than four at fp16 batch 32: session 24, call 2.)
TUCKER_HD constexpr int StagedNhwcStagesFor(bool wg) { return wg ? 4 : kStagedNhwcStages; }
// fp32 stage 1 in the wgmma form (TF32 wgmma reads B only K-major; stage 1's tile of the channels-first input is
// N-major): the ring holds the raw B tile row-major [BK][BN + 8], and each thread loads its fragment of the transposed
// product's register operand from it (the row padding keeps those loads free of bank conflicts). Why: stage 1 ran
// fp32 on WMMA, 98 us of 320:160->96:320@28's ~350 at batch 32 (session 24, call 9 traces).
TUCKER_HD constexpr int StagedNhwcRawBLd(int bn) { return bn + 8; }
// One of fp32's two 3xTF32 split slots in the wgmma form, in elements: A's low part [BM][BK], then (except stage 1,
// `b_in_regs`, whose B is split in registers) B's low part [BN][BK], both K-major. The kernel lays them out by this too.
TUCKER_HD constexpr int StagedNhwcSplitSlot(int bm, int bn, int bk, bool b_in_regs) {
  return bm * bk + (b_in_regs ? 0 : bn * bk);
}
// fp32's core stage in the wgmma kernels (WG, whichever body the device code compiles to) can take its 3xTF32
// operands pre-split: high and low parts of t1 written by stage 1, of the packed weights by stage 1's packing
// blocks, both copied into the ring (each slot twice: high parts, then low parts). Why (session 27): splitting each
// copied group in shared memory every step (a load, the truncations, two stores per 16-byte group; t1's every value
// once per tap and row tile) took 22-29% of the core stage at batch 32 (CUPTI, call 1, the split compiled out). But
// t1's low part costs stage 1 a second write (+6-7 us at 320:160->96:320@28, +10 us at 128:64->64:128@56, whose core
// gained 5), and stage 3's K of 64-96 gained too little to pay for t2's (call 2). So: the core only, and only where
// its R2 spans two row tiles or more (StagedNhwcSplitsCore): cores 19-22% faster, layers 8-12% (call 4; the fp32
// batch-32 layer median 1.36x -> 1.41x).
TUCKER_HD constexpr bool StagedNhwcPresplit(bool wg, int elem_bytes, bool in_nhwc, bool out_nhwc) {
  return wg && elem_bytes == 4 && in_nhwc && out_nhwc;
}
// pre: the pre-split core's kernel (StagedNhwcPresplit).
TUCKER_HD size_t StagedNhwcSmemBytes(int bm, int bn, bool in_nhwc, int elem_bytes = 2, bool wg = false,
                                     bool pre = false) {
  const int bk = StagedNhwcBKFor(elem_bytes), v = wg ? 0 : 16 / elem_bytes;
  const bool transpose = wg && elem_bytes == 4 && !in_nhwc;  // fp32 stage 1 (kT1): raw B tile, B split in registers
  const int b = in_nhwc ? bn * (bk + v) : bk * (transpose ? StagedNhwcRawBLd(bn) : bn + v);
  // fp32's wgmma form also holds 3xTF32 low parts: twice the slot where pre-split, else two split slots (stage 1:
  // A's only)
  const int slots = StagedNhwcStagesFor(wg) * (pre ? 2 : 1);
  const size_t split =
      wg && elem_bytes == 4 && !pre ? 2 * static_cast<size_t>(StagedNhwcSplitSlot(bm, bn, bk, transpose)) : 0;
  const size_t ring = static_cast<size_t>(elem_bytes) * (slots * static_cast<size_t>(bm * (bk + v) + b) + split);
  const size_t block_tile = sizeof(float) * bn * ((bm < 64 ? bm : 64) + 4);
  const size_t warp_tiles = sizeof(float) * 256 * (kStagedMmaThreads / 32);
  const size_t split_tile = sizeof(float) * bn * static_cast<size_t>(bm + 4);  // a K slice's whole partial tile
  size_t epi = block_tile > warp_tiles ? block_tile : warp_tiles;
  if (!(bm == 128 && bn == 128) && split_tile > epi) epi = split_tile;
  return ring > epi ? ring : epi;
}

// The cluster K split a channels-last-output stage (1 or 2) of the channels-last family runs: the config's split
// (kchunk / 32), halved until every slice has at least two BK steps and the stage's blocks (tiles x split) are at
// most two per SM; none for BM 128 x BN 128, whose partial tile would not fit in its ring's shared memory. Host and
// device (the launcher sets StagedConv::ksplit) use this one.
// Why the per-stage block cap (session 18): a split pays only where a stage's tiles leave SMs idle, and the model
// used to reject a config outright when any of its stages would split past two blocks per SM. At 384:192->96:384@14,
// batch 32, that left the core stage at 98 blocks of 8 warps (one per SM on 98 of 132 SMs, 12% occupancy, 27 us of
// the layer's 55 under Nsight) while stage 1's 196 tiles were the stage that vetoed the split.
TUCKER_HD int StagedNhwcStageSplit(int ks, int K, int bm, int bn, long long tiles, int sm_count, int bk = kStagedNhwcBK) {
  if (bm == 128 && bn == 128) return 1;
  const int steps = (K + bk - 1) / bk;
  while (ks > 1 && (steps < 2 * ks || tiles * ks > 2LL * sm_count)) ks /= 2;
  return ks;
}
// A stage's block tiles (column tiles x row tiles) at BM x BN.
TUCKER_HD long long StagedNhwcTiles(const StagedConv& a, int bm, int bn) {
  return static_cast<long long>((static_cast<long long>(a.batch) * a.Ho * a.Wo + bn - 1) / bn) * ((a.cout + bm - 1) / bm);
}
// Stage a (1 or 2: channels-last output) of config c with the K split it runs, for the launcher and the model alike.
inline StagedConv StagedNhwcSplitStage(StagedConv a, const Config& c, int sm_count) {
  const int bm = StagedBM(a.cout, c.th);
  a.ksplit = StagedNhwcStageSplit(StagedKSplit(c), a.cin * a.kh * a.kw, bm, c.tw, StagedNhwcTiles(a, bm, c.tw), sm_count,
                                  StagedNhwcBKFor(StagedNhwcElemBytes(c)));
  return a;
}

// The three stages: C -> R1 over H x W (1x1), the core R1 -> R2 (the layer's stride, padding, dilation), R2 -> N
// over Ho x Wo (1x1, with bias, residual and Relu).
inline StagedConv StagedStage1(const Problem& p) {
  return {p.batch, p.C, p.H, p.W, p.R1, p.H, p.W, 1, 1, 1, 1, 0, 0, 1, 1, false, 1, 1, p.tf32};
}
inline StagedConv StagedStage2(const Problem& p, int ksplit = 1) {
  return {p.batch, p.R1, p.H, p.W, p.R2, p.Ho, p.Wo, p.kh, p.kw, p.sh, p.sw, p.pt, p.pl, p.dh, p.dw, false, ksplit, 1, p.tf32};
}
inline StagedConv StagedStage3(const Problem& p, int in_parts = 1) {
  return {p.batch, p.R2, p.Ho, p.Wo, p.N, p.Ho, p.Wo, 1, 1, 1, 1, 0, 0, 1, 1, p.relu, 1, in_parts, p.tf32};
}
// A 1x1 kernel with unit stride and no padding is a plain GEMM over each image's pixels.
inline bool StagedPointwise(const StagedConv& a) {
  return a.kh == 1 && a.kw == 1 && a.sh == 1 && a.sw == 1 && a.pt == 0 && a.pl == 0 && a.H == a.Ho && a.W == a.Wo;
}

// Scratch (floats): t1 [batch][R1][H][W] (64-byte aligned), then the core stage's K-split partials of t2, each
// [batch][R2][Ho][Wo]. The channels-last family keeps t1 and t2 in the model's type (fp16 or fp32) at the same
// offsets and its packed core weights ([R2][kh x kw][R1]) after t2.
inline size_t StagedT1Words(const Problem& p) {
  return (static_cast<size_t>(p.batch) * p.R1 * p.H * p.W + 15) / 16 * 16;
}
// Floats that n elements of elem_bytes take, rounded up to 64 bytes.
inline size_t StagedNhwcWords(size_t n, int elem_bytes) { return (n * elem_bytes / 2 + 31) / 32 * 16; }
inline size_t StagedNhwcPackWords(const Problem& p, int elem_bytes = 2) {
  return StagedT1Words(p) + StagedNhwcWords(static_cast<size_t>(p.batch) * p.R2 * p.Ho * p.Wo, elem_bytes);
}
// Where the WG kernels run, whether a stage whose channels fit BM 32 (ranks <= 32) runs the WG kernel at BM 64, half
// its rows past the stage's channels, instead of the WMMA kernel at BM 32. On for fp16, off for fp32;
// TUCKER_ONNX_WG_BM32=1 or =0 forces it either way (the A/B switch). Measured on the H200 (session 29, batch 32, the
// model's picks, both in one process): fp16's rank-32 rows ran 10-14% faster (the layer median 1.62x -> 1.76x the
// cuDNN triplet, no row slower by more than 1%); fp32's (3xTF32) ran 0-8% slower: its WG kernel's products and
// operand splits double with the rows, where fp16's tensor-core time is not what bounds the stage. The model prices
// these stages at BM 32 either way (fitted on logs where they ran WMMA).
inline bool StagedWgBm32(bool fp16) {
  const char* v = std::getenv("TUCKER_ONNX_WG_BM32");
  if (v != nullptr && (v[0] == '0' || v[0] == '1') && v[1] == 0) return v[0] == '1';
  return fp16;
}
// StagedCoreSwap's default for fp32.
constexpr int kStagedSwap32Fp32 = 1;
// Where the WG kernels run, how a core stage whose channels fit BM 32 (R2 <= 32) runs: 0 as above (StagedWgBm32),
// 1 as the WG kernel at BM 32 with the operands' roles swapped (kSw in tucker_conv_nhwc_kernel.cuh: pixels on
// wgmma's M, the 32 channels on N, no padded rows), 2 the same with fp32's operands pre-split (StagedNhwcSplitsCore).
// TUCKER_ONNX_SWAP32=0/1/2 forces one for both types; unset: kStagedSwap32Fp32 for fp32, 0 for fp16 (whose
// widened core was already 10-14% faster). Stage 1 at BM 32 is untouched (its B is the channels-first input).
inline int StagedCoreSwap(bool fp16) {
  const char* v = std::getenv("TUCKER_ONNX_SWAP32");
  if (v != nullptr && v[0] >= '0' && v[0] <= '2' && v[1] == 0) return v[0] - '0';
  return fp16 ? 0 : kStagedSwap32Fp32;
}
// Whether the core stage runs pre-split (StagedNhwcPresplit): fp32 outside the TF32 mode, in a wgmma kernel
// (RunStagedNhwc runs BM 64 and 128 as those), with R2 over at least two row tiles; not at BM 128 x BN 128, whose
// doubled ring (128 KB) would not fit the 99 KB of a block on the GPUs that run the WG kernels' WMMA body (compute
// capability 12), and which was not measured at two row tiles (at one, R2 64-96, its cores ran from 5% faster to
// 3% slower pre-split: call 2). At BM 32: the swapped core's mode 2 (StagedCoreSwap).
inline bool StagedNhwcSplitsCore(const Problem& p, const Config& c, bool wgmma) {
  const int bm = StagedBM(p.R2, c.th);
  if (c.nsplit != 5 || p.tf32 || !wgmma) return false;
  if (bm == 32) return StagedCoreSwap(false) == 2;
  return bm >= 64 && p.R2 > bm && !(bm == 128 && c.tw == 128);
}
// The channels-last family's scratch, in floats from its start: t1, t2 and the packed core weights; where the core
// pre-splits, the low parts of t1 and of the packed core weights.
struct StagedNhwcScratch {
  size_t t1 = 0, t2 = 0, packed = 0, t1_lo = 0, packed_lo = 0, words = 0;
};
inline StagedNhwcScratch StagedNhwcLayout(const Problem& p, const Config& c, bool wgmma) {
  const int eb = StagedNhwcElemBytes(c);
  const size_t t1 = StagedNhwcWords(static_cast<size_t>(p.batch) * p.R1 * p.H * p.W, eb);
  const size_t wc = StagedNhwcWords(static_cast<size_t>(p.R2) * p.R1 * p.kh * p.kw, eb);
  StagedNhwcScratch s;
  s.t2 = StagedT1Words(p);
  s.packed = StagedNhwcPackWords(p, eb);
  s.words = s.packed + wc;
  if (StagedNhwcSplitsCore(p, c, wgmma)) {
    s.t1_lo = s.words;
    s.packed_lo = s.t1_lo + t1;
    s.words = s.packed_lo + wc;
  }
  return s;
}
// wgmma: whether the launcher may run the wgmma kernels (WgmmaAllowed), whose fp32 stages may need more scratch.
inline size_t StagedScratchWords(const Problem& p, const Config& c, bool wgmma = false) {
  if (StagedNhwc(c)) return StagedNhwcLayout(p, c, wgmma).words;
  return StagedT1Words(p) + static_cast<size_t>(StagedKSplit(c)) * p.batch * p.R2 * p.Ho * p.Wo;
}

}  // namespace tucker_cuda
