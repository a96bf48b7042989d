// The tiled TuckerConv kernel: one launch computes conv1x1 -> core conv -> conv1x1 + bias (+ residual)
// (+ Relu) for a th x tw output tile of one image, both intermediates kept in shared memory.
//
// Each stage is a block-level GEMM, out[M][cols] = A[M][K] . B[K][cols]:
//   stage 1: t1[R1][window] = W_in  . X[C][window]          (B staged from global, zero where the core pads)
//   stage 2: t2[R2][tile]   = W_core . im2col(t1)[R1*kk][tile] (B read from t1 through an offset table)
//   stage 3: Y[N][tile]     = W_out . t2[R2][tile]           (+ bias, residual, Relu; written to global)
// A thread owns a TM x TN register tile, so one staged weight value feeds TN FMAs and one activation
// value TM FMAs (v2 issued one global weight load per FMA). Weights are staged kchunk reduction rows at a
// time in shared memory, coalesced: a large kchunk means few memory round trips (small problems are
// latency-bound), a small one leaves room for more resident blocks. grid.z splits N (stage 3) over blocks, which recompute t1 and t2: at
// batch 1 on small maps that buys parallelism for a few extra FMAs.
#include "tucker_conv_launch.h"
#include "tucker_conv_tiled_kernel.cuh"

namespace tucker_cuda {
namespace {

template <typename T, int TM, int TN>
cudaError_t Launch(const void* x, const void* wi, const void* wc, const void* wo, const void* b, const void* z, void* y,
                   const Problem& p, const Config& c, cudaStream_t stream, bool pdl) {
  const int ih_n = WindowRows(p, c.th), iw_n = WindowCols(p, c.tw);
  const int nchunk = TiledChunk(p, c);
  const dim3 grid(CeilDiv(p.Ho, c.th) * CeilDiv(p.Wo, c.tw), p.batch, c.nsplit);
  return LaunchKernel(TiledKernel<T, TM, TN>, grid, dim3(c.threads), TiledSharedBytes(p, c), stream, {pdl},
                      static_cast<const T*>(x), static_cast<const T*>(wi), static_cast<const T*>(wc),
                      static_cast<const T*>(wo), static_cast<const T*>(b), static_cast<const T*>(z),
                      static_cast<T*>(y), p, c.th, c.tw, ih_n, iw_n, nchunk, c.kchunk);
}

template <typename T>
cudaError_t Prepare(size_t max_smem) {
  cudaError_t e = cudaFuncSetAttribute(TiledKernel<T, 4, 4>, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(max_smem));
  if (e != cudaSuccess) return e;
  return cudaFuncSetAttribute(TiledKernel<T, 2, 2>, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(max_smem));
}

}  // namespace

int TiledChunk(const Problem& p, const Config& c) {
  const int tm = c.variant == kTiled4x4 ? 4 : 2;
  return RoundUp(CeilDiv(p.N, c.nsplit), tm);
}

size_t TiledSharedBytes(const Problem& p, const Config& c) {
  const int tm = c.variant == kTiled4x4 ? 4 : 2;
  const int ih_n = WindowRows(p, c.th), iw_n = WindowCols(p, c.tw);
  const TiledLayout L =
      MakeTiledLayout(p.R1, p.R2, p.kh * p.kw, ih_n, iw_n, c.th, c.tw, TiledChunk(p, c), c.threads, tm, tm, c.kchunk);
  return L.ok ? sizeof(float) * static_cast<size_t>(L.total) : static_cast<size_t>(-1);
}

cudaError_t PrepareTiled(size_t max_smem) {
  cudaError_t e = Prepare<float>(max_smem);
  return e != cudaSuccess ? e : Prepare<__half>(max_smem);
}

cudaError_t LaunchTiled(bool half, const void* x, const void* wi, const void* wc, const void* wo, const void* b,
                        const void* z, void* y, const Problem& p, const Config& c, cudaStream_t stream, bool pdl) {
  if (c.variant == kTiled4x4)
    return half ? Launch<__half, 4, 4>(x, wi, wc, wo, b, z, y, p, c, stream, pdl)
                : Launch<float, 4, 4>(x, wi, wc, wo, b, z, y, p, c, stream, pdl);
  return half ? Launch<__half, 2, 2>(x, wi, wc, wo, b, z, y, p, c, stream, pdl)
              : Launch<float, 2, 2>(x, wi, wc, wo, b, z, y, p, c, stream, pdl);
}

}  // namespace tucker_cuda
