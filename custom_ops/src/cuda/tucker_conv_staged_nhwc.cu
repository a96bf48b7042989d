// The staged kernel's channels-last tensor-core family (variant 6, nsplit 4; device code and why in
// tucker_conv_nhwc_kernel.cuh): three WMMA launches on ORT's stream, fp16 t1/t2 channels-last in scratch from ORT's
// arena. A file of its own so that it compiles beside tucker_conv_staged.cu.
#include "tucker_conv_kernels.cuh"
#include "tucker_conv_launch.h"
#include "tucker_conv_nhwc_kernel.cuh"
#include "tucker_conv_staged_layout.h"

namespace tucker_cuda {

// The BM 128 x BN 128 tiles' ring is over the 48 KB a launch gets without opting in.
cudaError_t PrepareStagedNhwc(size_t max_smem) {
  const size_t need = StagedNhwcSmemBytes(128, 128, true);
  if (max_smem < need) return cudaSuccess;  // SharedBytes keeps those configs off this device
  const int n = static_cast<int>(need);
  cudaError_t e = cudaFuncSetAttribute(StagedNhwcKernel<128, 128, false, true>, cudaFuncAttributeMaxDynamicSharedMemorySize, n);
  if (e == cudaSuccess) e = cudaFuncSetAttribute(StagedNhwcKernel<128, 128, true, true>, cudaFuncAttributeMaxDynamicSharedMemorySize, n);
  if (e == cudaSuccess) e = cudaFuncSetAttribute(StagedNhwcKernel<128, 128, true, false>, cudaFuncAttributeMaxDynamicSharedMemorySize, n);
  return e;
}

cudaError_t LaunchStagedNhwc(const void* x, const void* w_in, const void* w_core, const void* w_out, const void* bias,
                             const void* z, void* y, const Problem& p, const Config& c, void* scratch,
                             cudaStream_t stream, bool pdl) {
  if (!StagedConfigValid(c) || !StagedNhwc(c) || !StagedNhwcFits(p) || scratch == nullptr) return cudaErrorInvalidValue;
  cudaError_t err = cudaSuccess;
  auto go = [&](auto kernel, dim3 grid, unsigned cluster, int threads, size_t smem, auto... args) {
    // cluster > 1: a K-split stage, clusters of its slices along x (fails before Hopper)
    if (err == cudaSuccess) err = LaunchKernel(kernel, grid, dim3(threads), smem, stream, {pdl, cluster}, args...);
  };
  const auto h = [](const void* q) { return static_cast<const __half*>(q); };
  RunStagedNhwc(h(x), h(w_in), h(w_core), h(w_out), h(bias), h(z), static_cast<__half*>(y), p, c,
                static_cast<float*>(scratch), SmCount(), go);
  return err;
}

}  // namespace tucker_cuda
