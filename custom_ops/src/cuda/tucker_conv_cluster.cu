// The cluster TuckerConv kernel (v4, Hopper thread-block clusters): one launch computes conv1x1 -> core conv
// -> conv1x1 + bias (+ residual) (+ Relu) for a th x tw output tile of one image, with the tile's work spread
// over a cluster of CS blocks (CS SMs) instead of one block.
//
// Why: at batch 1 a Tucker layer has a few hundred output pixels, so one block per tile leaves most of the GPU
// idle and each block walks the whole weight set alone (v3: 40-60 us where cuDNN's three kernels take 20).
// A cluster splits every stage's output channels over its blocks, so each SM reads 1/CS of the weights and
// does 1/CS of the FMAs, and the blocks swap intermediates through distributed shared memory (DSMEM):
//   stage 1: block q computes rows [q] of t1[R1][window]        (X from global, zero where the core pads)
//   cluster barrier, every block gathers the other blocks' t1 rows into its own shared memory
//   stage 2: block q computes rows [q] of t2[R2][tile]          (im2col of t1 through tap offsets)
//   cluster barrier, gather t2
//   stage 3: block q computes output channels [q] of Y[N][tile] (+ bias, residual, Relu; written to global)
// Inside a block each stage is a GEMM whose reduction is split KS ways over the threads when the block's
// outputs are fewer than its threads (shared-memory float atomics add the partial sums), so small tiles
// still keep every thread busy. No global scratch, no memset, no grid-wide sync: one plain launch that
// CUDA graphs capture. Compiled for sm_90+ only; other targets get an empty stub the host never selects.
#include "tucker_conv_cluster_kernel.cuh"
#include "tucker_conv_kernels.cuh"

namespace tucker_cuda {
namespace {

// Launch configuration of one cluster config: grid = tiles x cluster size, one cluster per (tile, image).
cudaLaunchConfig_t MakeLaunch(const Problem& p, const Config& c, cudaLaunchAttribute* attr, cudaStream_t stream) {
  cudaLaunchConfig_t cfg = {};
  cfg.gridDim = dim3(CeilDiv(p.Ho, c.th) * CeilDiv(p.Wo, c.tw) * c.nsplit, p.batch, 1);
  cfg.blockDim = dim3(c.threads, 1, 1);
  cfg.dynamicSmemBytes = ClusterSharedBytes(p, c);
  cfg.stream = stream;
  attr[0].id = cudaLaunchAttributeClusterDimension;
  attr[0].val.clusterDim.x = c.nsplit;
  attr[0].val.clusterDim.y = 1;
  attr[0].val.clusterDim.z = 1;
  cfg.attrs = attr;
  cfg.numAttrs = 1;
  return cfg;
}

bool Staged(const Config& c) { return c.kchunk == kClusterStaged; }

template <typename T>
cudaError_t Launch(const void* x, const void* wi, const void* wc, const void* wo, const void* b, const void* z,
                   void* y, const Problem& p, const Config& c, cudaStream_t stream) {
  cudaLaunchAttribute attr[1];
  const cudaLaunchConfig_t cfg = MakeLaunch(p, c, attr, stream);
  const int ih_n = WindowRows(p, c.th), iw_n = WindowCols(p, c.tw);
  auto args = [&](auto kernel) {
    return cudaLaunchKernelEx(&cfg, kernel, static_cast<const T*>(x), static_cast<const T*>(wi),
                              static_cast<const T*>(wc), static_cast<const T*>(wo), static_cast<const T*>(b),
                              static_cast<const T*>(z), static_cast<T*>(y), p, c.th, c.tw, ih_n, iw_n);
  };
  return Staged(c) ? args(ClusterKernel<T, true>) : args(ClusterKernel<T, false>);
}

template <typename K>
cudaError_t Prepare(K kernel, size_t max_smem) {
  cudaError_t e = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(max_smem));
  if (e != cudaSuccess) return e;
  return cudaFuncSetAttribute(kernel, cudaFuncAttributeNonPortableClusterSizeAllowed, 1);
}

}  // namespace

size_t ClusterSharedBytes(const Problem& p, const Config& c) {
  if (c.nsplit < 1 || c.nsplit > kMaxCluster || c.threads < 32 || c.threads > 512) return static_cast<size_t>(-1);
  const int win = WindowRows(p, c.th) * WindowCols(p, c.tw);
  const ClusterLayout L = MakeClusterLayout(p.R1, p.R2, p.N, p.C, p.kh * p.kw, win, c.th * c.tw, c.nsplit, Staged(c));
  return static_cast<size_t>(L.total) * sizeof(float);
}

ClusterStage ClusterStageWork(int M, int P, int K, int threads) {
  const GemmSplit g = ClusterSplit(M, P, K, threads);
  return ClusterStage{g.ntiles * g.ks, CeilDiv(K, g.ks), g.ks};
}

cudaError_t PrepareCluster(size_t max_smem) {
  cudaError_t e = Prepare(ClusterKernel<float, false>, max_smem);
  if (e == cudaSuccess) e = Prepare(ClusterKernel<float, true>, max_smem);
  if (e == cudaSuccess) e = Prepare(ClusterKernel<__half, false>, max_smem);
  if (e == cudaSuccess) e = Prepare(ClusterKernel<__half, true>, max_smem);
  return e;
}

bool ClusterLaunchable(bool half, const Problem& p, const Config& c) {
  if (ClusterSharedBytes(p, c) == static_cast<size_t>(-1)) return false;
  cudaLaunchAttribute attr[1];
  const cudaLaunchConfig_t cfg = MakeLaunch(p, c, attr, nullptr);
  int clusters = 0;
  cudaError_t e;
  if (half) e = Staged(c) ? cudaOccupancyMaxActiveClusters(&clusters, ClusterKernel<__half, true>, &cfg)
                          : cudaOccupancyMaxActiveClusters(&clusters, ClusterKernel<__half, false>, &cfg);
  else e = Staged(c) ? cudaOccupancyMaxActiveClusters(&clusters, ClusterKernel<float, true>, &cfg)
                     : cudaOccupancyMaxActiveClusters(&clusters, ClusterKernel<float, false>, &cfg);
  if (e != cudaSuccess) {
    cudaGetLastError();
    return false;
  }
  return clusters > 0;
}

cudaError_t LaunchCluster(bool half, const void* x, const void* wi, const void* wc, const void* wo, const void* b,
                          const void* z, void* y, const Problem& p, const Config& c, cudaStream_t stream) {
  return half ? Launch<__half>(x, wi, wc, wo, b, z, y, p, c, stream)
              : Launch<float>(x, wi, wc, wo, b, z, y, p, c, stream);
}

}  // namespace tucker_cuda
