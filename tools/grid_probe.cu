// The grid TuckerConv kernel (variant 5) alone, outside ONNX Runtime: on the shapes where the model picks it, each
// launch checked against a float64 host reference, then timed as tools/bench_layers.py times layers (a CUDA graph of
// 4 launches, median over replays). Why: session 6 measured the cooperative launch and both grid barriers at
// ~3.8 us (tools/coop_floor.cu), yet the kernel takes 12-42 us on these maps, so the time is inside the stages.
// Build with -DTUCKER_GRID_R1_GROUP=G to compare how many R1 steps of the 3x3 core issue their loads together, and
// with -DTUCKER_GRID_VEC=0 to read the weights one at a time instead of four, -DTUCKER_GRID_L1=0 to read t1/t2
// from L2 only, -DTUCKER_GRID_FLAGS=1 to replace the second grid barrier by per-column-group counters;
// Each case runs its config as the model would (kchunk 32) and with its tasks spread over every block (64).
// "once" launches each shape twice without graphs, for Nsight Compute (ncu) to read the stall reasons.
// Build and run on the GPU machine (tools/gpu_probe.sh does both):
//   nvcc -O3 --use_fast_math -lineinfo -arch=sm_90 -Icustom_ops/src/cuda tools/grid_probe.cu \
//        custom_ops/src/cuda/tucker_conv_grid.cu -o /tmp/grid_probe && /tmp/grid_probe [once]
#include <cuda_runtime.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

#include "graph_timing.cuh"
#include "tucker_conv_kernels.cuh"

using tucker_cuda::Config;
using tucker_cuda::Problem;

struct Case {
  const char* name;
  int batch, C, H, R1, R2;  // square maps, 3x3 core, stride 1, padding 1, N = C (the TDC table's layers)
  Config c;                 // the config session 5's layer bench ran (the model's pick, or the best timed)
};

const Case kCases[] = {
    {"b1 32->32@7 C=64", 1, 64, 7, 32, 32, {5, 1, 16, 512, 1, 32}},
    {"b1 192->160@7 C=384", 1, 384, 7, 192, 160, {5, 4, 16, 512, 1, 32}},
    {"b1 64->32@14 C=128", 1, 128, 14, 64, 32, {5, 4, 16, 512, 1, 32}},
    {"b1 32->32@28 C=64", 1, 64, 28, 32, 32, {5, 4, 8, 256, 2, 32}},
    {"b1 192->96@28 C=384", 1, 384, 28, 192, 96, {5, 4, 8, 512, 1, 32}},
    {"b1 32->32@56 C=64", 1, 64, 56, 32, 32, {5, 4, 2, 256, 2, 32}},
    {"b1 64->64@56 C=128", 1, 128, 56, 64, 64, {5, 4, 2, 256, 2, 32}},
    {"b1 160->96@28 C=320", 1, 320, 28, 160, 96, {5, 4, 8, 512, 1, 32}},
    {"b1 128->96@14 C=256", 1, 256, 14, 128, 96, {5, 4, 8, 256, 2, 32}},
    {"b32 32->32@7 C=64", 32, 64, 7, 32, 32, {5, 4, 4, 512, 1, 32}},
    // ResNet-18's layer4 (TDC ranks; the model's pick first, then neighbours of it)
    {"b1 192->160@7 C=512", 1, 512, 7, 192, 160, {5, 4, 16, 512, 2, 32}},
    {"b1 192->160@7 C=512", 1, 512, 7, 192, 160, {5, 4, 16, 512, 1, 32}},
    {"b1 192->160@7 C=512", 1, 512, 7, 192, 160, {5, 2, 16, 512, 2, 32}},
    {"b1 192->160@7 C=512", 1, 512, 7, 192, 160, {5, 4, 8, 256, 2, 32}},
    {"b1 192->160@7 C=512", 1, 512, 7, 192, 160, {5, 2, 8, 256, 4, 32}},
    {"b1 192->160@7 C=512", 1, 512, 7, 192, 160, {5, 1, 16, 512, 2, 32}},
};

