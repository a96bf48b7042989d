// One kernel launch on ORT's stream through cudaLaunchKernelEx, with the launch attributes our kernels use:
// programmatic dependent launch (pdl: the kernel may start before the stream's previous kernel ends; it must call
// PdlWait() first, tucker_conv_device.cuh), clusters of `cluster` blocks along x (Hopper and later; 1 = none), and a
// cooperative launch (every block resident at once: the grid kernel's barriers).
#pragma once
#include <cuda_runtime.h>

namespace tucker_cuda {

struct LaunchOpts {
  bool pdl = false;
  unsigned cluster = 1;
  bool cooperative = false;
};

template <typename... KernelArgs, typename... Args>
cudaError_t LaunchKernel(void (*kernel)(KernelArgs...), dim3 grid, dim3 block, size_t smem, cudaStream_t stream,
                         LaunchOpts o, Args... args) {
  cudaLaunchConfig_t cfg = {};
  cfg.gridDim = grid;
  cfg.blockDim = block;
  cfg.dynamicSmemBytes = smem;
  cfg.stream = stream;
  cudaLaunchAttribute attr[3];
  unsigned n = 0;
  if (o.cluster > 1) {
    attr[n].id = cudaLaunchAttributeClusterDimension;
    attr[n].val.clusterDim.x = o.cluster;
    attr[n].val.clusterDim.y = 1;
    attr[n].val.clusterDim.z = 1;
    ++n;
  }
  if (o.cooperative) {
    attr[n].id = cudaLaunchAttributeCooperative;
    attr[n].val.cooperative = 1;
    ++n;
  }
  if (o.pdl) {
    attr[n].id = cudaLaunchAttributeProgrammaticStreamSerialization;
    attr[n].val.programmaticStreamSerializationAllowed = 1;
    ++n;
  }
  cfg.attrs = attr;
  cfg.numAttrs = n;
  const cudaError_t e = cudaLaunchKernelEx(&cfg, kernel, args...);
  if (e != cudaSuccess) cudaGetLastError();  // the launch's error is returned, not left for the next check
  return e;
}

}  // namespace tucker_cuda
