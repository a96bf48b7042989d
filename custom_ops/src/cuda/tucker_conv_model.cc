// Picks the kernel and its execution parameters per shape: candidate configs, the analytical cost model,
// and the dispatch to the kernel a config names.
//
// Cost model (cycles) of the tiled kernel. A block runs its three stages one after another; a stage is
// passes x chunks steps, and one step is a weight-chunk fill, two barriers and kChunk rows of register-tile
// FMAs. Per block we count
//   latency = sum over steps of (memory latency of the fill + issue time of the step's instructions on
//             one scheduler, which the block's warps share four ways),
//   issue   = warp-instructions of the whole block (an SM issues 4 per cycle).
// Blocks resident per SM (by shared memory, threads) overlap one another's latency, so a wave costs
// max(latency, resident x issue / 4), and the kernel ceil(blocks / (SMs x resident)) waves.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <utility>

#include "tucker_conv_kernels.cuh"
#include "tucker_conv_launch.h"
#include "tucker_conv_staged_layout.h"
#include "tucker_conv_tiled_layout.h"

namespace tucker_cuda {
namespace {

constexpr int kTileSizes[] = {1, 2, 4, 7, 8, 14, 16};
constexpr int kThreads[] = {128, 256, 512};
constexpr int kSplits[] = {1, 2, 4, 8};
constexpr int kChunks[] = {32, 128, 512};
constexpr int kClusters[] = {2, 4, 8, 16};

int TileM(const Config& c) { return c.variant == kTiled4x4 ? 4 : 2; }

// Registers per thread of each tiled kernel (ptxas -v, sm_90): they cap the blocks resident per SM.
int TileRegisters(const Config&) { return 96; }

struct StageCost {
  double latency = 0, issue = 0;
};

// One GEMM stage: b_loads = shared loads per reduction row for B, fill_b = per-warp instructions that
// stage B per reduction row, mem = latency of a chunk's global loads (cycles).
StageCost Stage(const StageSplit& s, int K, int kchunk, int tm, int threads, double b_loads, double fill_b, double mem,
                double sync, double fill_a) {
  const double chunks = std::ceil(static_cast<double>(K) / kchunk);
  const double rows = static_cast<double>(K) / chunks;  // reduction rows per chunk
  const double active = static_cast<double>(s.mp / tm) * s.ntn;
  const double warps_active = std::ceil(active / 32), warps_all = std::ceil(threads / 32.0);
  const double inner = rows * (tm * tm + 1 + b_loads);
  const double fill = std::ceil(static_cast<double>(s.mp) * kchunk / threads) * fill_a + fill_b * kchunk;
  StageCost c;
  c.issue = s.passes * chunks * (inner * warps_active + fill * warps_all);
  c.latency = s.passes * chunks * (mem + sync + inner * std::ceil(warps_active / 4) + fill * std::ceil(warps_all / 4));
  return c;
}

double TiledCycles(const Problem& p, const Config& c, const Device& d, const ModelParams& m) {
  const size_t bytes = TiledSharedBytes(p, c);
  if (bytes > d.smem_per_block) return INFINITY;
  const int tm = TileM(c), kk = p.kh * p.kw, nchunk = TiledChunk(p, c);
  const int ih_n = WindowRows(p, c.th), iw_n = WindowCols(p, c.tw);
  const TiledLayout L =
      MakeTiledLayout(p.R1, p.R2, kk, ih_n, iw_n, c.th, c.tw, nchunk, c.threads, tm, tm, c.kchunk);
  if (!L.ok) return INFINITY;
  const double fill1 = std::ceil(static_cast<double>(L.win) / c.threads) * 3;
  const StageCost s1 = Stage(L.s1, p.C, c.kchunk, tm, c.threads, 1, fill1, m.tiled_mem1, m.tiled_sync, m.tiled_fill);
  const StageCost s2 = Stage(L.s2, p.R1 * kk, c.kchunk, tm, c.threads, tm + 1, 0, m.tiled_mem, m.tiled_sync, m.tiled_fill);
  const StageCost s3 = Stage(L.s3, p.R2, c.kchunk, tm, c.threads, 1, 0, m.tiled_mem, m.tiled_sync, m.tiled_fill);
  const double epi = std::ceil(static_cast<double>(nchunk) * L.tpix / c.threads) * 12;
  const double latency = s1.latency + s2.latency + s3.latency + 500 + epi;
  const double issue = s1.issue + s2.issue + s3.issue + epi * std::ceil(c.threads / 32.0);
  const double blocks = static_cast<double>(CeilDiv(p.Ho, c.th)) * CeilDiv(p.Wo, c.tw) * p.batch * c.nsplit;
  const int by_smem = static_cast<int>(std::max<size_t>(1, d.smem_per_sm / (bytes + 1024)));
  const int by_regs = 65536 / (TileRegisters(c) * c.threads);
  const int resident = std::max(1, std::min({by_smem, by_regs, 2048 / c.threads, 32}));
  const double waves = std::ceil(blocks / (static_cast<double>(d.sm_count) * resident));
  const double sharing = std::min<double>(resident, std::ceil(blocks / d.sm_count));
  return waves * std::max(latency, sharing * issue / 4) + m.tiled_launch;
}

// The split-K kernel: per stage, ceil(items x S / threads) rounds of a reduction chain k / S steps long, each
// step latency-bound on its global weight loads (items = 4-channel groups x pixels, S = the split), then the
// S partial sums of each of the 4 channels meet through colliding shared-memory atomics.
double SplitKCycles(const Problem& p, const Config& c, const Device& d, const ModelParams& m) {
  const size_t bytes = SplitKSharedBytes(p, c);
  if (bytes > d.smem_per_block) return INFINITY;
  const double win = static_cast<double>(WindowRows(p, c.th)) * WindowCols(p, c.tw);
  const double tpix = static_cast<double>(c.th) * c.tw;
  const double warps = std::ceil(c.threads / 32.0);
  double latency = 3 * 80, issue = 0;
  const auto stage = [&](double items, int k, double step, double instr) {
    const double split = std::max(1.0, std::min<double>(k, std::floor(c.threads / std::max(items, 1.0))));
    const double rounds = std::ceil(items * split / c.threads), chain = std::ceil(k / split);
    latency += rounds * (chain * step + (split > 1 ? split * 4 * m.splitk_atomic : 0.0));
    issue += rounds * chain * instr * warps;
  };
  stage(std::ceil(p.R1 / 4.0) * win, p.C, m.splitk_step1, m.splitk_instr);
  stage(std::ceil(p.R2 / 4.0) * tpix, p.R1, m.splitk_step2 * p.kh * p.kw, m.splitk_instr * p.kh * p.kw);
  stage(std::ceil(p.N / 4.0) * tpix, p.R2, m.splitk_step3, m.splitk_instr);
  const double blocks = static_cast<double>(CeilDiv(p.Ho, c.th)) * CeilDiv(p.Wo, c.tw) * p.batch;
  const int by_smem = static_cast<int>(std::max<size_t>(1, d.smem_per_sm / (bytes + 1024)));
  const int resident = std::max(1, std::min({by_smem, 2048 / c.threads, 32}));
  const double waves = std::ceil(blocks / (static_cast<double>(d.sm_count) * resident));
  const double sharing = std::min<double>(resident, std::ceil(blocks / d.sm_count));
  return waves * std::max(latency, sharing * issue / 4) + m.splitk_launch;
}

// The cluster kernel: per block (one of the cluster's CS SMs), three GEMM stages over 1/CS of each stage's
// output channels. A stage's threads each run a reduction chain of k_per_thread steps; a scheduler serves
// ceil(warps / 4) warps, so a stage costs max(one chain at cluster_cpi, the scheduler's share of the block's
// instructions) plus the latency of its first global loads. Between stages: a cluster barrier and the gather
// of the other blocks' rows over DSMEM. Blocks resident per SM overlap as in the tiled model.
double ClusterCycles(const Problem& p, const Config& c, const Device& d, const ModelParams& m) {
  if (d.cc_major < 9 || c.nsplit < 1 || c.nsplit > kMaxCluster) return INFINITY;
  const size_t bytes = ClusterSharedBytes(p, c);
  if (bytes > d.smem_per_block) return INFINITY;
  const bool staged = c.kchunk == kClusterStaged;
  const int cs = c.nsplit, kk = p.kh * p.kw;
  const int win = WindowRows(p, c.th) * WindowCols(p, c.tw), tpix = c.th * c.tw;
  const double cpi = staged ? m.cluster_cpi_staged : m.cluster_cpi;
  double latency = 0, issue = 0;
  const auto stage = [&](int M, int P, int K, double steps_per_k, double instr_per_step, double mem) {
    if (M <= 0) return;
    const ClusterStage s = ClusterStageWork(M, P, K, c.threads);
    const double chain = s.k_per_thread * steps_per_k * instr_per_step;
    const double warps = std::ceil(s.active_threads / 32.0);
    const double rounds = std::ceil(static_cast<double>(s.active_threads) / c.threads);
    issue += warps * chain;
    latency += std::max(rounds * chain * cpi, std::ceil(warps / 4) * chain) + mem;
    if (s.ksplit > 1) latency += std::ceil(static_cast<double>(M) * P / c.threads) * 4;  // the atomics
  };
  const double wmem = staged ? 200 : m.cluster_mem;  // staged operands: shared-memory latency only
  stage(CeilDiv(p.R1, cs), win, p.C, 1, staged ? 12 : 16, wmem);  // 2 weight + 4 X loads (staged: 1 vector load)
  stage(CeilDiv(p.R2, cs), tpix, p.R1, kk, 15, wmem);        // 2 weight + 4 t1 loads, 8 FMAs, 1 index op per tap
  stage(CeilDiv(p.N, cs), tpix, p.R2, 1, 12, wmem);          // 2 weight + 1 vector t2 load, 8 FMAs, 1 index op
  if (staged) {  // the block's weight slices and the tile's X window loaded once, 8 loads in flight per thread
    const double n = static_cast<double>(CeilDiv(p.R1, cs)) * p.C + static_cast<double>(CeilDiv(p.R2, cs)) * p.R1 * kk +
                     static_cast<double>(CeilDiv(p.N, cs)) * p.R2 + static_cast<double>(p.C) * RoundUp(win, 4);
    latency += m.cluster_mem + std::ceil(n / c.threads) * 4;
    issue += std::ceil(n / c.threads) * 4 * std::ceil(c.threads / 32.0);
  }
  const double gather = (std::ceil(p.R1 * RoundUp(win, 4) / 4.0 / c.threads) +
                         std::ceil(p.R2 * RoundUp(tpix, 4) / 4.0 / c.threads)) * m.cluster_gather;
  const double epi = std::ceil(static_cast<double>(CeilDiv(p.N, cs)) * tpix / c.threads) * 12;
  latency += 3 * m.cluster_sync + gather + epi + 300;  // + zeroing
  issue += (gather / 2 + epi) * std::ceil(c.threads / 32.0);
  const double blocks = static_cast<double>(CeilDiv(p.Ho, c.th)) * CeilDiv(p.Wo, c.tw) * p.batch * cs;
  const int by_smem = static_cast<int>(std::max<size_t>(1, d.smem_per_sm / (bytes + 1024)));
  const int by_regs = 65536 / (64 * c.threads);
  const int resident = std::max(1, std::min({by_smem, by_regs, 2048 / c.threads, 32}));
  const double waves = std::ceil(blocks / (static_cast<double>(d.sm_count) * resident));
  const double sharing = std::min<double>(resident, std::ceil(blocks / d.sm_count));
  return waves * std::max(latency, sharing * issue / 4) + m.cluster_launch;
}

// The grid kernel: three stages over the whole GPU with two grid barriers. A stage is rounds of tasks (a task: th
// rows x 32 columns, its reduction split over S warps); a round costs its chain of ceil(K / S) steps at
// grid_step (latency-bound) or the SM's share of the round's instructions at 4 per cycle, whichever is larger,
// plus the first loads and, when S > 1, the shared-memory reduction.
double GridCycles(const Problem& p, const Config& c, const Device& d, const ModelParams& m) {
  if (!GridConfigValid(c)) return INFINITY;
  const int blocks = GridBlocks(p, c, d.sm_count), S = c.tw, mb = c.th;
  const double slots = c.threads / 32 / S;
  const double blocks_per_sm = std::ceil(static_cast<double>(blocks) / d.sm_count);
  double total = m.grid_launch + 2 * m.grid_sync;
  const auto stage = [&](int M, double P, double chain, double instr_per_step) {
    const double tasks = std::ceil(static_cast<double>(M) / mb) * std::ceil(P / 32);
    const double rounds = std::ceil(tasks / (blocks * slots));
    const double busy_warps = std::min(tasks, blocks * slots) / blocks * S * blocks_per_sm;  // per SM
    const double issue = busy_warps * chain * instr_per_step / 4;
    total += rounds * (std::max(chain * m.grid_step, issue) + m.grid_mem + (S > 1 ? m.grid_reduce : 0.0));
  };
  const double kk = p.kh * p.kw;
  stage(p.R1, static_cast<double>(p.batch) * p.H * p.W, std::ceil(static_cast<double>(p.C) / S), 2 * mb + 2);
  // A 3x3 core issues its 9 taps' loads together (unrolled): a third of the exposed steps of the run-time tap loop.
  const double taps_exposed = (p.kh == 3 && p.kw == 3) ? 3 : kk;
  const double r1_steps = std::ceil(static_cast<double>(p.R1) / S);
  stage(p.R2, static_cast<double>(p.batch) * p.Ho * p.Wo, r1_steps * taps_exposed, (2 * mb + 4) * kk / taps_exposed);
  stage(p.N, static_cast<double>(p.batch) * p.Ho * p.Wo, std::ceil(static_cast<double>(p.R2) / S), 2 * mb + 2);
  return total;
}

// The grid kernel's configs: rows per task x threads x warps per task x blocks per SM.
void AddGridCandidates(const Problem& p, std::vector<Config>* out) {
  if (GridScratchBytes(p) > (size_t{1} << 30)) return;
  for (int mb : {1, 2, 4})
    for (int threads : kThreads)
      for (int s : {1, 2, 4, 8, 16})
        for (int per_sm : {1, 2}) {
          const Config c{kGrid, mb, s, threads, per_sm, kGridRuns};
          if (GridConfigValid(c)) out->push_back(c);
        }
}

// The staged kernel: three GEMM launches. A stage's blocks run in waves of SMs x resident blocks; a block walks
// ceil(K / kStagedBK) steps, each kStagedBK rows of its register tile's FMAs plus the shared-memory loads that feed
// them, the staging of the next step's operands and a barrier, issued by the block's warps at 4 warp-instructions
// per SM cycle (staged_cpi: the issue efficiency the measurements give). A stage costs at least its DRAM bytes at
// staged_bw bytes per cycle, plus a launch. A K split of the core stage (kchunk > 32) multiplies its blocks and
// divides each block's reduction by the split, and each slice writes (and stage 3 reads) its own fp32 partial t2.
double StagedCycles(const Problem& p, const Config& c, const Device& d, const ModelParams& m) {
  if (!StagedConfigValid(c)) return INFINITY;
  const int split = StagedKSplit(c);
  double total = 0;
  // The tensor-core family (fp16 models; Launchable vetoes it for fp32): 8 warps, each (BM / WARPS_M) x
  // (BN / WARPS_N) of 16x16 fragments; a 16x16x16 product counts as kMmaIssue FFMA issue slots (the tensor cores
  // do 8x the FMAs of the FP32 pipe per cycle under mma.sync: 4096 FMAs / 32 per FFMA / 8), plus its fragment loads.
  // The channels-last form counts 8 (kNhwcMmaIssue): Nsight on its core stage (session 18, BM 128 x BN 64, 32 x 32
  // warp tiles) counted ~157 instructions per warp and step, 16 of them HMMA; the step below gives 146 with 8 and 210
  // with 16, which made a 64 x 128 block's step cost 1.64x a 64 x 64 one's where the GPU ran it for 1.16x, and the
  // model picked BN 64 where BN 128 ran 8-15% faster (28x28 maps, batch 32).
  constexpr double kMmaIssue = 16, kNhwcMmaIssue = 8;
  // The channels-first family's BM cap of 128 was never the fastest of its configs (fp16, 36 shapes, session 9): the
  // tuners time it, the model skips it.
  if (c.nsplit == 3 && c.th == 128) return INFINITY;
  // Its channels-last form (nsplit 4) loads a step's B tile as 16-byte groups (one per thread instead of BN x 16 /
  // 256 single values), stores t1/t2 rows 8 channels at a time, and keeps t1/t2 in fp16 (half the bytes).
  const bool nhwc = StagedNhwc(c);
  if (nhwc && (!StagedNhwcFits(p) || (split > 1 && d.cc_major < 9))) return INFINITY;  // its split needs clusters
  const double scratch_elem = nhwc ? StagedNhwcElemBytes(c) : 4;
  // Its fp32 form (nsplit 5, 3xTF32, session 20): per 16 reduction rows (one step) and fragment pair, two 16x16x8
  // WMMA steps of three TF32 products each, kTf32x3Products x the fp16 form's product issue; per fragment, its
  // fragment loads and the split (kTf32x3SplitIssue). From the instruction counts the products would be 6; scanned on
  // session 20's exhaustive fp32 log of every variant-6 config (call 5, 18 shapes x batch 1 and 32), 2 with the split
  // at 24 gives the smallest pick gap: 1.9% (6: 4.1%, picking the FFMA families at 28x28-56x56 maps, batch 32, where
  // this form ran 1.3x faster). The tensor pipe is not what bounds these stages: Nsight (call 3) showed the core stage
  // at 29% issue-busy, latency-bound with 2 warps per scheduler.
  const bool tf32x3 = StagedFp32Only(c);
  constexpr double kTf32x3Products = 2, kTf32x3SplitIssue = 24;
  // The TF32 mode (Problem::tf32, session 22): one product per 16x16x8 step instead of three, and per fragment a
  // rounding (two integer ops per value) instead of the split: staged_tf32 of both.
  const double products = p.tf32 ? kTf32x3Products * m.staged_tf32 : kTf32x3Products;
  const double split_issue = p.tf32 ? kTf32x3SplitIssue * m.staged_tf32 : kTf32x3SplitIssue;
  // The pre-split core (StagedNhwcSplitsCore, session 27): stage 1 writes t1 twice (TF32 high and low parts), and the
  // core copies both parts of its operands (twice the loads and bytes) and splits nothing. Priced so (session 28, on
  // the fp32 variant-6 logs of that library): with the split's issue left in, the model saw no gain from it.
  const bool pre = nhwc && StagedNhwcSplitsCore(p, c, WgmmaAllowed());
  const auto mma_stage = [&](const StagedConv& a, double in_bytes, double out_bytes, bool last, bool first) {
    const bool core_pre = pre && !first && !last, t1_pre = pre && first;
    const int bm = StagedBM(a.cout, c.th), bn = c.tw, warps_m = bm == 128 ? 4 : 2, warps_n = 8 / warps_m;
    const int fm = bm / warps_m / 16, fn = bn / warps_n / 16;
    const int bk = nhwc ? StagedNhwcBKFor(StagedNhwcElemBytes(c)) : kStagedMmaBK;  // reduction rows per step
    const double K = std::ceil(static_cast<double>(a.cin) * a.kh * a.kw / bk / a.ksplit) * bk;
    const double cols = static_cast<double>(a.batch) * a.Ho * a.Wo;
    const double blocks = std::ceil(cols / bn) * std::ceil(static_cast<double>(a.cout) / bm) * a.ksplit;
    // The accumulators take 8 fp32 registers per 16x16 fragment and thread (ptxas, sm_90: the channels-last kernels
    // use 40-100 registers, the channels-first ones more); the channels-last ring's shared memory caps the blocks too
    // (its channels-last size: stage 1's is within 10%).
    const int regs = (nhwc ? 48 : 64) + 8 * fm * fn;
    const int smem_cap = nhwc ? static_cast<int>(233472 / (StagedNhwcSmemBytes(bm, bn, true) + 1024)) : 8;
    const int resident = std::max(1, std::min({8, smem_cap, kStagedRegsPerSm / (regs * kStagedMmaThreads)}));
    // Channels-last: A and B both in 16-byte groups (the core's weights packed by stage 1's extra blocks), except
    // stage 1's B from a map that is not a multiple of 8 pixels (14x14, 7x7), which the kernel gathers one value at a
    // time: 8 loads per group. (Session 18: uncosted, the model saw BM 64 x BN 128 and BM 128 x BN 64 tie at
    // 384:192->96:384@14, batch 32, where stage 1 ran 19.4 us at BN 128 and 15.1 us at BN 64.)
    const int vec = nhwc ? 16 / StagedNhwcElemBytes(c) : 8;  // elements per 16-byte group
    const double b_groups = nhwc && first && (a.H * a.W) % vec != 0 ? vec : 1.0;
    const double loads = nhwc ? (bm + bn * b_groups) * bk / static_cast<double>(vec) / kStagedMmaThreads
                              : static_cast<double>(bm + bn * a.in_parts) * bk / kStagedMmaThreads;
    const double step = tf32x3 ? fm * fn * kNhwcMmaIssue * products + (fm + fn) * (8 + (core_pre ? 0.0 : split_issue)) +
                                     loads * (core_pre ? 2 : 1) * 10 + 20
                               : bk / 16 * (fm * fn * (nhwc ? kNhwcMmaIssue : kMmaIssue) + (fm + fn) * 4) + loads * 10 + 20;
    // Blocks of one SM run `resident` at a time; each round's steps cost the larger of the latency of a step's
    // loads and barrier (one step in flight ahead for the channels-first family, two in the channels-last ring: few
    // warps cannot hide it) and the SM's issue of its blocks' steps. A round runs the SM's blocks evenly (per_sm /
    // rounds at a time): the hardware starts a block wherever one ends, so 6 blocks at 4 resident are two rounds of
    // 3, not 4 and 2 priced as 4 twice. (Session 17: that over-charge made BN 128's half as many blocks look as slow
    // as BN 64's at batch 32; the model picked BM 128 x BN 64 where BM 64 x BN 128 ran 8-24% faster. Pick gap on the
    // K-split log with the WMMA log merged: 2.8% -> 1.9%; at batch 32 4.6% -> 2.1%.)
    const double per_sm = std::ceil(blocks / d.sm_count), rounds = std::ceil(per_sm / resident);
    const double conc = per_sm / rounds, steps = std::ceil(K / bk);
    // fp32 (3xTF32) also has a floor per warp on a long reduction: its step's chain of dependent loads, splits and
    // products, which a scheduler's two warps (one block per SM) cannot hide, kFp32Chain issue cycles per
    // instruction. Without it the model saw a lone block per SM as twice as fast as two, so a K split (twice the
    // blocks, half the steps) gained nothing; measured (session 28, batch 32) it ran 1.1-1.3x faster at 14x14 and 7x7
    // maps. Scanned on that log with the batch-1 one (fp32, every variant-6 and variant-4 config): 3-6 is a plateau,
    // 7 and over pick badly. Only from kFp32ChainSteps steps per block: on the short split reductions of batch 1 the
    // block's fixed costs dominate, and charged there too the floor moved the 96->64 cores at 28x28 (ResNet-18's
    // layer 2) to BM 32, 16% slower in the log. Mean pick gap 3.7% -> 2.2% (batch 32: 4.8% -> 1.9%; with the floor
    // on every reduction 1.8%, 1.3%).
    // fp32's stages on the WG kernel (BM 64 and 128, and the swapped core at BM 32: wgmma in the sm_90a build) issue
    // at kFp32Cpi of staged_mma_cpi; those on the WMMA body (stages 1 and 3 at BM 32) keep staged_mma_cpi. Scanned
    // (session 31) on the fp32 logs of the current kernels (session 28's, with session 30's batch 32 and session 31's
    // batch 1 of every variant-6 config merged over them): 0.4-0.5 is a plateau, pick gap batch 1 3.3% -> 2.2%
    // (384:192->96:384@28 13% -> 0%), batch 32 2.2% -> 0.6% (96:96->64:192@7 16% -> 0%: BN 64 with a K split of 4,
    // not BN 128 with 8), with kSwap32Bn128 below; 0.3 and under pick badly. Scaled on every stage, 0.7 was the best
    // value, and it moved 128:64->32:128@112 at batch 1 to BM 32 (WMMA stage 1), 10% slower: the WG kernel's issue
    // is what got cheaper. fp16's forms keep staged_mma_cpi (the scale is not applied there).
    constexpr double kFp32Cpi = 0.5;
    const bool swap_core = !first && !last && bm == 32 && StagedCoreSwap(false) != 0 && WgmmaAllowed();
    const bool wg_body = (bm >= 64 && WgmmaAllowed()) || swap_core;
    const double cpi = m.staged_mma_cpi * (tf32x3 && wg_body ? kFp32Cpi : 1.0);
    constexpr double kFp32Chain = 5, kFp32ChainSteps = 16;
    const double chain = tf32x3 && !p.tf32 && steps >= kFp32ChainSteps ? kFp32Chain * step * cpi : 0.0;
    // fp32's rank-32 core with its operands swapped (StagedCoreSwap, session 30: the WG kernel at BM 32, pixels on
    // wgmma's M, one row tile of R2 <= 32 channels): at BN 128 its steps cost kSwap32Bn128 of the WMMA form priced
    // above (that kernel ran 11-13% faster per layer there; at BN 64 no faster). Scanned (session 31) on session 30's
    // fp32 batch-32 log of every variant-6 config with kFp32Cpi: 0.5-0.7 is a plateau (pick gap 1.3% -> 0.6%,
    // 64:64->32:128@28's pick BN 64 -> 128, 8% -> 0%), 0.8 and over change less; batch 1 unchanged.
    constexpr double kSwap32Bn128 = 0.7;
    const double sw = tf32x3 && swap_core && a.cout <= 32 && bn == 128 ? kSwap32Bn128 : 1.0;
    const double step_time = std::max({nhwc ? m.staged_nhwc_lat : m.staged_mma_lat, conc * 8 / 4 * step * sw * cpi,
                                       chain * sw});
    // Per fragment and lane: 16-byte rows of t1/t2 or of an output map that is a multiple of 8 pixels, or single values.
    const double stores = (nhwc && (!last || (a.Ho * a.Wo) % 8 == 0) ? 4 * scratch_elem / 2 : 16) * (t1_pre ? 2 : 1);
    const double once = (fm * fn * stores + loads * 10 + 100) * conc * 8 / 4 * cpi;
    // A cluster K split (channels-last family): each slice stores its partial tile, two cluster barriers and the
    // slices' DSMEM reads of each other's tiles. 300 cycles: scanned (0-2400) on session 12's log of every staged
    // config (call 2), the value with the smallest pick gap (before the tile rule below: 5.3% at 300, 5.7% at 600,
    // 11.6% at 2400; with it 4.6% at 300).
    const double reduce = nhwc && a.ksplit > 1 ? 300.0 : 0.0;
    // The channels-first epilogue (stage 3) of the channels-last family writes a warp's fragments one after another,
    // each a chain of shared-memory round trips and an L2 load of its biases that the warps of an SM cannot hide
    // (Nsight, session 19: at 128:64->64:128@56, batch 32, 56% of stage 3's instructions and 74% of its stall samples,
    // mostly long-scoreboard): kNhwcEpiFragLat cycles per fragment and round, not scaled by the blocks sharing the SM.
    // Without it the model priced BM 128 x BN 128 (8 fragments per warp) below BM 64 x BN 128 (4) at 224x224 and
    // 112x112 maps, where the latter ran 5-15% faster in sessions 11, 12 and 19. Scanned 0-2000 on the channels-last
    // logs: 200-375 is a plateau; the pick gap NHWC 0.99 -> 0.11%, K split + WMMA 1.91 -> 1.17%, session 18's batch 32
    // 2.06 -> 1.02%, TC unchanged (7.44%).
    constexpr double kNhwcEpiFragLat = 300;
    const double epi_lat = nhwc && last ? fm * fn * kNhwcEpiFragLat : 0.0;
    const double time = rounds * (steps * step_time + once + reduce + epi_lat);
    // The larger of issue time and DRAM time; for the channels-last family plus a quarter of the smaller: the two
    // overlap only in part, and a pure max made its tiles equal wherever the bytes dominate (large maps), so the model
    // picked BN 64 where BN 128 ran 20-40% faster (session 11). (The channels-first family's constants were fitted
    // with the pure max; with the sum its picks fell behind the FFMA configs' on the session-9 log.)
    const double mem = (in_bytes * (core_pre ? 2 : 1) + out_bytes * (t1_pre ? 2 : 1)) / m.staged_mma_bw;
    total += std::max(time, mem) + (nhwc ? 0.25 * std::min(time, mem) : 0.0) + m.staged_launch;
  };
  const auto stage = [&](const StagedConv& a, double in_bytes, double out_bytes, bool last = false, bool first = false) {
    if (StagedTensorCores(c)) return mma_stage(a, in_bytes, out_bytes, last, first);
    const int bm = StagedBM(a.cout, c.th), bn = c.tw, tm = StagedTM(bm, c.nsplit), tn = StagedTN(c.nsplit);
    const int threads = StagedBlockThreads(bm, bn, c.nsplit);
    const double warps = threads / 32.0;
    const double K = std::ceil(static_cast<double>(a.cin) * a.kh * a.kw / kStagedBK / a.ksplit) * kStagedBK;
    const double cols = static_cast<double>(a.batch) * a.Ho * a.Wo;
    const double blocks = std::ceil(cols / bn) * std::ceil(static_cast<double>(a.cout) / bm) * a.ksplit;
    // Registers (ptxas, sm_90): ~150 per thread for 8 x 8 tiles, ~105 for 4 x 8, ~80 below; they cap the blocks
    // per SM.
    const int regs = tm * tn >= 64 ? 152 : (tm * tn >= 32 ? 104 : 80);
    const int resident = std::max(1, std::min(2048 / threads, kStagedRegsPerSm / (regs * threads)));
    const double waves = std::ceil(blocks / (static_cast<double>(d.sm_count) * resident));
    // Per thread per step: the staging loads (a split stage 2's partials are summed as stage 3 loads them).
    const double loads = static_cast<double>(bm + bn * a.in_parts) * kStagedBK / threads;
    const double step = kStagedBK * (tm * tn + std::ceil(tm / 4.0) + std::ceil(tn / 4.0)) + loads * 8 + 20;
    // Per block, once: the tile's stores with their epilogue and the first step's loads; a split multiplies it.
    const double once = tm * tn * 6 + loads * 8 + 100;
    // The busiest SM issues its blocks' instructions at 4 per cycle, and a wave takes at least one warp's chain.
    const double work = std::ceil(K / kStagedBK) * step + once;  // per warp
    const double per_sm = std::ceil(blocks / d.sm_count);
    const double issue = std::max(per_sm * warps / 4, waves * 2) * work * m.staged_cpi;
    const double bytes = in_bytes + out_bytes;
    total += std::max(issue, bytes / m.staged_bw) + m.staged_launch;
  };
  const double pix_in = static_cast<double>(p.batch) * p.H * p.W, pix_out = static_cast<double>(p.batch) * p.Ho * p.Wo;
  if (nhwc) {  // the split runs in clusters on stages 1 and 2 (StagedNhwcStageSplit), with no partials in memory
    // A split pays where a stage's tiles leave SMs idle; past two blocks per SM its clusters only add reductions and
    // co-scheduling (session 12's log at batch 32: 14x14 maps with 98 tiles ran 1.3x slower split 4 than split 2,
    // 28x28-56x56 maps lost 9-24% to any split). The model's cost did not see that; StagedNhwcStageSplit's block cap
    // keeps such stages unsplit (session 18; before, it rejected the whole config here).
    const StagedConv s1 = StagedNhwcSplitStage(StagedStage1(p), c, d.sm_count),
                     s2 = StagedNhwcSplitStage(StagedStage2(p), c, d.sm_count);
    if (split > 1 && s1.ksplit == 1 && s2.ksplit == 1) return INFINITY;  // the same kernels as split 1
    stage(s1, pix_in * p.C * 4, pix_in * p.R1 * scratch_elem, false, true);
    stage(s2, pix_in * p.R1 * scratch_elem, pix_out * p.R2 * scratch_elem);
    stage(StagedStage3(p), pix_out * p.R2 * scratch_elem, pix_out * p.N * 4 * 2, true);
    return total;
  }
  stage(StagedStage1(p), pix_in * p.C * 4, pix_in * p.R1 * scratch_elem);
  stage(StagedStage2(p, split), pix_in * p.R1 * scratch_elem, pix_out * p.R2 * scratch_elem * split);
  stage(StagedStage3(p, split), pix_out * p.R2 * scratch_elem * split, pix_out * p.N * 4 * 2, true);
  return total;
}

// The staged kernel's configs: BM cap x BN x register-tile family, each BM cap only where some stage has that many
// channels.
void AddStagedCandidates(const Problem& p, const Device& d, std::vector<Config>* out) {
  const int most = std::max({p.R1, p.R2, p.N});
  const int core_steps = p.R1 * p.kh * p.kw / kStagedBK;
  for (int split : {1, 2, 4}) {
    if (split > 1 && core_steps < 16 * split) break;  // a split only pays on a long core reduction
    for (int bm : {32, 64, 128}) {
      if (bm > 32 && most <= bm / 2) break;
      for (const auto& [bn, fam] : {std::pair{64, 1}, std::pair{128, 1}, std::pair{64, 2}, std::pair{64, 3},
                                    std::pair{128, 3}, std::pair{64, 4}, std::pair{128, 4}}) {
        const Config c{kStaged, bm, bn, kStagedThreads, fam, 32 * split};
        if (fam != 4 && StagedConfigValid(c) && StagedScratchBytes(p, c) <= (size_t{1} << 31)) out->push_back(c);
      }
    }
  }
  // The channels-last family's cluster K splits (stages 1 and 2): each tile's distinct pairs of stage splits (a larger
  // split that StagedNhwcStageSplit cuts back to a smaller one's pair runs the same kernels).
  for (int fam : {4, 5})  // fp16, fp32 (3xTF32)
  for (int bm : {32, 64, 128}) {
    if (bm > 32 && most <= bm / 2) break;
    for (int bn : {64, 128}) {
      std::pair<int, int> last{0, 0};
      for (int split : {1, 2, 4, 8}) {
        const Config c{kStaged, bm, bn, kStagedThreads, fam, 32 * split};
        const std::pair<int, int> ks{StagedNhwcSplitStage(StagedStage1(p), c, d.sm_count).ksplit,
                                     StagedNhwcSplitStage(StagedStage2(p), c, d.sm_count).ksplit};
        if (ks != last && StagedConfigValid(c) && StagedScratchBytes(p, c) <= (size_t{1} << 31)) out->push_back(c);
        last = ks;
      }
    }
  }
}

}  // namespace

void AddWmmaCandidates(const Problem& p, const Device& d, int nsplit, std::vector<Config>* out);

// The cluster split is offered (Candidates) and priced (WmmaCycles) only where no plain tile of its form fits: where
// one does, the split ran slower (the duplicated X window and im2col and the barriers cost more than the slices save;
// session 15's fp16 log: up to 46% at 7x7 and 14x14).
bool WmmaPlainTileFits(const Problem& p, const Device& d, int nsplit) {
  std::vector<Config> plain;
  AddWmmaCandidates(p, d, nsplit, &plain);
  return !plain.empty();
}

// The cluster split's prices: three cluster barriers at kWmmaClusterBarrier cycles each, and splits of
// kWmmaModelCluster blocks at most (clusters of 4-16 are timed by the tuners only). Scanned (session 34) on the
// exhaustive logs of ResNet-18 (fp32 and fp16) and ResNet-50 (fp32) at batch 1 with every committed log the tests
// score: 1000-1500 is a plateau (ResNet-18 fp16's mean pick gap 8.9% -> 3.5%, fp32 1.7% -> 0.9%, ResNet-50 fp32 4.0% ->
// 0.0%, no other log changed); 2000 gives back ResNet-18 fp16's 128:96->96:256@28 stride-2 layer. Clusters of 4 priced
// the same picked them where they ran 10-30% slower (fp16 ResNet-18 at 14x14; sizes 8 and 16 ran 2-4x slower than
// this model saw: a cluster must fit one GPC, so fewer run at once than the SM count suggests).
constexpr double kWmmaClusterBarrier = 1250;
constexpr int kWmmaModelCluster = 2;

// The WMMA kernel with staged weights (nsplit 2; nsplit 1, which reads them from global memory, has no cost:
// forced or tuned only). A block is a chain of latencies, not a throughput: its fixed part, each warp's serial mma
// steps per stage (tiles are dealt to the 8 warps), what each thread stages, and a set-up per im2col chunk; blocks
// beyond one wave (2 per SM by registers, fewer by shared memory) run the chain again, and blocks sharing an SM
// slow each other's chains by wmma_share each.
// Its cluster split (kchunk = 32 x cs, Hopper): each of a tile's cs blocks computes a 1/cs slice of every stage's
// output rows (its warps always splitting the reductions of a slice with fewer tiles than warps) and stages only
// those weight rows, but loads the whole X window and builds the whole im2col; it adds the DSMEM copies of the other
// ranks' t1 and t2 rows (cluster_gather per 16 bytes a thread copies, as in the cluster kernel) and three cluster
// barriers (kWmmaClusterBarrier). Priced since session 34: the tuners (ResNet-18's and ResNet-50's batch-1 layers)
// found it 6-32% faster than every priced config on the 28x28 and 14x14 maps with ranks 32-128.
double WmmaCycles(const Problem& p, const Config& c, const Device& d, const ModelParams& m) {
  const size_t smem = WmmaSharedBytes(p, c);
  const int cs = WmmaClusterSize(c);
  if (c.nsplit < 2 || cs < 1 || cs > kWmmaModelCluster || (cs > 1 && d.cc_major < 9) || smem == static_cast<size_t>(-1) ||
      smem > d.smem_per_block)
    return INFINITY;
  if (cs > 1 && WmmaPlainTileFits(p, d, c.nsplit)) return INFINITY;
  const auto slice = [&](int M) { return WmmaSliceRows(M, cs); };  // one rank's rows (all of them at cs 1)
  // fp32 (nsplit 3): each 16-row step is two TF32 steps of three products and their operands' splits; every staged
  // element is twice the bytes (16-byte groups of 4 values instead of 8).
  const bool fp32 = WmmaFp32(c);
  // The TF32 mode (Problem::tf32): two products per step and the operands' rounding instead of six and the split.
  const double tf32x = p.tf32 ? m.wmma_tf32 : m.wmma_tf32x3;
  const double step = fp32 ? m.wmma_step * tf32x : m.wmma_step, per16 = fp32 ? 4 : 8;
  const int kk = p.kh * p.kw, threads = c.threads, warps = threads / 32;
  const int winp = RoundUp(WindowRows(p, c.th) * WindowCols(p, c.tw), 16), tpixp = RoundUp(c.th * c.tw, 16);
  const auto per_warp = [&](double tiles) { return std::ceil(tiles / warps); };
  const int kc = WmmaChunkRows(p, c);
  const double chunks = p.R1 / kc;
  // A stage's serial steps per warp: its tiles dealt to the warps; the fp32 form's warps also split the reduction
  // of a stage with fewer tiles than warps and at least kWmmaSplitSteps steps (ks of them per tile, one more step for
  // their partial sums).
  const auto stage = [&](int tiles, int ksteps) {
    if ((cs == 1 && (!fp32 || ksteps < kWmmaSplitSteps)) || tiles >= warps) return per_warp(tiles) * ksteps;
    const int ks = std::min(warps / tiles, ksteps);
    return std::ceil(static_cast<double>(ksteps) / ks) + (ks > 1 ? 1 : 0);
  };
  const double steps = stage((slice(p.R1) / 16) * (winp / 16), p.C / 16) +
                       stage((slice(p.R2) / 16) * (tpixp / 16), (p.R1 / 16) * kk) + stage((slice(p.N) / 16) * (tpixp / 16), p.R2 / 16);
  const double weights = static_cast<double>(slice(p.R1)) * p.C + static_cast<double>(slice(p.R2)) * p.R1 * kk +
                         static_cast<double>(slice(p.N)) * p.R2;
  const double fills = std::ceil(static_cast<double>(p.C) * winp / threads) + std::ceil(weights / per16 / threads) +
                       chunks * std::ceil(static_cast<double>(kc) * kk * tpixp / 8 / threads);
  const double gathers = cs == 1 ? 0.0 : std::ceil((static_cast<double>(p.R1 - slice(p.R1)) * winp +
                                                    static_cast<double>(p.R2 - slice(p.R2)) * tpixp) / per16 / threads);
  const double cluster = cs == 1 ? 0.0 : gathers * m.cluster_gather + 3 * kWmmaClusterBarrier;
  const double blocks = static_cast<double>(CeilDiv(p.Ho, c.th)) * CeilDiv(p.Wo, c.tw) * p.batch * cs;
  const double per_sm = std::max<size_t>(1, std::min<size_t>(2, d.smem_per_sm / (smem + 1024)));
  const double waves = std::ceil(blocks / (d.sm_count * per_sm));
  const double sharing = std::min(per_sm, std::ceil(blocks / d.sm_count)) - 1;
  const double chain = m.wmma_mem + steps * step + fills * m.wmma_fill + chunks * m.wmma_sync + cluster;
  // PDL hides the set-up of a single wave (batch 1); with more waves it is a small part, and crediting it there
  // picked 8x8 tiles for 32->32@28 at batch 32, 12% slower than the staged kernel (session 14, call 7).
  const double overlap = d.cc_major >= 9 && waves == 1 ? std::min(m.wmma_pdl, 0.5 * chain) : 0.0;
  return m.wmma_launch + (waves + m.wmma_share * sharing) * chain - overlap;
}

// WMMA configs where they fit (SharedBytes: also channels and ranks multiples of 16; the type: Launchable), in the
// tile shapes the H200 ran correctly (tests/test_kernel_cuda.py, tools/bench_configs.py, sessions 4 and 13). nsplit 2
// (weights staged in shared memory; fp16) and 3 (fp32) also take 2x4 tiles: model candidates; nsplit 1:
// TensorCoreCandidates.
void AddWmmaCandidates(const Problem& p, const Device& d, int nsplit, std::vector<Config>* out) {
  for (auto [th, tw] : {std::pair{2, 4}, std::pair{4, 4}, std::pair{4, 8}, std::pair{8, 8}}) {
    const Config c{kWmma, th, tw, 256, nsplit, 32};
    if ((nsplit >= 2 || th > 2) && (th <= p.Ho || th <= 4) && (tw <= p.Wo || tw <= 4) &&
        SharedBytes(p, c) <= d.smem_per_block)
      out->push_back(c);
  }
}

// The cluster split's configs (Hopper) where no plain tile fits (WmmaPlainTileFits): cluster sizes 2-16 in the 2x4,
// 4x4 and 4x8 tiles, where one rank's slices fit a block's shared memory (Launchable also checks that the GPU can
// co-schedule such a cluster).
void AddWmmaClusterCandidates(const Problem& p, const Device& d, int nsplit, std::vector<Config>* out) {
  if (d.cc_major < 9 || WmmaPlainTileFits(p, d, nsplit)) return;
  for (int cs : {2, 4, 8, 16})
    for (auto [th, tw] : {std::pair{2, 4}, std::pair{4, 4}, std::pair{4, 8}}) {
      const Config c{kWmma, th, tw, 256, nsplit, 32 * cs};
      if ((th <= p.Ho || th <= 4) && (tw <= p.Wo || tw <= 4) && SharedBytes(p, c) <= d.smem_per_block)
        out->push_back(c);
    }
}

size_t ScratchBytes(const Problem& p, const Config& c) {
  if (c.variant == kGrid) return GridScratchBytes(p);
  return c.variant == kStaged ? StagedScratchBytes(p, c) : 0;
}

size_t SharedBytes(const Problem& p, const Config& c) {
  if (c.variant == kCluster) return ClusterSharedBytes(p, c);
  if (c.variant == kWmma) return WmmaSharedBytes(p, c);
  if (c.variant == kGrid) return GridConfigValid(c) ? 0 : static_cast<size_t>(-1);  // static shared memory only
  if (c.variant == kStaged) {  // < 48 KB, no opt-in, except the channels-last family's BM 128 x BN 128 tiles
    if (!StagedConfigValid(c)) return static_cast<size_t>(-1);
    return StagedNhwc(c) && c.th == 128 && c.tw == 128 ? StagedNhwcSmemBytes(128, 128, true) : 0;
  }
  return c.variant == kSplitK ? SplitKSharedBytes(p, c) : TiledSharedBytes(p, c);
}

double PredictCycles(const Problem& p, const Config& c, const Device& d, const ModelParams& m) {
  if (c.variant == kCluster) return ClusterCycles(p, c, d, m);
  if (c.variant == kWmma) return WmmaCycles(p, c, d, m);
  if (c.variant == kGrid) return GridCycles(p, c, d, m);
  if (c.variant == kStaged) return StagedCycles(p, c, d, m);
  return c.variant == kSplitK ? SplitKCycles(p, c, d, m) : TiledCycles(p, c, d, m);
}

double PredictCycles(const Problem& p, const Config& c, const Device& d) {
  static const ModelParams fitted;
  return PredictCycles(p, c, d, fitted);
}

std::vector<Config> Candidates(const Problem& p, const Device& d) {
  const int max_k = std::max({p.C, p.R1 * p.kh * p.kw, p.R2});
  std::vector<Config> out;
  for (int th : kTileSizes) {
    if (th > p.Ho && th != 1) continue;
    for (int tw : kTileSizes) {
      if (tw > p.Wo && tw != 1) continue;
      for (int threads : kThreads) {
        for (int variant : {kTiled4x4, kTiled2x2}) {
          for (int nsplit : kSplits) {
            for (int kchunk : kChunks) {
              const Config c{variant, th, tw, threads, nsplit, kchunk};
              const int chunk = TiledChunk(p, c);
              if (nsplit > 1 && (chunk < 8 || (nsplit - 1) * chunk >= p.N)) continue;
              if (SharedBytes(p, c) <= d.smem_per_block) out.push_back(c);
              if (kchunk >= max_k) break;  // a larger chunk stages the same rows
            }
          }
        }
        const Config s{kSplitK, th, tw, threads, 1, 32};
        if (SharedBytes(p, s) <= d.smem_per_block) out.push_back(s);
        if (d.cc_major >= 9 && threads >= 256) {
          // Weight staging (kchunk kClusterStaged) is reachable through TUCKER_ONNX_CONFIG only: on the H200 its
          // model picks ran slower than the unstaged kernel (results/NOTES.md, session 3), and it doubles the
          // autotuner's search.
          for (int cs : kClusters) {
            const Config k{kCluster, th, tw, threads, cs, 32};
            if (cs <= std::max({p.R1, p.R2, p.N}) && SharedBytes(p, k) <= d.smem_per_block) out.push_back(k);
          }
        }
      }
    }
  }
  AddGridCandidates(p, &out);
  AddStagedCandidates(p, d, &out);
  for (int nsplit : {2, 3}) {  // fp16, fp32
    AddWmmaCandidates(p, d, nsplit, &out);
    AddWmmaClusterCandidates(p, d, nsplit, &out);
  }
  return out;
}

// Reads a config cache: the JSON lines TUCKER_ONNX_CONFIG_LOG writes ({"key": "...", ..., "chosen": [6 ints], ...});
// a later line for a key replaces an earlier one; lines it cannot parse are skipped.
std::map<std::string, Config> ReadConfigCache(const std::string& path) {
  std::map<std::string, Config> cache;
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    const std::string kk = "\"key\": \"", kc = "\"chosen\": [";
    const size_t k0 = line.find(kk), c0 = line.find(kc);
    if (k0 == std::string::npos || c0 == std::string::npos) continue;
    const size_t k1 = line.find('"', k0 + kk.size());
    Config c{};
    if (k1 == std::string::npos ||
        std::sscanf(line.c_str() + c0 + kc.size(), "%d, %d, %d, %d, %d, %d", &c.variant, &c.th, &c.tw, &c.threads,
                    &c.nsplit, &c.kchunk) != 6)
      continue;
    cache[line.substr(k0 + kk.size(), k1 - k0 - kk.size())] = c;
  }
  return cache;
}