#ifdef TUCKER_GRID_TIMES
namespace tucker_cuda {
cudaError_t CopyGridTimes(long long* host);
}

// Per block, from the last launch's marks: mean and max of each phase (stage 1, barrier 1, stage 2, barrier 2,
// stage 3) and of the whole kernel after PdlWait, in microseconds of the SM clock.
int PrintStageTimes(int blocks) {
  constexpr int K = tucker_cuda::kGridMarks;
  std::vector<long long> m(tucker_cuda::kGridTimesBlocks * K);
  CHECK(tucker_cuda::CopyGridTimes(m.data()));
  int dev = 0, khz = 0;
  CHECK(cudaGetDevice(&dev));
  CHECK(cudaDeviceGetAttribute(&khz, cudaDevAttrClockRate, dev));
  const char* names[] = {"stage 1", "barrier 1", "stage 2", "barrier 2", "stage 3", "whole"};
  blocks = std::min(blocks, tucker_cuda::kGridTimesBlocks);
  std::printf("|  | phase (us, mean / max over %d blocks, SM clock %d MHz) |", blocks, khz / 1000);
  for (int ph = 0; ph < 6; ++ph) {
    double sum = 0, mx = 0;
    for (int b = 0; b < blocks; ++b) {
      const long long* t = m.data() + b * K;
      const double us = double(ph < 5 ? t[ph + 1] - t[ph] : t[5] - t[0]) / khz * 1000.0;
      sum += us;
      mx = std::max(mx, us);
    }
    std::printf(" %s %.2f / %.2f |", names[ph], sum / blocks, mx);
  }
  std::printf("\n");
  // Inside each stage, thread 0's marks (the block's first warp), over the blocks where partial() took longest:
  // prep (from the stage's start), partial, reduction and stores; the stage's start is mark 0, 2 or 4.
  const int start[3] = {0, 2, 4};
  std::printf("|  | thread 0, the block with the longest partial (us) |");
  for (int st = 0; st < 3; ++st) {
    int worst = 0;
    for (int b = 0; b < blocks; ++b) {
      const long long* t = m.data() + b * K + 6 + 3 * st;
      const long long* w = m.data() + worst * K + 6 + 3 * st;
      if (t[1] - t[0] > w[1] - w[0]) worst = b;
    }
    const long long* t = m.data() + worst * K;
    const long long* i = t + 6 + 3 * st;
    std::printf(" stage %d (block %d): prep %.2f, partial %.2f, reduce+store %.2f |", st + 1, worst,
                double(i[0] - t[start[st]]) / khz * 1000.0, double(i[1] - i[0]) / khz * 1000.0,
                double(i[2] - i[1]) / khz * 1000.0);
  }
  std::printf("\n");
  return 0;
}
#endif

Problem MakeProblem(const Case& k) {
  return Problem{k.batch, k.C, k.H, k.H, k.R1, k.R2, 3, 3, k.C, k.H, k.H, 1, 1, 1, 1, 1, 1, true};
}

