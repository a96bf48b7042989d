// The tensor-core TuckerConv kernel (variant 4, fp16 only): launcher and shared-memory size. nsplit 1 reads the
// weights from global memory, nsplit 2 stages them in shared memory first; the device code and its design are in
// tucker_conv_wmma_kernel.cuh.
#include "tucker_conv_launch.h"
#include "tucker_conv_wmma_kernel.cuh"

namespace tucker_cuda {

size_t WmmaSharedBytes(const Problem& p, const Config& c) {
  if (p.C % 16 || p.R1 % 16 || p.R2 % 16 || p.N % 16 || c.threads != 32 * kWmmaWarps || c.nsplit < 1 || c.nsplit > 2)
    return static_cast<size_t>(-1);
  const int tpix = c.th * c.tw;
  const WmmaLayout L = MakeWmmaLayout(p.C, p.R1, p.R2, p.N, p.kh * p.kw, WindowRows(p, c.th) * WindowCols(p, c.tw),
                                      tpix, c.nsplit == 2);
  if ((p.R2 / 16) * (L.tpixp / 16) > kWmmaWarps * kWmmaMaxAcc) return static_cast<size_t>(-1);
  return static_cast<size_t>(L.total);
}

cudaError_t PrepareWmma(size_t max_smem) {
  const cudaError_t e = cudaFuncSetAttribute(WmmaKernel<false>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                                             static_cast<int>(max_smem));
  if (e != cudaSuccess) return e;
  return cudaFuncSetAttribute(WmmaKernel<true>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                              static_cast<int>(max_smem));
}

cudaError_t LaunchWmma(bool half, const void* x, const void* w_in, const void* w_core, const void* w_out,
                       const void* bias, const void* z, void* y, const Problem& p, const Config& c,
                       cudaStream_t stream, bool pdl) {
  const size_t smem = WmmaSharedBytes(p, c);
  if (!half || smem == static_cast<size_t>(-1)) return cudaErrorInvalidValue;
  const dim3 grid(CeilDiv(p.Ho, c.th) * CeilDiv(p.Wo, c.tw), p.batch);
  return LaunchKernel(c.nsplit == 2 ? WmmaKernel<true> : WmmaKernel<false>, grid, dim3(c.threads), smem, stream, {pdl},
                      static_cast<const __half*>(x), static_cast<const __half*>(w_in),
                      static_cast<const __half*>(w_core), static_cast<const __half*>(w_out),
                      static_cast<const __half*>(bias), static_cast<const __half*>(z), static_cast<__half*>(y), p,
                      c.th, c.tw, WindowRows(p, c.th), WindowCols(p, c.tw));
}

}  // namespace tucker_cuda
