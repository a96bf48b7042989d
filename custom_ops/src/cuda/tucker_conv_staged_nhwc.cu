// The staged kernel's channels-last tensor-core family (variant 6, nsplit 4 fp16 and nsplit 5 fp32; device code and
// why in tucker_conv_nhwc_kernel.cuh): three WMMA launches on ORT's stream, t1/t2 channels-last in the model's type
// in scratch from ORT's arena. A file of its own so that it compiles beside tucker_conv_staged.cu.
#include "tucker_conv_kernels.cuh"
#include "tucker_conv_launch.h"
#include "tucker_conv_nhwc_kernel.cuh"
#include "tucker_conv_staged_layout.h"

namespace tucker_cuda {

// The BM 128 x BN 128 tiles' ring is over the 48 KB a launch gets without opting in (the fp32 ring is no larger).
cudaError_t PrepareStagedNhwc(size_t max_smem) {
  const size_t need = StagedNhwcSmemBytes(128, 128, true);
  if (max_smem < need) return cudaSuccess;  // SharedBytes keeps those configs off this device
  const int n = static_cast<int>(need);
  cudaError_t e = cudaSuccess;
  auto allow = [&](auto kernel) {
    if (e == cudaSuccess) e = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, n);
  };
  allow(StagedNhwcKernel<__half, 128, 128, false, true>);
  allow(StagedNhwcKernel<__half, 128, 128, true, true>);
  allow(StagedNhwcKernel<__half, 128, 128, true, false>);
  allow(StagedNhwcKernel<float, 128, 128, false, true>);
  allow(StagedNhwcKernel<float, 128, 128, true, true>);
  allow(StagedNhwcKernel<float, 128, 128, true, false>);
  // The wgmma form's 4-slot rings (StagedNhwcSmemBytes(..., wg)): 32-128 KB, every tile of every stage it runs
  // (RunStagedNhwc: all three stages at fp16 and fp32) opts in.
  auto allow_wg = [&](auto tag, auto in_nhwc, auto out_nhwc, auto pre) {
    using T = decltype(tag);
    constexpr bool I = decltype(in_nhwc)::value, O = decltype(out_nhwc)::value, P = decltype(pre)::value;
    auto one = [&](auto kernel, int bm, int bn) {
      const size_t bytes = StagedNhwcSmemBytes(bm, bn, I, sizeof(T), true, P);
      if (e == cudaSuccess && bytes <= max_smem)
        e = cudaFuncSetAttribute(kernel, cudaFuncAttributeMaxDynamicSharedMemorySize, static_cast<int>(bytes));
    };
    one(StagedNhwcKernel<T, 64, 64, I, O, true, P>, 64, 64);
    one(StagedNhwcKernel<T, 64, 128, I, O, true, P>, 64, 128);
    one(StagedNhwcKernel<T, 128, 64, I, O, true, P>, 128, 64);
    if constexpr (!P) one(StagedNhwcKernel<T, 128, 128, I, O, true, P>, 128, 128);  // (no pre-split 128 x 128)
    if constexpr (I && O) {  // the core at BM 32 with the operands swapped (StagedCoreSwap)
      one(StagedNhwcKernel<T, 32, 64, I, O, true, P>, 32, 64);
      one(StagedNhwcKernel<T, 32, 128, I, O, true, P>, 32, 128);
    }
  };
  const std::true_type yes;
  const std::false_type no;
  allow_wg(__half{}, no, yes, no);
  allow_wg(__half{}, yes, yes, no);
  allow_wg(__half{}, yes, no, no);
  allow_wg(float{}, no, yes, no);
  allow_wg(float{}, yes, yes, no);
  allow_wg(float{}, yes, no, no);
  allow_wg(float{}, yes, yes, yes);  // the pre-split core
  return e;
}

cudaError_t LaunchStagedNhwc(bool half, const void* x, const void* w_in, const void* w_core, const void* w_out,
                             const void* bias, const void* z, void* y, const Problem& p, const Config& c, void* scratch,
                             cudaStream_t stream, bool pdl) {
  if (!StagedConfigValid(c) || !StagedNhwc(c) || !StagedNhwcFits(p) || scratch == nullptr ||
      half != StagedFp16Only(c))
    return cudaErrorInvalidValue;
  cudaError_t err = cudaSuccess;
  auto go = [&](auto kernel, dim3 grid, unsigned cluster, int threads, size_t smem, auto... args) {
    // cluster > 1: a K-split stage, clusters of its slices along x (fails before Hopper)
    if (err == cudaSuccess) err = LaunchKernel(kernel, grid, dim3(threads), smem, stream, {pdl, cluster}, args...);
  };
  auto run = [&](auto tag) {
    using T = decltype(tag);
    const auto in = [](const void* q) { return static_cast<const T*>(q); };
    RunStagedNhwc(in(x), in(w_in), in(w_core), in(w_out), in(bias), in(z), static_cast<T*>(y), p, c,
                  static_cast<float*>(scratch), SmCount(), go, WgmmaAllowed());
  };
  if (half) run(__half{});
  else run(float{});
  return err;
}

}  // namespace tucker_cuda