// y = relu(W_out (core * (W_in x)) + b), float64.
std::vector<double> Reference(const Problem& p, const std::vector<float>& x, const std::vector<float>& wi,
                              const std::vector<float>& wc, const std::vector<float>& wo, const std::vector<float>& b) {
  const int hw = p.H * p.W;
  std::vector<double> t1(static_cast<size_t>(p.batch) * p.R1 * hw, 0.0), t2(static_cast<size_t>(p.batch) * p.R2 * hw, 0.0);
  std::vector<double> y(static_cast<size_t>(p.batch) * p.N * hw, 0.0);
  for (int n = 0; n < p.batch; ++n) {
    for (int r = 0; r < p.R1; ++r)
      for (int c = 0; c < p.C; ++c)
        for (int i = 0; i < hw; ++i)
          t1[(static_cast<size_t>(n) * p.R1 + r) * hw + i] += double(wi[r * p.C + c]) * x[(static_cast<size_t>(n) * p.C + c) * hw + i];
    for (int r2 = 0; r2 < p.R2; ++r2)
      for (int r1 = 0; r1 < p.R1; ++r1)
        for (int a = 0; a < 3; ++a)
          for (int bb = 0; bb < 3; ++bb) {
            const double w = wc[((r2 * p.R1 + r1) * 3 + a) * 3 + bb];
            for (int oh = 0; oh < p.H; ++oh) {
              const int ih = oh - 1 + a;
              if (ih < 0 || ih >= p.H) continue;
              for (int ow = 0; ow < p.W; ++ow) {
                const int iw = ow - 1 + bb;
                if (iw < 0 || iw >= p.W) continue;
                t2[(static_cast<size_t>(n) * p.R2 + r2) * hw + oh * p.W + ow] +=
                    w * t1[(static_cast<size_t>(n) * p.R1 + r1) * hw + ih * p.W + iw];
              }
            }
          }
    for (int o = 0; o < p.N; ++o)
      for (int i = 0; i < hw; ++i) {
        double v = b[o];
        for (int r = 0; r < p.R2; ++r) v += double(wo[o * p.R2 + r]) * t2[(static_cast<size_t>(n) * p.R2 + r) * hw + i];
        y[(static_cast<size_t>(n) * p.N + o) * hw + i] = v > 0 ? v : 0;
      }
  }
  return y;
}

template <typename V>
int Upload(const std::vector<V>& h, V** d) {
  CHECK(cudaMalloc(d, h.size() * sizeof(V)));
  CHECK(cudaMemcpy(*d, h.data(), h.size() * sizeof(V), cudaMemcpyHostToDevice));
  return 0;
}

int RunCase(const Case& k, bool once, cudaStream_t s) {
  const Problem p = MakeProblem(k);
  const Config& c = k.c;
  if (!tucker_cuda::GridLaunchable(false, p, c)) {
    std::printf("| %s | %d,%d,%d,%d,%d,%d | not launchable | | |\n", k.name, c.variant, c.th, c.tw, c.threads, c.nsplit,
                c.kchunk);
    return 0;
  }
  std::mt19937 rng(7);
  std::normal_distribution<float> nd(0.f, 1.f);
  auto fill = [&](size_t n, float scale) {
    std::vector<float> v(n);
    for (auto& e : v) e = nd(rng) * scale;
    return v;
  };
  const int hw = p.H * p.W;
  auto x = fill(static_cast<size_t>(p.batch) * p.C * hw, 1.f), wi = fill(static_cast<size_t>(p.R1) * p.C, 1.f / std::sqrt(p.C));
  auto wc = fill(static_cast<size_t>(p.R2) * p.R1 * 9, 1.f / std::sqrt(9.f * p.R1)), wo = fill(static_cast<size_t>(p.N) * p.R2, 1.f / std::sqrt(p.R2));
  auto b = fill(p.N, 0.1f);
  float *dx, *dwi, *dwc, *dwo, *db, *dy, *scratch;
  if (Upload(x, &dx) || Upload(wi, &dwi) || Upload(wc, &dwc) || Upload(wo, &dwo) || Upload(b, &db)) return 1;
  const size_t ny = static_cast<size_t>(p.batch) * p.N * hw;
  CHECK(cudaMalloc(&dy, ny * sizeof(float)));
  CHECK(cudaMalloc(&scratch, tucker_cuda::GridScratchBytes(p)));
  CHECK(cudaMemset(scratch, 0xff, tucker_cuda::GridScratchBytes(p)));  // NaN: a stage reading unwritten t1/t2 shows
  auto launch = [&]() { return tucker_cuda::LaunchGrid(false, dx, dwi, dwc, dwo, db, nullptr, dy, p, c, scratch, s, false); };
  // First a launch on other inputs, so that the checked one would show t1/t2 (or L1 lines of them) left over from
  // an earlier launch on the same scratch.
  std::vector<float> x_other(x.size());
  for (size_t i = 0; i < x.size(); ++i) x_other[i] = 1.f - 2.f * x[i];
  // (s is a non-blocking stream: it does not wait for cudaMemcpy/cudaMemset, whose pageable host-to-device DMA
  // may still run when they return, hence the device-wide syncs; session 7's first run of this check raced.)
  CHECK(cudaMemcpy(dx, x_other.data(), x.size() * sizeof(float), cudaMemcpyHostToDevice));
  CHECK(cudaDeviceSynchronize());
  CHECK(launch());
  CHECK(cudaDeviceSynchronize());
  std::vector<float> y(ny);
  CHECK(cudaMemcpy(y.data(), dy, ny * sizeof(float), cudaMemcpyDeviceToHost));
  const bool finite = std::all_of(y.begin(), y.end(), [](float v) { return std::isfinite(v); });  // NaN scratch
  CHECK(cudaMemcpy(dx, x.data(), x.size() * sizeof(float), cudaMemcpyHostToDevice));
  CHECK(cudaDeviceSynchronize());
  CHECK(launch());
  CHECK(cudaStreamSynchronize(s));
  CHECK(cudaMemcpy(y.data(), dy, ny * sizeof(float), cudaMemcpyDeviceToHost));
  const auto ref = Reference(p, x, wi, wc, wo, b);
  double err = finite ? 0 : INFINITY, scale = 1e-30;
  for (size_t i = 0; i < ny; ++i) {
    err = std::max(err, std::isfinite(y[i]) ? std::fabs(y[i] - ref[i]) : INFINITY);
    scale = std::max(scale, std::fabs(ref[i]));
  }
  float us = 0;
  if (once) {
    CHECK(launch());  // the second launch, L2 warm, is the one to read in ncu
    CHECK(cudaStreamSynchronize(s));
  } else {
    if (GraphMicros(s, 4, 200, launch, &us)) return 1;
  }
  int dev = 0, sms = 0;
  CHECK(cudaGetDevice(&dev));
  CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, dev));
  char timed[32] = "-";  // "once" (for ncu) times nothing
  if (!once) std::snprintf(timed, sizeof(timed), "%.2f", us);
  std::printf("| %s | %d,%d,%d,%d,%d,%d | %d | %s | %.1e |\n", k.name, c.variant, c.th, c.tw, c.threads, c.nsplit,
              c.kchunk, tucker_cuda::GridBlocks(p, c, sms), timed, err / scale);
