// Shared by the GPU-machine probes (tools/coop_floor.cu, tools/grid_probe.cu): time launches the way
// tools/bench_layers.py runs layers, captured in one CUDA graph and replayed, so launch overhead is what a CUDA-graph
// deployment pays.
#pragma once
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <vector>

#define CHECK(x)                                                                      \
  do {                                                                                \
    cudaError_t e_ = (x);                                                             \
    if (e_ != cudaSuccess) {                                                          \
      std::printf("error %s at %s:%d\n", cudaGetErrorString(e_), __FILE__, __LINE__); \
      return 1;                                                                       \
    }                                                                                 \
  } while (0)

// Median microseconds per launch: `launches` calls of launch() (returning cudaError_t) captured in one graph,
// replayed `replays` times after 20 untimed replays. Returns non-zero (and prints) on a CUDA error.
template <typename Launch>
int GraphMicros(cudaStream_t s, int launches, int replays, Launch launch, float* us) {
  cudaGraph_t g;
  cudaGraphExec_t ge;
  CHECK(cudaStreamBeginCapture(s, cudaStreamCaptureModeGlobal));
  for (int i = 0; i < launches; ++i) CHECK(launch());
  CHECK(cudaStreamEndCapture(s, &g));
  CHECK(cudaGraphInstantiate(&ge, g, 0));
  cudaEvent_t a, b;
  CHECK(cudaEventCreate(&a));
  CHECK(cudaEventCreate(&b));
  std::vector<float> t;
  for (int r = 0; r < 20 + replays; ++r) {
    CHECK(cudaEventRecord(a, s));
    CHECK(cudaGraphLaunch(ge, s));
    CHECK(cudaEventRecord(b, s));
    CHECK(cudaEventSynchronize(b));
    float ms = 0;
    CHECK(cudaEventElapsedTime(&ms, a, b));
    if (r >= 20) t.push_back(ms * 1000 / launches);
  }
  std::sort(t.begin(), t.end());
  *us = t[t.size() / 2];
  cudaEventDestroy(a);
  cudaEventDestroy(b);
  cudaGraphExecDestroy(ge);
  cudaGraphDestroy(g);
  return 0;
}
