// Launcher for the fused TuckerConv CUDA kernel: raw device pointers, sizes and a stream only.
#pragma once
#include <cstdint>
#include <cuda_runtime.h>

#include <vector>

namespace tucker_cuda {

struct Problem {
  int batch, C, H, W, R1, R2, kh, kw, N, Ho, Wo;
  int sh, sw, pt, pl, dh, dw;
  bool relu;
};

// Execution parameters picked by the performance model (or the autotuner).
struct Config {
  int th, tw;     // output tile (rows x cols) per block
  int threads;    // threads per block
};

// Shared memory bytes a config needs (fp32 staging for every dtype).
size_t SharedBytes(const Problem& p, const Config& c);

// Analytical model: estimated time (arbitrary units) of a config on a device.
double PredictCost(const Problem& p, const Config& c, int sm_count, size_t smem_per_sm, size_t smem_per_block);

// Every config the model and the autotuner consider (tile sizes x block sizes whose shared memory fits).
std::vector<Config> Candidates(const Problem& p, size_t smem_per_block);

// Picks a config by the analytical model; every candidate it considers is returned in *all if non-null.
Config ChooseConfig(const Problem& p, int sm_count, size_t smem_per_sm, size_t smem_per_block);

// Raises the kernels' dynamic shared-memory limit to max_smem; call once before the first launch.
cudaError_t PrepareKernels(size_t max_smem);

// T is float or __half (passed as void* to keep this header free of cuda_fp16.h).
cudaError_t LaunchTuckerConv(bool half, const void* x, const void* w_in, const void* w_core, const void* w_out,
                             const void* bias, const void* z, void* y, const Problem& p, const Config& c,
                             cudaStream_t stream);

}  // namespace tucker_cuda
