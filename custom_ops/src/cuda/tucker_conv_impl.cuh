// Host API of the fused TuckerConv CUDA kernels: raw device pointers, sizes and a stream only.
#pragma once
#include <cuda_runtime.h>

#include <cstddef>
#include <vector>

namespace tucker_cuda {

struct Problem {
  int batch, C, H, W, R1, R2, kh, kw, N, Ho, Wo;
  int sh, sw, pt, pl, dh, dw;
  bool relu;
};

// Kernel variants: register-tiled block GEMMs (4x4 or 2x2 outputs per thread), v2's split-K kernel, v4's
// cluster kernel (a tile's work spread over a thread-block cluster, Hopper and later), or the tensor-core
// (WMMA) kernel for fp16 (forced-only until measured; 256 threads, channels and ranks multiples of 16).
enum Variant { kTiled4x4 = 0, kTiled2x2 = 1, kSplitK = 2, kCluster = 3, kWmma = 4 };

// Execution parameters picked by the performance model (or the autotuner).
struct Config {
  int variant;    // Variant
  int th, tw;     // output tile (rows x cols) per block
  int threads;    // threads per block
  int nsplit;     // blocks that share one tile's output channels (tiled: grid split; cluster: cluster size; 1 for split-K)
  int kchunk;     // reduction rows staged per step (tiled variants, a multiple of 32; 32 for split-K; cluster:
                  // 64 stages the block's weight slices in shared memory, 32 reads them from global memory)
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

// Constants of the analytical model, in cycles: fitted (tools/fit_model.py) to exhaustive-autotune logs of an
// H200 (results/h200_2026-11-28_s2/autotune), so they are effective values that also absorb what the model does
// not spell out (e.g. tiled_mem is far above an L2 latency: it carries the per-chunk serialisation measured).
struct ModelParams {
  double tiled_mem1 = 1800;     // per stage-1 chunk: X loads from DRAM
  double tiled_mem = 15360;     // per weight chunk of stages 2 and 3
  double tiled_sync = 320;      // the two barriers of a chunk
  double tiled_fill = 8;        // instructions per staged weight element (index math, load, convert, store)
  double tiled_launch = 4000;   // launch and tail of a kernel
  double splitk_step1 = 25;     // one reduction step of split-K stage 1 (global X and weight loads)
  double splitk_step2 = 37.5;   // ... of stage 2 per core tap (shared t1, global weights)
  double splitk_step3 = 600;    // ... of stage 3
  double splitk_atomic = 75;    // cycles per colliding shared atomic when the S partial sums of an output meet
  double splitk_instr = 48;     // instructions a warp issues per reduction step
  double splitk_launch = 8000;  // launch and tail of a kernel
  // Session 3 refit (2 rounds) on the logs above plus the session-3 H200 logs with cluster candidates
  // (results/h200_2026-11-28_s3/autotune): splitk_step1, splitk_launch, cluster_cpi and cluster_mem moved; the
  // other cluster constants are first-principles values. cluster_cpi = 20 says the reduction chains wait on
  // global (L2) weight loads, not on issue. In-sample gap 23.7%; leave-one-shape-out 78% (results/NOTES.md).
  double cluster_cpi = 20.0;     // cycles per instruction of one thread's reduction chain (global weight loads)
  double cluster_cpi_staged = 1.0;  // ... when the block's weights are staged in shared memory
  double cluster_mem = 250;      // first global loads of a stage (weights, X)
  double cluster_sync = 400;     // one cluster barrier
  double cluster_gather = 24;    // per float4 a thread copies from another block's shared memory
  double cluster_launch = 4000;  // launch and tail of a kernel
};

// Analytical model: estimated cycles of a config on a device (INFINITY when it cannot run).
double PredictCycles(const Problem& p, const Config& c, const Device& d);
double PredictCycles(const Problem& p, const Config& c, const Device& d, const ModelParams& m);

// Every config the autotuner measures (the model's search space plus the split-K kernel's).
std::vector<Config> Candidates(const Problem& p, const Device& d);

// The k configs the analytical model predicts cheapest, cheapest first; `usable` (optional) vetoes configs the
// device cannot launch (a cluster too large for the GPU's partitions at that shared-memory size). The quick tuner
// (TUCKER_ONNX_TUNE=top<k>) measures these: the model ranks well but picks poorly out of sample.
using UsableFn = bool (*)(const Problem&, const Config&, bool);
std::vector<Config> Shortlist(const Problem& p, const Device& d, size_t k, UsableFn usable = nullptr, bool half = false);

// The model's pick: the head of the shortlist (a safe tiled config when nothing fits).
Config ChooseConfig(const Problem& p, const Device& d, UsableFn usable = nullptr, bool half = false);

// Predicted time (us) of the model's own pick: its cycles at the SM clock, scaled by the median measured/predicted
// ratio of the picks in the fitted logs (2.09; per shape 1.07-4.06, so expect 0.5-2x of the truth).
double PredictMicros(const Problem& p, const Device& d, double sm_ghz);

// Raises the kernels' dynamic shared-memory limit to max_smem; call once before the first launch
// (PrepareClusterKernels too on devices of compute capability 9 or later).
cudaError_t PrepareKernels(size_t max_smem);
cudaError_t PrepareClusterKernels(size_t max_smem);

// Whether the device can run config c for p (cluster configs: one cluster must fit the GPU's partitions).
bool Launchable(const Problem& p, const Config& c, bool half);

// Launches one config; half selects __half tensors (void* keeps this header free of cuda_fp16.h).
cudaError_t LaunchTuckerConv(bool half, const void* x, const void* w_in, const void* w_core, const void* w_out,
                             const void* bias, const void* z, void* y, const Problem& p, const Config& c,
                             cudaStream_t stream);

}  // namespace tucker_cuda
