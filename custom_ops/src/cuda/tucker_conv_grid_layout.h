// Config checks, grid size and scratch layout of the grid TuckerConv kernel (variant 5), shared by its launcher, the
// host-side model and the CPU emulator's driver (custom_ops/emu), so all three size the grid the same way.
#pragma once
#include <cstddef>
#include <cstdlib>
#include <numeric>

#include "tucker_conv_impl.cuh"
#include "tucker_conv_tiled_layout.h"  // TUCKER_HD

namespace tucker_cuda {

// kchunk of a grid config: a block takes runs of threads / 32 / tw tasks (kGridRuns, what the model and the
// tuners use), or spreads each stage's tasks over every block (kGridSpread; forced configs and tools/grid_probe.cu
// only until it has been timed on a GPU).
constexpr int kGridRuns = 32, kGridSpread = 64;

// th = output rows per task (1, 2, 4), tw = warps sharing a task's reduction (dividing threads / 32), nsplit =
// blocks per SM (1-4), kchunk kGridRuns or kGridSpread.
inline bool GridConfigValid(const Config& c) {
  return c.variant == kGrid && (c.th == 1 || c.th == 2 || c.th == 4) && c.threads >= 32 && c.threads <= 512 &&
         c.threads % 32 == 0 && c.tw >= 1 && (c.threads / 32) % c.tw == 0 && c.nsplit >= 1 && c.nsplit <= 4 &&
         (c.kchunk == kGridRuns || c.kchunk == kGridSpread);
}

// Blocks launched: nsplit per SM, but no more than the largest stage has task slots for.
inline int GridBlocks(const Problem& p, const Config& c, int sm_count) {
  const long slots = c.threads / 32 / c.tw;
  const auto tasks = [&](int M, long P) { return static_cast<long>((M + c.th - 1) / c.th) * ((P + 31) / 32); };
  long most = tasks(p.R1, static_cast<long>(p.batch) * p.H * p.W);
  const long t2 = tasks(p.R2, static_cast<long>(p.batch) * p.Ho * p.Wo), t3 = tasks(p.N, static_cast<long>(p.batch) * p.Ho * p.Wo);
  if (t2 > most) most = t2;
  if (t3 > most) most = t3;
  long blocks = static_cast<long>(sm_count) * c.nsplit;
  if ((most + slots - 1) / slots < blocks) blocks = (most + slots - 1) / slots;
  return blocks < 1 ? 1 : static_cast<int>(blocks);
}

// R1 steps of a 3x3 core whose t1 loads the kernel issues before their FMAs (a build-time knob that
// tools/grid_probe.cu compares; 2 is what the unrolled loop of session 5 did).
#ifndef TUCKER_GRID_R1_GROUP
#define TUCKER_GRID_R1_GROUP 4
#endif
constexpr int kGridR1Group = TUCKER_GRID_R1_GROUP;

// Whether the kernel reads weights four at a time where rows are quad-aligned (1, the default) or one at a time (0,
// for tools/grid_probe.cu's side-by-side timing).
#ifndef TUCKER_GRID_VEC
#define TUCKER_GRID_VEC 1
#endif
constexpr bool kGridVec = TUCKER_GRID_VEC != 0;

// How stages 2 and 3 read t1 and t2, which other blocks wrote earlier in the same launch: through L1 (1, the
// default) or L2 only (0, session 6's __ldcg). L1 is safe here: no block touches a scratch line before the grid
// barrier after the stage that writes it (t1 and t2 start on separate 256-byte lines, stages 1 and 2 read only x
// and t1), and L1 holds no global lines from an earlier launch. It pays because a 3x3 core reads each t1 value 9 x
// (R2 / rows per task) times, which L2-only loads sent to L2 every time.
#ifndef TUCKER_GRID_L1
#define TUCKER_GRID_L1 1
#endif
constexpr bool kGridL1 = TUCKER_GRID_L1 != 0;

// Whether stage 3 waits on per-column-group counters that stage 2 raises (1) instead of a second grid barrier (0,
// the default until tools/grid_probe.cu has timed both on a GPU). A stage-3 task of column group j (32 columns of
// batch x Ho x Wo) starts once all ceil(R2 / rows) stage-2 tasks of j have stored their t2 rows: no SM idles at a
// barrier behind a straggler of another column group. Stage 1 zeroes the counters (the first grid barrier
// publishes them); stage 3 then reads t2 from L2 only, since a 128-byte line can hold two groups' values.
#ifndef TUCKER_GRID_FLAGS
#define TUCKER_GRID_FLAGS 0
#endif
constexpr bool kGridFlags = TUCKER_GRID_FLAGS != 0;

// The reduction slice [k0, k1) of part `part` of S over a reduction of length K; slices start at multiples of
// `gran` (4 where the weights are read four at a time). The kernel's split of a task, and GridStageFloats' sizing.
TUCKER_HD void Slice(int K, int S, int part, int* k0, int* k1, int gran = 1) {
  const int kc = ((K + S - 1) / S + gran - 1) / gran * gran;
  *k0 = part * kc < K ? part * kc : K;
  *k1 = *k0 + kc < K ? *k0 + kc : K;
}

// Blocks whose stage marks a TUCKER_GRID_TIMES build records (tools/grid_probe.cu).
constexpr int kGridTimesBlocks = 1024, kGridMarks = 15;

// The fp32 3x3 core stage can stage a task's inputs in shared memory, per warp: its R1 slice of t1 over the input
// rows that the task's 32 columns read, then its MB rows x slice core weights, each R1 step's 9 taps padded to 12
// floats so that they are read 16 bytes at a time; every copy is in flight at once (tucker_conv_grid_kernel.cuh).
// The cap per warp, in floats: 1152 holds ResNet-18's layer-4 task (R1 192 over 16 warps at 7x7: 12 x 42 +
// 4 x 12 x 12 = 1080). TUCKER_GRID_STAGE=0 turns it off (tools/grid_probe.cu's side-by-side timing).
#ifndef TUCKER_GRID_STAGE
#define TUCKER_GRID_STAGE 1
#endif
constexpr int kGridStageWarpFloats = TUCKER_GRID_STAGE ? 1152 : 0, kGridTapsPad = 12;

// A stage-2 task's staging plan: the input rows [ih0, ih0 + win / W) read by columns q0..q0+31 (of P; one image
// only), where its weights start (`wofs` floats in, 16-byte aligned) and the floats it needs. need 0: not staged
// (columns of two images, or a slice of one R1 group, where one round trip is all a load costs anyway: measured).
struct GridCoreStage {
  int ih0, win, wofs, need;
};
TUCKER_HD GridCoreStage PlanGridCoreStage(const Problem& p, int q0, int P, int slice, int mb) {
  GridCoreStage cs{0, 0, 0, 0};
  const int ohw = p.Ho * p.Wo, q1 = (q0 + 31 < P ? q0 + 31 : P - 1), n0 = q0 / ohw;
  if (slice < 2 * kGridR1Group || q1 / ohw != n0) return cs;
  const int oh0 = (q0 - n0 * ohw) / p.Wo, oh1 = (q1 - n0 * ohw) / p.Wo;
  const int lo = oh0 * p.sh - p.pt, hi = oh1 * p.sh - p.pt + (p.kh - 1) * p.dh;
  cs.ih0 = lo > 0 ? lo : 0;
  const int ih1 = hi < p.H - 1 ? hi : p.H - 1;
  cs.win = (ih1 >= cs.ih0 ? ih1 - cs.ih0 + 1 : 0) * p.W;
  cs.wofs = (slice * cs.win + 3) / 4 * 4;
  cs.need = cs.wofs + mb * slice * kGridTapsPad;
  return cs;
}

// Floats per warp of the staging buffer that a launch of p with config c gets: the largest need of any of its
// stage-2 tasks if every task fits kGridStageWarpFloats, else 0 (no buffer: shared memory taken from L1 for
// nothing slowed the 28x28 shapes 6-9%). fp32 3x3 cores with t1 read through L1 and whole R1 groups only.
// TUCKER_ONNX_GRID_STAGE=0 turns it off at run time (an A/B of one library in tools/bench_*.py).
inline int GridStageFloats(bool half, const Problem& p, const Config& c) {
  if (half || p.kh != 3 || p.kw != 3 || !kGridL1 || !kGridVec || p.R1 % kGridR1Group != 0 || kGridStageWarpFloats == 0)
    return 0;
  const char* off = std::getenv("TUCKER_ONNX_GRID_STAGE");
  if (off != nullptr && off[0] == '0' && off[1] == 0) return 0;
  int r0, r1;
  Slice(p.R1, c.tw, 0, &r0, &r1, kGridR1Group);  // the first part's slice is the longest
  const int slice = r1 - r0;
  // Column groups start at q0 mod ohw that repeat every lcm(32, ohw) columns; a later image's last group is a
  // subset of a full group with the same start, so one period covers every need.
  const int ohw = p.Ho * p.Wo, P = p.batch * ohw, period = 32 / std::gcd(32, ohw) * ohw;
  int most = 0;
  for (int q0 = 0; q0 < P && q0 < period; q0 += 32) {
    const int need = PlanGridCoreStage(p, q0, P, slice, c.th).need;
    if (need > kGridStageWarpFloats) return 0;
    if (need > most) most = need;
  }
  return most;
}
// The block's dynamic shared memory for `floats` per warp (GridStageFloats).
inline size_t GridStageBytes(int floats, const Config& c) {
  return sizeof(float) * static_cast<size_t>(floats) * (c.threads / 32);
}

// A block's static shared memory: the partial sums of up to 16 warps x 4 rows x 32 lanes.
constexpr int kGridRedFloats = 16 * 4 * 32;

// Whether p's core is the 3x3 the kernel has an unrolled instantiation for (the launcher's and emulator's choice).
inline bool GridCore3x3(const Problem& p) { return p.kh == 3 && p.kw == 3; }

// Floats of t1 and of t2 in the fp32 scratch buffer, each rounded up to 256 bytes (t2 starts after t1, the
// counters of kGridFlags after t2), and the 4-byte words of the counters.
inline size_t GridT1Floats(const Problem& p) { return (static_cast<size_t>(p.batch) * p.R1 * p.H * p.W + 63) / 64 * 64; }
inline size_t GridT2Floats(const Problem& p) { return (static_cast<size_t>(p.batch) * p.R2 * p.Ho * p.Wo + 63) / 64 * 64; }
inline size_t GridFlagWords(const Problem& p) {
  return kGridFlags ? (static_cast<size_t>(p.batch) * p.Ho * p.Wo + 31) / 32 : 0;
}
inline size_t GridScratchWords(const Problem& p) { return GridT1Floats(p) + GridT2Floats(p) + GridFlagWords(p); }

// The scratch buffer's parts (GridScratchWords words from `base`), as the launcher and the emulator hand them to
// the kernel: one place for the layout.
struct GridScratch {
  float* t1;
  float* t2;
  int* flags;
};
inline GridScratch SplitGridScratch(const Problem& p, float* base) {
  float* t2 = base + GridT1Floats(p);
  return {base, t2, reinterpret_cast<int*>(t2 + GridT2Floats(p))};
}

}  // namespace tucker_cuda
