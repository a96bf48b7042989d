// Per-kernel entry points behind the dispatch in tucker_conv_model.cc.
#pragma once
#include "tucker_conv_grid_layout.h"
#include "tucker_conv_impl.cuh"

namespace tucker_cuda {

// Input window (rows, cols) a th x tw output tile reads through the core conv.
inline int WindowRows(const Problem& p, int th) { return (th - 1) * p.sh + (p.kh - 1) * p.dh + 1; }
inline int WindowCols(const Problem& p, int tw) { return (tw - 1) * p.sw + (p.kw - 1) * p.dw + 1; }

size_t SplitKSharedBytes(const Problem& p, const Config& c);
cudaError_t PrepareSplitK(size_t max_smem);
cudaError_t LaunchSplitK(bool half, const void* x, const void* w_in, const void* w_core, const void* w_out,
                         const void* bias, const void* z, void* y, const Problem& p, const Config& c,
                         cudaStream_t stream);

int TiledChunk(const Problem& p, const Config& c);  // output channels per block
size_t TiledSharedBytes(const Problem& p, const Config& c);
cudaError_t PrepareTiled(size_t max_smem);
cudaError_t LaunchTiled(bool half, const void* x, const void* w_in, const void* w_core, const void* w_out,
                        const void* bias, const void* z, void* y, const Problem& p, const Config& c,
                        cudaStream_t stream, bool pdl);

constexpr int kMaxCluster = 16;  // non-portable cluster size limit on Hopper
size_t ClusterSharedBytes(const Problem& p, const Config& c);
// Work of one block-level GEMM stage of the cluster kernel, as the kernel splits it (for the model).
struct ClusterStage {
  int active_threads, k_per_thread, ksplit;
};
ClusterStage ClusterStageWork(int M, int P, int K, int threads);
cudaError_t PrepareCluster(size_t max_smem);
// Whether the GPU can co-schedule one cluster of this config (cudaOccupancyMaxActiveClusters > 0).
bool ClusterLaunchable(bool half, const Problem& p, const Config& c);
cudaError_t LaunchCluster(bool half, const void* x, const void* w_in, const void* w_core, const void* w_out,
                          const void* bias, const void* z, void* y, const Problem& p, const Config& c,
                          cudaStream_t stream);

size_t WmmaSharedBytes(const Problem& p, const Config& c);  // SIZE_MAX unless C, R1, R2, N are multiples of 16
// cs of the WMMA kernel's cluster split (kchunk / 32; 1: none; 0: invalid).
inline int WmmaClusterSize(const Config& c) { return c.kchunk >= 32 && c.kchunk % 32 == 0 ? c.kchunk / 32 : 0; }
// nsplit 3: the fp32 (3xTF32) form, staged weights; nsplit 1 and 2 are fp16.
inline bool WmmaFp32(const Config& c) { return c.nsplit == 3; }
// The fp32 form splits a stage's reduction over its idle warps from this many 16-row steps (kernel and model).
constexpr int kWmmaSplitSteps = 16;
// r1 rows per im2col chunk of this WMMA config (its shared-memory layout's choice, tucker_conv_wmma_kernel.cuh).
int WmmaChunkRows(const Problem& p, const Config& c);
// Rows of an M-row stage that one rank of a cs-block cluster split owns at most (WmmaSliceMax, the kernel's layout).
int WmmaSliceRows(int M, int cs);
cudaError_t PrepareWmma(size_t max_smem);
cudaError_t PrepareWmmaCluster(size_t max_smem);  // Hopper and later
// Its type matches the config (fp16: nsplit 1, 2; fp32: nsplit 3 on sm_80+), fits, and (cluster split) the GPU can
// co-schedule one cluster of it.
bool WmmaLaunchable(bool half, const Problem& p, const Config& c);
cudaError_t LaunchWmma(bool half, const void* x, const void* w_in, const void* w_core, const void* w_out,
                       const void* bias, const void* z, void* y, const Problem& p, const Config& c,
                       cudaStream_t stream, bool pdl);

// The grid-wide kernel (variant 5; its layout in tucker_conv_grid_layout.h): whether this device can make every block
// of it resident at once (a cooperative launch), and its launcher.
bool GridLaunchable(bool half, const Problem& p, const Config& c);
cudaError_t LaunchGrid(bool half, const void* x, const void* w_in, const void* w_core, const void* w_out,
                       const void* bias, const void* z, void* y, const Problem& p, const Config& c, void* scratch,
                       cudaStream_t stream, bool pdl);

// The staged kernel (variant 6; its layout in tucker_conv_staged_layout.h): three implicit-GEMM launches.
size_t StagedScratchBytes(const Problem& p, const Config& c);
cudaError_t LaunchStaged(bool half, const void* x, const void* w_in, const void* w_core, const void* w_out,
                         const void* bias, const void* z, void* y, const Problem& p, const Config& c, void* scratch,
                         cudaStream_t stream, bool pdl);
// Its channels-last tensor-core family (nsplit 4: fp16, nsplit 5: fp32 as 3xTF32; tucker_conv_nhwc_kernel.cuh).
cudaError_t PrepareStagedNhwc(size_t max_smem);
cudaError_t LaunchStagedNhwc(bool half, const void* x, const void* w_in, const void* w_core, const void* w_out, const void* bias,
                             const void* z, void* y, const Problem& p, const Config& c, void* scratch,
                             cudaStream_t stream, bool pdl);

}  // namespace tucker_cuda
