// One kernel launch on ORT's stream through cudaLaunchKernelEx, with the launch attributes our kernels use:
// programmatic dependent launch (pdl: the kernel may start before the stream's previous kernel ends; it must call
// PdlWait() first, tucker_conv_device.cuh), clusters of `cluster` blocks along x (Hopper and later; 1 = none), and a
// cooperative launch (every block resident at once: the grid kernel's barriers).
#pragma once
#include <cuda_runtime.h>

#include <cstdlib>

namespace tucker_cuda {

// SMs of the current device (a host-side query: no synchronisation, allowed during graph capture).
inline int SmCount() {
  int dev = 0, sms = 0;
  if (cudaGetDevice(&dev) == cudaSuccess) cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev);
  return sms;
}

// The channels-last staged family runs wgmma where the library has sm_90a code (H100/H200; elsewhere the same launch
// runs WMMA): on unless TUCKER_ONNX_WGMMA=0 (the benchmarks' A/B switch).
inline bool WgmmaAllowed() {
  const char* v = std::getenv("TUCKER_ONNX_WGMMA");
  return !(v != nullptr && v[0] == '0' && v[1] == 0);
}

// Compute capability major of the current device (0 where the query fails), the same kind of host-side query.
inline int CcMajor() {
  int dev = 0, major = 0;
  if (cudaGetDevice(&dev) != cudaSuccess ||
      cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, dev) != cudaSuccess) {
    cudaGetLastError();
    return 0;
  }
  return major;
}

struct LaunchOpts {
  bool pdl = false;
  unsigned cluster = 1;
  bool cooperative = false;
};

// The launch config with o's attributes (written into attr, which must outlive the config): for the launch below and
// for occupancy queries of the same launch (cudaOccupancyMaxActiveClusters).
inline cudaLaunchConfig_t MakeLaunchConfig(dim3 grid, dim3 block, size_t smem, cudaStream_t stream, LaunchOpts o,
                                           cudaLaunchAttribute (&attr)[3]) {
  cudaLaunchConfig_t cfg = {};
  cfg.gridDim = grid;
  cfg.blockDim = block;
  cfg.dynamicSmemBytes = smem;
  cfg.stream = stream;
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
  return cfg;
}

template <typename... KernelArgs, typename... Args>
cudaError_t LaunchKernel(void (*kernel)(KernelArgs...), dim3 grid, dim3 block, size_t smem, cudaStream_t stream,
                         LaunchOpts o, Args... args) {
  cudaLaunchAttribute attr[3];
  const cudaLaunchConfig_t cfg = MakeLaunchConfig(grid, block, smem, stream, o, attr);
  const cudaError_t e = cudaLaunchKernelEx(&cfg, kernel, args...);
  if (e != cudaSuccess) cudaGetLastError();  // the launch's error is returned, not left for the next check
  return e;
}

}  // namespace tucker_cuda
