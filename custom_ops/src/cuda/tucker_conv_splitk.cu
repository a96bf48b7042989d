// The split-K TuckerConv kernel (v2): one launch computes conv1x1 -> core conv -> conv1x1 + bias
// (+ residual) (+ Relu) for an output tile, keeping both intermediates in shared memory. Each thread
// reads its weights straight from global memory (one load per 4 FMAs); kept as an autotuner candidate
// for tiny problems, where it splits every reduction over the block's threads.
//
// Block = one image x one TH x TW output tile, all N output channels.
//   stage 1: t1[R1][IH][IW] = W_in . X over the tile's input window (zero where the core conv pads)
//   stage 2: t2[R2][TH*TW]  = core conv of t1
//   stage 3: Y[N][TH*TW]    = W_out . t2 + B (+ Z), Relu, written straight to global memory
// The only global traffic is X's window, the weights (L2-resident) and Y: no intermediate tensors,
// no memsets, no atomics, and the whole Tucker layer is a single launch.
#include "tucker_conv_splitk_kernel.cuh"

namespace tucker_cuda {

size_t SplitKSharedBytes(const Problem& p, const Config& c) {
  const size_t tpix = static_cast<size_t>(c.th) * c.tw;
  const bool split3 = SplitK(((p.N + RB - 1) / RB) * static_cast<int>(tpix), p.R2, c.threads) > 1;
  return sizeof(float) * (static_cast<size_t>(p.R1) * WindowRows(p, c.th) * WindowCols(p, c.tw) + static_cast<size_t>(p.R2) * tpix +
                          (split3 ? static_cast<size_t>(p.N) * tpix : 0));
}

cudaError_t PrepareSplitK(size_t max_smem) {
  cudaError_t e = cudaFuncSetAttribute(TuckerConvKernel<float>, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(max_smem));
  if (e != cudaSuccess) return e;
  return cudaFuncSetAttribute(TuckerConvKernel<__half>, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(max_smem));
}

cudaError_t LaunchSplitK(bool half, const void* x, const void* w_in, const void* w_core, const void* w_out,
                         const void* bias, const void* z, void* y, const Problem& p, const Config& c,
                         cudaStream_t stream) {
  const int ih_n = WindowRows(p, c.th), iw_n = WindowCols(p, c.tw);
  const size_t smem = SplitKSharedBytes(p, c);
  const dim3 grid(((p.Ho + c.th - 1) / c.th) * ((p.Wo + c.tw - 1) / c.tw), p.batch);
  if (half) {
    auto k = TuckerConvKernel<__half>;
    k<<<grid, c.threads, smem, stream>>>(static_cast<const __half*>(x), static_cast<const __half*>(w_in),
                                         static_cast<const __half*>(w_core), static_cast<const __half*>(w_out),
                                         static_cast<const __half*>(bias), static_cast<const __half*>(z),
                                         static_cast<__half*>(y), p, c.th, c.tw, ih_n, iw_n);
  } else {
    auto k = TuckerConvKernel<float>;
    k<<<grid, c.threads, smem, stream>>>(static_cast<const float*>(x), static_cast<const float*>(w_in),
                                         static_cast<const float*>(w_core), static_cast<const float*>(w_out),
                                         static_cast<const float*>(bias), static_cast<const float*>(z),
                                         static_cast<float*>(y), p, c.th, c.tw, ih_n, iw_n);
  }
  return cudaGetLastError();
}

}  // namespace tucker_cuda
