// Times what the grid TuckerConv kernel (variant 5) pays before it does any work: a cooperative launch of an empty
// kernel, and of one that crosses 0, 1 or 2 grid barriers, on every SM (1 and 2 blocks per SM), each captured in a
// CUDA graph of 4 launches as tools/bench_layers.py runs layers, against an ordinary empty launch. The session-5
// model fit put ~7 us on the launch and ~1.6 us on each barrier; session 6 measured 1.7 us and ~1.1 us each.
// Build and run on the GPU machine: nvcc -O3 -arch=sm_90 tools/coop_floor.cu -o /tmp/coop_floor && /tmp/coop_floor
#include <cooperative_groups.h>
#include <cuda_runtime.h>

#include <cstdio>

#include "graph_timing.cuh"

__global__ void Barriers(int n, int* sink) {
  for (int i = 0; i < n; ++i) cooperative_groups::this_grid().sync();
  if (n < 0) sink[0] = 1;  // never: keeps the kernel from being empty for the compiler
}

// Median microseconds per launch, 4 launches captured in one graph (graph_timing.cuh).
int Time(bool coop, int blocks, int threads, int barriers, cudaStream_t s, int* sink, float* us) {
  return GraphMicros(s, 4, 180, [&] {
    cudaLaunchConfig_t cfg = {};
    cfg.gridDim = dim3(blocks);
    cfg.blockDim = dim3(threads);
    cfg.stream = s;
    cudaLaunchAttribute attr[1];
    attr[0].id = cudaLaunchAttributeCooperative;
    attr[0].val.cooperative = 1;
    cfg.attrs = attr;
    cfg.numAttrs = coop ? 1 : 0;
    return cudaLaunchKernelEx(&cfg, Barriers, coop ? barriers : 0, sink);
  }, us);
}

int main() {
  int dev = 0, sms = 0;
  CHECK(cudaGetDevice(&dev));
  CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev));
  int* sink;
  CHECK(cudaMalloc(&sink, sizeof(int)));
  cudaStream_t s;
  CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  std::printf("| launch | blocks | threads | grid barriers | us per launch (median, graph of 4) |\n|---|---|---|---|---|\n");
  for (int threads : {256, 512})
    for (int per_sm : {1, 2}) {
      const int blocks = sms * per_sm;
      float us = 0;
      if (Time(false, blocks, threads, 0, s, sink, &us)) return 1;
      std::printf("| plain | %d | %d | - | %.2f |\n", blocks, threads, us);
      for (int n : {0, 1, 2}) {
        if (Time(true, blocks, threads, n, s, sink, &us)) return 1;
        std::printf("| cooperative | %d | %d | %d | %.2f |\n", blocks, threads, n, us);
      }
    }
  return 0;
}
