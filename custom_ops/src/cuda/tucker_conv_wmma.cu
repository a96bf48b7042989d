// The tensor-core TuckerConv kernel (variant 4): launcher and shared-memory size. fp16: nsplit 1 reads the weights
// from global memory, nsplit 2 stages them in shared memory first; fp32: nsplit 3, staged weights and 3xTF32 (sm_80
// and later). With nsplit 2 or 3, kchunk = 32 x cs (cs > 1) splits each stage's output rows over a cluster of cs
// blocks per tile (Hopper and later). The device code and its design are in tucker_conv_wmma_kernel.cuh.
#include <algorithm>

#include "tucker_conv_launch.h"
#include "tucker_conv_wmma_kernel.cuh"

namespace tucker_cuda {

namespace {
constexpr int kWmmaMaxCluster = 16;  // non-portable cluster size (Hopper)

// The block's shared-memory layout for config c, the one the kernel builds (MakeWmmaLayout) from the same arguments.
WmmaLayout WmmaLayoutOf(const Problem& p, const Config& c) {
  return MakeWmmaLayout(p.C, p.R1, p.R2, p.N, p.kh * p.kw, WindowRows(p, c.th) * WindowCols(p, c.tw), c.th * c.tw,
                        c.nsplit >= 2, WmmaClusterSize(c), WmmaFp32(c) ? 4 : 2);
}
}  // namespace

size_t WmmaSharedBytes(const Problem& p, const Config& c) {
  const int cs = WmmaClusterSize(c);
  if (p.C % 16 || p.R1 % 16 || p.R2 % 16 || p.N % 16 || c.threads != 32 * kWmmaWarps || c.nsplit < 1 || c.nsplit > 3 ||
      cs < 1 || cs > kWmmaMaxCluster || (cs > 1 && (c.nsplit < 2 || 16 * cs > std::max({p.R1, p.R2, p.N}))))
    return static_cast<size_t>(-1);
  const WmmaLayout L = WmmaLayoutOf(p, c);
  if ((WmmaSliceMax(p.R2, cs) / 16) * (L.tpixp / 16) > kWmmaWarps * kWmmaMaxAcc) return static_cast<size_t>(-1);
  return static_cast<size_t>(L.total);
}

int WmmaChunkRows(const Problem& p, const Config& c) { return WmmaLayoutOf(p, c).kc; }

int WmmaSliceRows(int M, int cs) { return WmmaSliceMax(M, cs); }

namespace {
template <class K>
cudaError_t AllowSmem(K kernel, size_t max_smem) {
  return cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(max_smem));
}
template <class K>
cudaError_t AllowCluster(K kernel, size_t max_smem) {
  const cudaError_t e = AllowSmem(kernel, max_smem);
  return e == cudaSuccess ? cudaFuncSetAttribute(kernel, cudaFuncAttributeNonPortableClusterSizeAllowed, 1) : e;
}
}  // namespace

cudaError_t PrepareWmma(size_t max_smem) {
  cudaError_t e = AllowSmem(WmmaKernel<false>, max_smem);
  if (e == cudaSuccess) e = AllowSmem(WmmaKernel<true>, max_smem);
  return e == cudaSuccess ? AllowSmem(WmmaKernelTf32<false>, max_smem) : e;
}

cudaError_t PrepareWmmaCluster(size_t max_smem) {
  const cudaError_t e = AllowCluster(WmmaKernel<true, true>, max_smem);
  return e == cudaSuccess ? AllowCluster(WmmaKernelTf32<true>, max_smem) : e;
}

namespace {
// One tile's cs blocks side by side along x (cs = 1: no cluster).
dim3 WmmaGrid(const Problem& p, const Config& c) {
  return dim3(CeilDiv(p.Ho, c.th) * CeilDiv(p.Wo, c.tw) * WmmaClusterSize(c), p.batch);
}
}  // namespace

bool WmmaLaunchable(bool half, const Problem& p, const Config& c) {
  const size_t smem = WmmaSharedBytes(p, c);
  if (half == WmmaFp32(c) || smem == static_cast<size_t>(-1)) return false;
  if (!half && CcMajor() < 8) return false;  // TF32 tensor cores: sm_80 and later
  if (WmmaClusterSize(c) == 1) return true;
  cudaLaunchAttribute attr[3];
  const cudaLaunchConfig_t cfg = MakeLaunchConfig(WmmaGrid(p, c), dim3(c.threads), smem, nullptr,
                                                  {false, static_cast<unsigned>(WmmaClusterSize(c))}, attr);
  int clusters = 0;
  const cudaError_t e = half ? cudaOccupancyMaxActiveClusters(&clusters, WmmaKernel<true, true>, &cfg)
                             : cudaOccupancyMaxActiveClusters(&clusters, WmmaKernelTf32<true>, &cfg);
  if (e != cudaSuccess) {
    cudaGetLastError();  // before Hopper, or PrepareWmmaCluster not run
    return false;
  }
  return clusters > 0;
}

cudaError_t LaunchWmma(bool half, const void* x, const void* w_in, const void* w_core, const void* w_out,
                       const void* bias, const void* z, void* y, const Problem& p, const Config& c,
                       cudaStream_t stream, bool pdl) {
  const size_t smem = WmmaSharedBytes(p, c);
  if (half == WmmaFp32(c) || smem == static_cast<size_t>(-1)) return cudaErrorInvalidValue;
  const unsigned cs = static_cast<unsigned>(WmmaClusterSize(c));
  const auto go = [&](auto kernel, auto tag) {
    using T = decltype(tag);
    return LaunchKernel(kernel, WmmaGrid(p, c), dim3(c.threads), smem, stream, {pdl, cs}, static_cast<const T*>(x),
                        static_cast<const T*>(w_in), static_cast<const T*>(w_core), static_cast<const T*>(w_out),
                        static_cast<const T*>(bias), static_cast<const T*>(z), static_cast<T*>(y), p, c.th, c.tw,
                        WindowRows(p, c.th), WindowCols(p, c.tw));
  };
  if (!half) return cs > 1 ? go(WmmaKernelTf32<true>, float{}) : go(WmmaKernelTf32<false>, float{});
  if (cs > 1) return go(WmmaKernel<true, true>, __half{});
  return c.nsplit == 2 ? go(WmmaKernel<true>, __half{}) : go(WmmaKernel<false>, __half{});
}

}  // namespace tucker_cuda
