// Host API of the fused TuckerConv CUDA kernels: raw device pointers, sizes and a stream only.
#pragma once
#include <cuda_runtime.h>

#include <cstddef>
#include <map>
#include <string>
#include <vector>

namespace tucker_cuda {

struct Problem {
  int batch, C, H, W, R1, R2, kh, kw, N, Ho, Wo;
  int sh, sw, pt, pl, dh, dw;
  bool relu;
  // fp32 models only: the tensor-core forms (WMMA nsplit 3, channels-last staged nsplit 5) run one TF32 product per
  // step (inputs rounded to TF32, ~1e-3 relative, as cuDNN's TF32 convolutions) instead of 3xTF32's fp32 accuracy.
  // Opt-in (TUCKER_ONNX_TF32=1), for comparisons against cuDNN with TF32 on (ORT's default use_tf32 = 1).
  bool tf32 = false;
};

// Kernel variants: register-tiled block GEMMs (4x4 or 2x2 outputs per thread), v2's split-K kernel, v4's
// cluster kernel (a tile's work spread over a thread-block cluster, Hopper and later), or the tensor-core
// (WMMA) kernel (fp16, or fp32 as 3xTF32; 256 threads, channels and ranks multiples of 16), or the grid-wide kernel (each stage
// over every SM, grid barriers between stages, t1/t2 in a scratch buffer from ORT's arena), or the staged kernel
// (one register-tiled implicit-GEMM launch per stage, t1/t2 in arena scratch: for large maps and batches).
enum Variant { kTiled4x4 = 0, kTiled2x2 = 1, kSplitK = 2, kCluster = 3, kWmma = 4, kGrid = 5, kStaged = 6 };

// Execution parameters picked by the performance model (or the autotuner).
struct Config {
  int variant;    // Variant
  int th, tw;     // output tile (rows x cols) per block (grid: output rows per task, warps per task)
  int threads;    // threads per block
  int nsplit;     // blocks that share one tile's output channels (tiled: grid split; cluster: cluster size; 1 for split-K;
                  // grid: blocks per SM)
  int kchunk;     // reduction rows staged per step (tiled variants, a multiple of 32; 32 for split-K; cluster:
                  // 64 stages the block's weight slices in shared memory, 32 reads them from global memory; WMMA:
                  // 32 x the cluster split's blocks per tile, 32 = no split; staged: 32 x the K split)
};

// Shared memory bytes a config needs (fp32 staging for every dtype); SIZE_MAX when the config is invalid.
size_t SharedBytes(const Problem& p, const Config& c);

struct Device {
  int sm_count;
  size_t smem_per_sm, smem_per_block;
  int cc_major;  // compute capability: clusters need 9 (Hopper) or later
};

// An H100/H200 (SXM): what the model assumes when no GPU answers (host-side predictions, tools).
constexpr Device kHopperDevice{132, 233472, 232448, 9};

// Constants of the analytical model, in cycles: fitted (tools/fit_model.py) to the exhaustive-autotune logs of an
// H200, so they are effective values that also absorb what the model does not spell out (tiled_launch, ~16 us at
// 1.98 GHz, carries the per-layer floor of the tile kernels). Session 4 fitted them from the hand-set values on the
// session-2/3 logs (20 shapes), minimising the log misfit of every config within 3x of each shape's best. Session 5
// refitted all of them from there (2 rounds, --from-committed) on 32 shapes: those logs, session 5's exhaustive logs
// of batch 1 at 56x56/112x112 and batch 32 at 7x7/14x14, and every grid-kernel config timed on the 18 TDC shapes
// (--merge). Session 6 refitted them again (2 rounds, --from-committed) after the grid kernel's 3x3 core began
// issuing 4 R1 steps of loads at once, with every grid config timed again on the 18 TDC shapes merged in: in sample
// the pick is 25.0% slower than the measured best on average (median 9.0%), the best of the 16 cheapest
// (TUCKER_ONNX_TUNE=top16) 4.5% (results/h200_2026-11-28_s6/model_fit.txt; session 5's constants on the same data:
// 33.3% and 5.1%). Leave one shape out (from the hand-set values, 2 rounds): 31.5% and 3.5%
// (results/h200_2026-11-28_s6/model_cv_2rounds.txt). Session 7 refitted cluster_cpi alone on the pick gap
// (--only cluster_ --objective gap): the cluster kernel had been the pick on medium maps where the grid kernel
// ran 1.5-1.7x faster; in sample 12.1% (median 1.5%), top16 1.2%; each shape held out (the other constants
// still the committed ones, so partly in sample) the same (results/h200_2026-11-28_s7/model_fit_cluster*.txt).
struct ModelParams {
  double tiled_mem1 = 56.25;    // per stage-1 chunk: X loads from DRAM
  double tiled_mem = 117.188;   // per weight chunk of stages 2 and 3
  double tiled_sync = 100;      // the two barriers of a chunk
  double tiled_fill = 31.25;       // instructions per staged weight element (index math, load, convert, store)
  double tiled_launch = 31250;  // launch and tail of a kernel
  double splitk_step1 = 25;     // one reduction step of split-K stage 1 (global X and weight loads)
  double splitk_step2 = 75;  // ... of stage 2 per core tap (shared t1, global weights)
  double splitk_step3 = 75;     // ... of stage 3
  double splitk_atomic = 29.2969;  // cycles per colliding shared atomic when the S partial sums of an output meet
  double splitk_instr = 15;     // instructions a warp issues per reduction step
  double splitk_launch = 24414.1;  // launch and tail of a kernel
  double cluster_cpi = 15.625;  // cycles per instruction of one thread's reduction chain (global weight loads)
  double cluster_cpi_staged = 1;  // ... when the block's weights are staged in shared memory (not fitted)
  double cluster_mem = 3906.25;    // first global loads of a stage (weights, X)
  double cluster_sync = 5000;   // one cluster barrier
  double cluster_gather = 24;   // per float4 a thread copies from another block's shared memory
  double cluster_launch = 4000;  // launch and tail of a kernel
  // The grid kernel (variant 5).
  double grid_launch = 11718.8;    // cooperative launch and tail (~7.4 us)
  double grid_sync = 3125;      // one grid barrier (~1.6 us)
  double grid_mem = 375;       // first loads of a stage's round (L2, DRAM)
  double grid_step = 62.5;        // one exposed step of a reduction chain
  double grid_reduce = 37.5;    // the block barriers and shared-memory sum of a round when S warps share a task
  // The staged kernel (variant 6): session 8 fitted these three alone on the pick gap (--only staged_ --objective
  // gap --rounds 2), with every staged config timed on the 18 TDC shapes at batch 1 and 32 merged in
  // (results/h200_2026-11-28_s8/model_fit_staged.txt); session 9 refitted staged_cpi and staged_launch the same way
  // once the model costed the core stage's K split, its timings merged (results/h200_2026-11-29_s9/
  // model_fit_ksplit.txt): in sample the pick is 10.8% slower than the measured best (7.7% before the split's faster
  // configs were in the logs); the picks' times fell 3.8% (geometric mean).
  // staged_bw came out large: the DRAM term never binds on these shapes (the stages are FMA-bound).
  double staged_cpi = 0.585938;  // issue cycles per ideal cycle of a GEMM step (in the model's scaled units)
  double staged_launch = 7500;   // launch and tail of one stage
  double staged_bw = 16000;      // DRAM bytes per cycle (in the model's scaled units)
  // The staged kernel's tensor-core families (fp16): their issue scale, bytes per cycle and per-step latency floors.
  // Session 9 fitted the first three on the channels-first family's fp16 timings (8.8% pick gap in sample); session
  // 11 refitted all four jointly (fit_model.py --separate --only staged_mma,staged_nhwc --objective gap) on that log
  // and on every staged config timed with the channels-last family's final form (cp.async ring, packed core weights,
  // block-wide channels-last epilogue; results/h200_2026-11-29_s11/model_fit_cp_async.txt, then model_fit_final.txt):
  // 7.4% over the 72 shapes of both logs, in sample. A fit on one family's log alone can make the other family look so
  // slow that, where the channels-last one cannot run (ranks not multiples of 8), the model picks FFMA configs 2x
  // slower (session 10: 109% on the session-9 log).
  double staged_mma_cpi = 0.6;
  double staged_mma_bw = 2500;
  double staged_mma_lat = 50;  // one step's global-load latency and barrier, per block round (scaled units)
  // The channels-last family's per-step latency floor: its cp.async ring keeps two steps of loads in flight
  // (session 11), so it can expose less of a step's load latency than the channels-first family's one-step prefetch.
  double staged_nhwc_lat = 50;
  // The WMMA kernel with its weights in shared memory (variant 4, nsplit 2; fp16): one block per output tile runs
  // the three stages as a latency chain (session 13's per-phase clocks: the block's loads, barriers and index set-up
  // are most of it at batch 1). Hand-set from session 13's timings, then fitted (results/NOTES.md, session 13).
  // Session 16 refitted wmma_launch alone (2300 -> 575; fit_model.py SPLIT_LOG --merge the session-16 call-4 WMMA log
  // --only wmma_ --objective gap --from-committed: mean pick gap 3.9% -> 2.8% over 36 shapes, in sample; the other
  // wmma_ constants stayed). It was the one change: 96:96->64:192@7 at batch 1 now picks WMMA 2x4 (11.1 us) over the
  // grid kernel (15.0 us). results/h200_2026-11-30_s16/model_fit_wmma.txt.
  double wmma_launch = 575;   // launch and tail
  double wmma_mem = 7000;     // a block's fixed chain: first loads, tables, the stages' barriers and stores
  double wmma_step = 120;     // one 16x16x16 step of a warp's serial mma chain
  double wmma_fill = 80;      // per element (group) a thread stages: X's window, 16-byte weight groups, im2col segments
  double wmma_sync = 700;     // per im2col chunk (WmmaChunkR1 r1 rows): its build and barriers
  double wmma_share = 0.3;    // a chain's slow-down per other block on its SM
  // The fp32 form (nsplit 3, session 21): one 16-row step's cost over fp16's (two TF32 steps of three products, the
  // operands' splits and the partial sums' adds). Hand-set from the staged family's 3xTF32 form (its product issue
  // 2x fp16's plus the splits, session 20), pending a fit on a log of the WMMA fp32 configs.
  double wmma_tf32x3 = 3.0;
  // Session 14: with programmatic dependent launch (Hopper, constant weights: the op's default) a layer's launch and
  // its blocks' set-up overlap the previous kernel; the one-launch WMMA kernel gained ~2 us per layer in a stack, the
  // three-launch staged and the grid kernels ~0.3-0.5 us. Credited to the WMMA kernel alone (at most half its chain),
  // in one wave, on Hopper; hand-set on session 14's log of every WMMA config with PDL on (fit_model.WMMA_LOG, merged into the
  // K-split log): 0 -> 5000 picks it on 10 instead of 8 of the 11 batch-1 shapes where it was fastest, pick gap 3.1%.
  double wmma_pdl = 5000;
  // The TF32 mode (Problem::tf32, session 22): a WMMA fp32 step of two single TF32 products and the operands'
  // rounding, in fp16 steps; the channels-last fp32 form's product and rounding issue as a fraction of 3xTF32's
  // products and split. Hand-set at a third of 3xTF32's (1.67, 0.333), then scanned on session 22's TF32 logs
  // (fit_model.py TF32_LOGS, 36 shapes): wmma_tf32 1-1.67 is a plateau, staged_tf32 0.15-0.25 gives a mean pick gap
  // of 2.9% (batch 1 1.6%, batch 32 4.2%; 0.333: 3.4%, 1.0: 3.3%). On the GPU (session 22, call 5) the picks ran 1.9%
  // (batch 1) and 5.6% (batch 32; 6.8% at 0.333) slower than the logs' best: where a stage's latency floor binds, BM
  // 64 x BN 128 and BM 128 x BN 64 tie, and the op keeps the first candidate (128->96@14: +19%), the log the other.
  double wmma_tf32 = 1.67;
  double staged_tf32 = 0.25;
};

// Analytical model: estimated cycles of a config on a device (INFINITY when it cannot run).
double PredictCycles(const Problem& p, const Config& c, const Device& d);
double PredictCycles(const Problem& p, const Config& c, const Device& d, const ModelParams& m);

// Every config the autotuner measures (the model's search space plus the split-K kernel's).
std::vector<Config> Candidates(const Problem& p, const Device& d);

// Parses a config cache file (the lines TUCKER_ONNX_CONFIG_LOG writes): shape key -> chosen config.
std::map<std::string, Config> ReadConfigCache(const std::string& path);

// The tensor-core (WMMA) configs the model has no cost term for, so never its own pick, that fit p: fp16 with
// weights read from global memory (the autotuners time them). Empty for fp32, or unless C, R1, R2 and N are multiples
// of 16. (The cluster split was here until session 34; it is a model candidate now.)
std::vector<Config> TensorCoreCandidates(const Problem& p, const Device& d, bool half = true);

// The k configs the analytical model predicts cheapest, cheapest first; `usable` (optional) vetoes configs the
// device cannot launch (a cluster too large for the GPU's partitions at that shared-memory size). The quick tuner
// (TUCKER_ONNX_TUNE=top<k>) measures these: the model ranks well but picks poorly out of sample.
using UsableFn = bool (*)(const Problem&, const Config&, bool);
std::vector<Config> Shortlist(const Problem& p, const Device& d, size_t k, UsableFn usable = nullptr, bool half = false);

// The model's pick: the head of the shortlist (a safe tiled config when nothing fits).
Config ChooseConfig(const Problem& p, const Device& d, UsableFn usable = nullptr, bool half = false);

// Predicted time (us) of the model's own pick: its cycles at the SM clock, scaled by the median measured/predicted
// ratio of the picks in the fitted logs (2.51; per shape 1.23-5.62, so expect 0.5-2.2x of the truth).
double PredictMicros(const Problem& p, const Device& d, double sm_ghz);

// Raises the kernels' dynamic shared-memory limit to max_smem; call once before the first launch
// (PrepareClusterKernels too on devices of compute capability 9 or later).
cudaError_t PrepareKernels(size_t max_smem);
cudaError_t PrepareClusterKernels(size_t max_smem);

// Whether the device can run config c for p (cluster configs: one cluster must fit the GPU's partitions).
bool Launchable(const Problem& p, const Config& c, bool half);
// Whether c runs fp16 models only (the tensor-core kernels): the fp32 picks of the host-side tools leave them out.
bool Fp16Only(const Config& c);

// Device scratch bytes a config needs (t1 and t2 of the grid and staged kernels; 0 for every other variant).
// GridScratchBytes is what any grid config of p needs, so a tuner can take it once before timing.
size_t GridScratchBytes(const Problem& p);
size_t ScratchBytes(const Problem& p, const Config& c);

// Launches one config; half selects __half tensors (void* keeps this header free of cuda_fp16.h); scratch holds
// ScratchBytes(p, c) bytes of device memory (nullptr when that is 0). pdl: launch with programmatic dependent launch
// (Hopper and later; tucker_conv_device.cuh says what it asks of the kernels), so that the kernel's launch and
// set-up overlap the stream's previous kernel; only when w_in, w_core, w_out and bias are not written by earlier
// work on the stream (constant initializers). The split-K and cluster kernels launch without it.
cudaError_t LaunchTuckerConv(bool half, const void* x, const void* w_in, const void* w_core, const void* w_out,
                             const void* bias, const void* z, void* y, const Problem& p, const Config& c,
                             cudaStream_t stream, void* scratch = nullptr, bool pdl = false);

}  // namespace tucker_cuda
