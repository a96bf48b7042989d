// The tensor-core TuckerConv kernel (variant 4, fp16 only): launcher and shared-memory size. nsplit 1 reads the
// weights from global memory, nsplit 2 stages them in shared memory first; with nsplit 2, kchunk = 32 x cs (cs > 1)
// splits each stage's output rows over a cluster of cs blocks per tile (Hopper and later). The device code and its
// design are in tucker_conv_wmma_kernel.cuh.
#include <algorithm>

#include "tucker_conv_launch.h"
#include "tucker_conv_wmma_kernel.cuh"

namespace tucker_cuda {

namespace {
constexpr int kWmmaMaxCluster = 16;  // non-portable cluster size (Hopper)

// The block's shared-memory layout for config c, the one the kernel builds (MakeWmmaLayout) from the same arguments.
WmmaLayout WmmaLayoutOf(const Problem& p, const Config& c) {
  return MakeWmmaLayout(p.C, p.R1, p.R2, p.N, p.kh * p.kw, WindowRows(p, c.th) * WindowCols(p, c.tw), c.th * c.tw,
                        c.nsplit == 2, WmmaClusterSize(c));
}
}  // namespace

size_t WmmaSharedBytes(const Problem& p, const Config& c) {
  const int cs = WmmaClusterSize(c);
  if (p.C % 16 || p.R1 % 16 || p.R2 % 16 || p.N % 16 || c.threads != 32 * kWmmaWarps || c.nsplit < 1 || c.nsplit > 2 ||
      cs < 1 || cs > kWmmaMaxCluster || (cs > 1 && (c.nsplit != 2 || 16 * cs > std::max({p.R1, p.R2, p.N}))))
    return static_cast<size_t>(-1);
  const WmmaLayout L = WmmaLayoutOf(p, c);
  if ((WmmaSliceMax(p.R2, cs) / 16) * (L.tpixp / 16) > kWmmaWarps * kWmmaMaxAcc) return static_cast<size_t>(-1);
  return static_cast<size_t>(L.total);
}

int WmmaChunkRows(const Problem& p, const Config& c) { return WmmaLayoutOf(p, c).kc; }

cudaError_t PrepareWmma(size_t max_smem) {
  const cudaError_t e = cudaFuncSetAttribute(WmmaKernel<false>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                             static_cast<int>(max_smem));
  if (e != cudaSuccess) return e;
  return cudaFuncSetAttribute(WmmaKernel<true>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                              static_cast<int>(max_smem));
}

cudaError_t PrepareWmmaCluster(size_t max_smem) {
  const cudaError_t e = cudaFuncSetAttribute(WmmaKernel<true, true>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                             static_cast<int>(max_smem));
  if (e != cudaSuccess) return e;
  return cudaFuncSetAttribute(WmmaKernel<true, true>, cudaFuncAttributeNonPortableClusterSizeAllowed, 1);
}

namespace {
// One tile's cs blocks side by side along x (cs = 1: no cluster).
dim3 WmmaGrid(const Problem& p, const Config& c) {
  return dim3(CeilDiv(p.Ho, c.th) * CeilDiv(p.Wo, c.tw) * WmmaClusterSize(c), p.batch);
}
}  // namespace

bool WmmaLaunchable(bool half, const Problem& p, const Config& c) {
  const size_t smem = WmmaSharedBytes(p, c);
  if (!half || smem == static_cast<size_t>(-1)) return false;
  if (WmmaClusterSize(c) == 1) return true;
  cudaLaunchAttribute attr[3];
  const cudaLaunchConfig_t cfg = MakeLaunchConfig(WmmaGrid(p, c), dim3(c.threads), smem, nullptr,
                                                  {false, static_cast<unsigned>(WmmaClusterSize(c))}, attr);
  int clusters = 0;
  if (cudaOccupancyMaxActiveClusters(&clusters, WmmaKernel<true, true>, &cfg) != cudaSuccess) {
    cudaGetLastError();  // before Hopper, or PrepareWmmaCluster not run
    return false;
  }
  return clusters > 0;
}

cudaError_t LaunchWmma(bool half, const void* x, const void* w_in, const void* w_core, const void* w_out,
                       const void* bias, const void* z, void* y, const Problem& p, const Config& c,
                       cudaStream_t stream, bool pdl) {
  const size_t smem = WmmaSharedBytes(p, c);
  if (!half || smem == static_cast<size_t>(-1)) return cudaErrorInvalidValue;
  const unsigned cs = static_cast<unsigned>(WmmaClusterSize(c));
  const auto kernel = cs > 1 ? WmmaKernel<true, true> : (c.nsplit == 2 ? WmmaKernel<true> : WmmaKernel<false>);
  return LaunchKernel(kernel, WmmaGrid(p, c), dim3(c.threads), smem, stream, {pdl, cs},
                      static_cast<const __half*>(x), static_cast<const __half*>(w_in),
                      static_cast<const __half*>(w_core), static_cast<const __half*>(w_out),
                      static_cast<const __half*>(bias), static_cast<const __half*>(z), static_cast<__half*>(y), p,
                      c.th, c.tw, WindowRows(p, c.th), WindowCols(p, c.tw));
}

}  // namespace tucker_cuda
