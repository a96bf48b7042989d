// Times what a thread-block cluster costs before any work: an empty kernel launched with clusters of 1-8 blocks, with 1 KB or
// 100 KB of dynamic shared memory per block, crossing 0 or 3 cluster barriers (relaxed arrive + wait, or
// cooperative_groups' cluster.sync(), which releases at GPU scope), each captured in a CUDA graph of 4 launches as
// tools/bench_layers.py runs layers. Session 15: the WMMA kernel's cluster split ran ~4.5 us slower per layer than the
// plain kernel on a shape where it does less work per block; is that the launch, the barriers, or the kernel?
// Build and run on the GPU machine: nvcc -O3 -arch=sm_90 -Itools tools/cluster_floor.cu -o /tmp/cf && /tmp/cf
#include <cooperative_groups.h>
#include <cuda_runtime.h>

#include <cstdio>

#include "graph_timing.cuh"

__global__ void Barriers(int n, int cg_sync, int* sink) {
  extern __shared__ float s[];
  if (threadIdx.x < 64) s[threadIdx.x] = static_cast<float>(threadIdx.x);
  for (int i = 0; i < n; ++i) {
    if (cg_sync) {
      cooperative_groups::this_cluster().sync();
    } else {
      asm volatile("barrier.cluster.arrive.relaxed.aligned;\n" ::: "memory");
      asm volatile("barrier.cluster.wait.aligned;\n" ::: "memory");
    }
  }
  if (n < 0) sink[0] = static_cast<int>(s[threadIdx.x % 64]);  // never: keeps the stores
}

int Time(int blocks, int cs, size_t smem, int barriers, int cg_sync, cudaStream_t s, int* sink, float* us) {
  return GraphMicros(s, 4, 180, [&] {
    cudaLaunchConfig_t cfg = {};
    cfg.gridDim = dim3(blocks * cs);
    cfg.blockDim = dim3(256);
    cfg.dynamicSmemBytes = smem;
    cfg.stream = s;
    cudaLaunchAttribute attr[1];
    attr[0].id = cudaLaunchAttributeClusterDimension;
    attr[0].val.clusterDim.x = cs;
    attr[0].val.clusterDim.y = 1;
    attr[0].val.clusterDim.z = 1;
    cfg.attrs = attr;
    cfg.numAttrs = cs > 1 ? 1 : 0;
    return cudaLaunchKernelEx(&cfg, Barriers, barriers, cg_sync, sink);
  }, us);
}

int main() {
  int* sink;
  CHECK(cudaMalloc(&sink, sizeof(int)));
  CHECK(cudaFuncSetAttribute(Barriers, cudaFuncAttributeMaxDynamicSharedMemorySize, 200 * 1024));
  CHECK(cudaFuncSetAttribute(Barriers, cudaFuncAttributeNonPortableClusterSizeAllowed, 1));
  cudaStream_t s;
  CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  std::printf("| tiles (clusters) | cluster size | shared KB | barriers | us per launch (median, graph of 4) |\n"
              "|---|---|---|---|---|\n");
  for (int blocks : {8, 28})
    for (size_t smem : {size_t{1024}, size_t{100 * 1024}})
      for (int cs : {1, 2, 4, 8})
        for (int b : {0, 3}) {
          for (int cg_sync : {0, 1}) {
            if (b == 0 && cg_sync) continue;
            float us = 0;
            if (Time(blocks, cs, smem, b, cg_sync, s, sink, &us)) return 1;
            std::printf("| %d | %d | %zu | %d%s | %.2f |\n", blocks, cs, smem / 1024, b,
                        b == 0 ? "" : (cg_sync ? " cluster.sync()" : " relaxed"), us);
          }
        }
  return 0;
}