#ifdef TUCKER_GRID_TIMES
  if (PrintStageTimes(tucker_cuda::GridBlocks(p, c, sms))) return 1;
#endif
  for (float* ptr : {dx, dwi, dwc, dwo, db, dy, scratch}) cudaFree(ptr);
  return err / scale < 1e-4 ? 0 : 2;
}

int main(int argc, char** argv) {
  const bool once = argc > 1 && std::strcmp(argv[1], "once") == 0;
  cudaStream_t s;
  CHECK(cudaStreamCreateWithFlags(&s, cudaStreamNonBlocking));
  std::printf("R1 group %d, weights read %s, t1/t2 read %s, stage 3 after %s%s\n\n"
              "| shape | config (variant,th,tw,threads,nsplit,kchunk: 64 = tasks spread) | blocks | "
              "us per launch (median, graph of 4) | max rel err vs float64 |\n|---|---|---|---|---|\n",
              TUCKER_GRID_R1_GROUP,
              tucker_cuda::kGridVec ? "four at a time" : "one at a time",
              tucker_cuda::kGridL1 ? "through L1" : "from L2 only",
              tucker_cuda::kGridFlags ? "its column group's counter" : "a grid barrier", once ? " (once, for ncu)" : "");
  int rc = 0;
  const char* only = std::getenv("GRID_PROBE_CASE");  // one case by its index in kCases (for ncu)
  int index = -1;
  for (const Case& k : kCases) {  // each config as the model runs it, then with its tasks spread over every block
    ++index;
    if (only != nullptr && std::atoi(only) != index) continue;
    rc |= RunCase(k, once, s);
    if (only != nullptr) continue;
    Case spread = k;
    spread.c.kchunk = tucker_cuda::kGridSpread;
    rc |= RunCase(spread, once, s);
  }
  return rc;
}
