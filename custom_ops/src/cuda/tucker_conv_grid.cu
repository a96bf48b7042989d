// The grid-wide TuckerConv kernel (variant 5): one cooperative launch runs the three stages one after another
// over the whole GPU, with a grid barrier between them and t1/t2 in a global scratch buffer (L2-resident at the
// sizes it is picked for) taken from ORT's arena.
//
// Why: at batch 1 on 7x7-28x28 maps a Tucker layer is 0.1-5 M MACs, a few microseconds of work spread over the
// GPU, but every earlier kernel of ours gives a tile's three stages to one block (or one cluster of <= 16
// blocks), so the layer takes the latency of one SM walking the whole weight set: the ~15 us floor of sessions
// 1-4. Here stage 1 alone is spread over every SM (each block takes (rows x 32 columns) tasks, S of its warps
// split a task's reduction), then a grid barrier, stage 2, a barrier, stage 3 with the epilogue. The cost is a
// cooperative launch and two grid barriers instead of one SM's serial chains, and nothing is recomputed for halos.
// Measured (H200, sessions 5-6, results/NOTES.md): every 7x7 and 14x14 TDC core at batch 1 beats ORT's cuDNN
// triplet (fp32 1.5-3.4x); of the ~10 us floor on the smallest shapes the launch and both barriers take ~3.8 us
// (tools/coop_floor.cu), the rest is the stages (tools/grid_probe.cu).
//
// Config: th = output rows per task (1, 2 or 4), tw = S (warps per task, dividing threads / 32), threads,
// nsplit = blocks per SM (the grid is nsplit x SMs, capped by the tasks of the largest stage), kchunk = how a
// stage's tasks go to blocks (kGridRuns or kGridSpread, tucker_conv_grid_kernel.cuh). A cooperative
// launch guarantees every block is resident; CUDA graphs capture it as a cooperative kernel node.
#include <type_traits>

#include "tucker_conv_grid_kernel.cuh"
#include "tucker_conv_grid_layout.h"
#include "tucker_conv_kernels.cuh"
#include "tucker_conv_launch.h"

namespace tucker_cuda {
namespace {

// Lets kernel k take `smem` bytes of dynamic shared memory (beyond 48 KB a kernel must ask), for its launch and for
// the occupancy query of GridLaunchable.
cudaError_t AllowSmem(const void* k, size_t smem) {
  return smem > 48 * 1024 ? cudaFuncSetAttribute(k, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(smem))
                          : cudaSuccess;
}

template <typename T, int MB, int K>
cudaError_t LaunchTyped(const void* x, const void* wi, const void* wc, const void* wo, const void* b, const void* z,
                        void* y, const Problem& p, const Config& c, int blocks, GridScratch s,
                        cudaStream_t stream, bool pdl) {
  const int stage = GridStageFloats(std::is_same_v<T, __half>, p, c);
  const size_t smem = GridStageBytes(stage, c);
  if (const cudaError_t e = AllowSmem(reinterpret_cast<const void*>(GridKernel<T, MB, K, K>), smem); e != cudaSuccess)
    return e;
  LaunchOpts o;
  o.cooperative = true;
  o.pdl = pdl;  // the blocks not yet resident wait for the previous kernel's SMs; none passes a barrier before
                // every block has passed PdlWait, which returns only once that kernel has ended
  return LaunchKernel(GridKernel<T, MB, K, K>, dim3(blocks), dim3(c.threads), smem, stream, o, static_cast<const T*>(x),
                      static_cast<const T*>(wi), static_cast<const T*>(wc), static_cast<const T*>(wo),
                      static_cast<const T*>(b), static_cast<const T*>(z), static_cast<T*>(y), p, c.tw,
                      int{c.kchunk == kGridSpread}, s, stage);
}

template <typename T, int K>
const void* KernelFor(int mb) {
  if (mb == 1) return reinterpret_cast<const void*>(GridKernel<T, 1, K, K>);
  if (mb == 2) return reinterpret_cast<const void*>(GridKernel<T, 2, K, K>);
  return reinterpret_cast<const void*>(GridKernel<T, 4, K, K>);
}

template <typename T>
const void* KernelFor(int mb, const Problem& p) { return GridCore3x3(p) ? KernelFor<T, 3>(mb) : KernelFor<T, 0>(mb); }

}  // namespace

size_t GridScratchBytes(const Problem& p) { return sizeof(float) * GridScratchWords(p); }

bool GridLaunchable(bool half, const Problem& p, const Config& c) {
  if (!GridConfigValid(c)) return false;
  int dev = 0, coop = 0, per_sm = 0;
  if (cudaGetDevice(&dev) != cudaSuccess) return false;
  cudaDeviceGetAttribute(&coop, cudaDevAttrCooperativeLaunch, dev);
  const void* k = half ? KernelFor<__half>(c.th, p) : KernelFor<float>(c.th, p);
  const size_t smem = GridStageBytes(GridStageFloats(half, p, c), c);
  if (!coop || AllowSmem(k, smem) != cudaSuccess || cudaOccupancyMaxActiveBlocksPerMultiprocessor(&per_sm, k, c.threads, smem) != cudaSuccess) {
    cudaGetLastError();
    return false;
  }
  return per_sm >= c.nsplit;
}

cudaError_t LaunchGrid(bool half, const void* x, const void* w_in, const void* w_core, const void* w_out,
                       const void* bias, const void* z, void* y, const Problem& p, const Config& c, void* scratch,
                       cudaStream_t stream, bool pdl) {
  if (!GridConfigValid(c) || scratch == nullptr) return cudaErrorInvalidValue;
  const int blocks = GridBlocks(p, c, SmCount());
  const GridScratch s = SplitGridScratch(p, static_cast<float*>(scratch));
  auto go = [&](auto tag, auto core) -> cudaError_t {
    using T = decltype(tag);
    constexpr int K = decltype(core)::value;
    if (c.th == 1) return LaunchTyped<T, 1, K>(x, w_in, w_core, w_out, bias, z, y, p, c, blocks, s, stream, pdl);
    if (c.th == 2) return LaunchTyped<T, 2, K>(x, w_in, w_core, w_out, bias, z, y, p, c, blocks, s, stream, pdl);
    return LaunchTyped<T, 4, K>(x, w_in, w_core, w_out, bias, z, y, p, c, blocks, s, stream, pdl);
  };
  using Any = std::integral_constant<int, 0>;
  using Three = std::integral_constant<int, 3>;
  if (GridCore3x3(p)) return half ? go(__half{}, Three{}) : go(float{}, Three{});
  return half ? go(__half{}, Any{}) : go(float{}, Any{});
}

#ifdef TUCKER_GRID_TIMES
// The last launch's stage marks (tools/grid_probe.cu): kGridTimesBlocks x kGridMarks clock64() values.
cudaError_t CopyGridTimes(long long* host) {
  return cudaMemcpyFromSymbol(host, g_grid_times, sizeof(long long) * kGridTimesBlocks * kGridMarks);
}
#endif

}  // namespace tucker_cuda