std::vector<Config> TensorCoreCandidates(const Problem& p, const Device& d, bool half) {
  // fp16: the weights read from global memory (nsplit 1); the staged-weight configs, the cluster split among them,
  // are model candidates (Candidates).
  std::vector<Config> out;
  if (half) AddWmmaCandidates(p, d, 1, &out);
  return out;
}

std::vector<Config> Shortlist(const Problem& p, const Device& d, size_t k, UsableFn usable, bool half) {
  std::vector<std::pair<double, Config>> ranked;
  for (const Config& c : Candidates(p, d)) ranked.emplace_back(PredictCycles(p, c, d), c);
  std::stable_sort(ranked.begin(), ranked.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<Config> out;
  for (const auto& [cost, c] : ranked) {
    if (out.size() >= k) break;
    if (std::isfinite(cost) && (usable == nullptr || usable(p, c, half))) out.push_back(c);
  }
  return out;
}

Config ChooseConfig(const Problem& p, const Device& d, UsableFn usable, bool half) {
  const std::vector<Config> best = Shortlist(p, d, 1, usable, half);
  return best.empty() ? Config{kTiled2x2, 1, 1, 128, 1, 32} : best.front();
}

double PredictMicros(const Problem& p, const Device& d, double sm_ghz) {
  constexpr double kMeasuredPerPredicted = 2.51;  // tools/fit_model.py logs, see the header
  // The fp32 kernels' pick: the scale was fitted on fp32 logs (the fp16-only configs left out; the same predicate as
  // tools/model_eval.cu's, which cannot call Launchable: that queries the CUDA runtime). The fp32 channels-last form
  // (nsplit 5, session 20) is among them: on its log its picks ran 2.31x their predicted cycles (median, 1.09-4.96);
  // so is the WMMA kernel's fp32 form (nsplit 3, session 21): 1.96x (1.65-2.11), so its picks read ~1.3x slow here.
  const UsableFn fp32 = [](const Problem&, const Config& c, bool) { return !Fp16Only(c); };
  return PredictCycles(p, ChooseConfig(p, d, fp32), d) / (sm_ghz * 1e3) * kMeasuredPerPredicted;
}

cudaError_t PrepareKernels(size_t max_smem) {
  cudaError_t e = PrepareSplitK(max_smem);
  if (e == cudaSuccess) e = PrepareTiled(max_smem);
  if (e == cudaSuccess) e = PrepareWmma(max_smem);
  if (e == cudaSuccess) e = PrepareStagedNhwc(max_smem);
  return e;
}

cudaError_t PrepareClusterKernels(size_t max_smem) {
  const cudaError_t e = PrepareCluster(max_smem);
  return e == cudaSuccess ? PrepareWmmaCluster(max_smem) : e;
}

bool Fp16Only(const Config& c) {
  return (c.variant == kWmma && !WmmaFp32(c)) || (c.variant == kStaged && StagedFp16Only(c));
}

bool Launchable(const Problem& p, const Config& c, bool half) {
  if (c.variant == kWmma) return WmmaLaunchable(half, p, c);
  if (c.variant == kGrid) return GridLaunchable(half, p, c);
  if (c.variant == kStaged)
    return StagedConfigValid(c) && (half || !StagedFp16Only(c)) && (!half || !StagedFp32Only(c)) &&
           (!StagedNhwc(c) || StagedNhwcFits(p));
  return c.variant != kCluster || ClusterLaunchable(half, p, c);
}

cudaError_t LaunchTuckerConv(bool half, const void* x, const void* w_in, const void* w_core, const void* w_out,
                             const void* bias, const void* z, void* y, const Problem& p, const Config& c,
                             cudaStream_t stream, void* scratch, bool pdl) {
  if (c.variant == kGrid) return LaunchGrid(half, x, w_in, w_core, w_out, bias, z, y, p, c, scratch, stream, pdl);
  if (c.variant == kStaged) return LaunchStaged(half, x, w_in, w_core, w_out, bias, z, y, p, c, scratch, stream, pdl);
  if (c.variant == kCluster) return LaunchCluster(half, x, w_in, w_core, w_out, bias, z, y, p, c, stream);
  if (c.variant == kWmma) return LaunchWmma(half, x, w_in, w_core, w_out, bias, z, y, p, c, stream, pdl);
  if (c.variant == kSplitK) return LaunchSplitK(half, x, w_in, w_core, w_out, bias, z, y, p, c, stream);
  return LaunchTiled(half, x, w_in, w_core, w_out, bias, z, y, p, c, stream, pdl);
}

}  // namespace tucker_cuda
