// CPU emulation driver of the TuckerConv CUDA kernels (tests/test_kernel_emu.py builds and runs it): the config's
// variant picks the tiled (0: 4x4, 1: 2x2), split-K (2), cluster (3), tensor-core (4, fp16), grid (5) or staged (6)
// kernel.
// Usage: kernel_emu DIR. DIR/params.txt holds
//   batch C H W R1 R2 kh kw N Ho Wo sh sw pt pl dh dw relu has_z half  variant th tw threads nsplit kchunk [tf32 [wgmma]]
// and DIR/{x,w_in,w_core,w_out,b[,z]}.bin the raw tensors (float32, or float16 when half); writes DIR/y.bin.
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "cuda_emu.h"
#include "tucker_conv_cluster_kernel.cuh"
#include "tucker_conv_grid_kernel.cuh"
#include "tucker_conv_grid_layout.h"
#include "tucker_conv_nhwc_kernel.cuh"
#include "tucker_conv_splitk_kernel.cuh"
#include "tucker_conv_staged_kernel.cuh"
#include "tucker_conv_staged_layout.h"
#include "tucker_conv_tiled_kernel.cuh"
#include "tucker_conv_wmma_kernel.cuh"

namespace {

template <typename T>
std::vector<T> Read(const std::string& path, std::size_t n) {
  std::vector<T> v(n);
  std::ifstream f(path, std::ios::binary);
  f.read(reinterpret_cast<char*>(v.data()), static_cast<std::streamsize>(n * sizeof(T)));
  if (!f) {
    std::fprintf(stderr, "error: cannot read %zu values from %s\n", n, path.c_str());
    std::exit(1);
  }
  return v;
}

template <typename T>
int Run(const std::string& dir, const tucker_cuda::Problem& p, const tucker_cuda::Config& c, bool has_z, bool wgmma) {
  using tucker_cuda::CeilDiv;
  const std::size_t nx = static_cast<std::size_t>(p.batch) * p.C * p.H * p.W;
  const std::size_t ny = static_cast<std::size_t>(p.batch) * p.N * p.Ho * p.Wo;
  const auto x = Read<T>(dir + "/x.bin", nx);
  const auto wi = Read<T>(dir + "/w_in.bin", static_cast<std::size_t>(p.R1) * p.C);
  const auto wc = Read<T>(dir + "/w_core.bin", static_cast<std::size_t>(p.R2) * p.R1 * p.kh * p.kw);
  const auto wo = Read<T>(dir + "/w_out.bin", static_cast<std::size_t>(p.N) * p.R2);
  const auto b = Read<T>(dir + "/b.bin", static_cast<std::size_t>(p.N));
  const auto z = has_z ? Read<T>(dir + "/z.bin", ny) : std::vector<T>();
  std::vector<T> y(ny);
  const int ih_n = tucker_cuda::WindowRows(p, c.th), iw_n = tucker_cuda::WindowCols(p, c.tw);
  const int tiles = CeilDiv(p.Ho, c.th) * CeilDiv(p.Wo, c.tw);
  const T* zp = has_z ? z.data() : nullptr;
  const std::size_t max_smem = 232448;  // an H100/H200 block's limit: every kernel lays out its own part of it
  auto run = [&](dim3 grid, unsigned cs, auto kernel, auto... extra) {
    emu::Launch(grid, dim3(c.threads), cs, max_smem, kernel, x.data(), wi.data(), wc.data(), wo.data(), b.data(), zp,
                y.data(), p, c.th, c.tw, ih_n, iw_n, extra...);
  };
  if (c.variant == tucker_cuda::kStaged) {
    // Three launches, one after another as on a stream; scratch starts as NaN (a read of unwritten t1/t2 shows).
    if (!tucker_cuda::StagedConfigValid(c) || (tucker_cuda::StagedFp16Only(c) && !std::is_same_v<T, __half>) ||
        (tucker_cuda::StagedFp32Only(c) && !std::is_same_v<T, float>)) {
      std::fprintf(stderr, "error: invalid staged config\n");
      return 2;
    }
    std::vector<float> scratch(tucker_cuda::StagedScratchWords(p, c, wgmma), std::numeric_limits<float>::quiet_NaN());
    const auto go = [](auto kernel, dim3 grid, int threads, std::size_t smem, auto... args) {
      emu::Launch(grid, dim3(static_cast<unsigned>(threads)), 1, smem, kernel, args...);
    };
    if (tucker_cuda::StagedNhwc(c)) {  // channels-last tensor-core family: fp16 (nsplit 4) or fp32 (5), ranks multiples of 8
      if (!tucker_cuda::StagedNhwcFits(p)) {
        std::fprintf(stderr, "error: the channels-last family needs ranks that are multiples of 8\n");
        return 2;
      }
      const auto go_cluster = [](auto kernel, dim3 grid, unsigned cs, int threads, std::size_t smem, auto... args) {
        emu::Launch(grid, dim3(static_cast<unsigned>(threads)), cs, smem, kernel, args...);
      };
      // The SMs of an H100/H200: the stages' K splits (StagedNhwcStageSplit) as the GPU tests run them.
      // wgmma: the WG kernels, whose body here is their WMMA form (wgmma is Hopper hardware), with fp32's pre-split
      // core (StagedNhwcSplitsCore) as on the GPU
      tucker_cuda::RunStagedNhwc(x.data(), wi.data(), wc.data(), wo.data(), b.data(), zp, y.data(), p, c,
                                 scratch.data(), 132, go_cluster, wgmma);
      // DIR/presplit.txt: whether the core ran pre-split, for the tests to know that the path they check was taken
      std::ofstream(dir + "/presplit.txt") << (tucker_cuda::StagedNhwcSplitsCore(p, c, wgmma) ? 1 : 0) << "\n";
      // DIR/wg_bm32.txt: whether BM 32 stages ran as the WG kernel at BM 64 (StagedWgBm32, with wgmma)
      std::ofstream(dir + "/wg_bm32.txt") << (wgmma && tucker_cuda::StagedWgBm32(sizeof(T) == 2) ? 1 : 0) << "\n";
      // DIR/swap32.txt: how the core ran where its channels fit BM 32 (StagedCoreSwap: 1 operands swapped, 2 and
      // pre-split; 0 not swapped, or not a BM 32 core)
      const int swap = wgmma && tucker_cuda::StagedBM(p.R2, c.th) == 32 ? tucker_cuda::StagedCoreSwap(sizeof(T) == 2) : 0;
      std::ofstream(dir + "/swap32.txt") << swap << "\n";
    } else {
      tucker_cuda::RunStaged<T>(x.data(), wi.data(), wc.data(), wo.data(), b.data(), zp, y.data(), p, c,
                                scratch.data(), go);
    }
  } else if (c.variant == tucker_cuda::kGrid) {
    // A GPU of kEmuSms SMs, so the grid has few blocks and every stage takes several rounds of tasks; the whole
    // grid runs at once (one "cluster"), as a cooperative launch guarantees. Scratch starts as NaN: a read of t1 or
    // t2 that no block wrote shows up in y.
    constexpr int kEmuSms = 2;
    if (!tucker_cuda::GridConfigValid(c)) {
      std::fprintf(stderr, "error: invalid grid config\n");
      return 2;
    }
    const unsigned blocks = static_cast<unsigned>(tucker_cuda::GridBlocks(p, c, kEmuSms));
    std::vector<float> scratch(tucker_cuda::GridScratchWords(p),
                               std::numeric_limits<float>::quiet_NaN());
    const tucker_cuda::GridScratch parts = tucker_cuda::SplitGridScratch(p, scratch.data());
    // DIR/grid_stage.txt: the floats per warp of the core stage's staging buffer (0: every task loads from global)
    const int stage = tucker_cuda::GridStageFloats(std::is_same_v<T, __half>, p, c);
    std::ofstream(dir + "/grid_stage.txt") << stage << "\n";
    auto grid = [&](auto kernel) {
      emu::Launch(dim3(blocks), dim3(c.threads), blocks,
                  sizeof(float) * tucker_cuda::kGridRedFloats + tucker_cuda::GridStageBytes(stage, c), kernel, x.data(),
                  wi.data(), wc.data(), wo.data(), b.data(), zp, y.data(), p, c.tw,
                  int{c.kchunk == tucker_cuda::kGridSpread}, parts, stage);
    };
    const bool k3 = tucker_cuda::GridCore3x3(p);
    if (c.th == 1) k3 ? grid(tucker_cuda::GridKernel<T, 1, 3, 3>) : grid(tucker_cuda::GridKernel<T, 1, 0, 0>);
    else if (c.th == 2) k3 ? grid(tucker_cuda::GridKernel<T, 2, 3, 3>) : grid(tucker_cuda::GridKernel<T, 2, 0, 0>);
    else k3 ? grid(tucker_cuda::GridKernel<T, 4, 3, 3>) : grid(tucker_cuda::GridKernel<T, 4, 0, 0>);
  } else if (c.variant == tucker_cuda::kCluster) {
    const dim3 grid(tiles * c.nsplit, p.batch);
    if (c.kchunk == tucker_cuda::kClusterStaged) run(grid, c.nsplit, tucker_cuda::ClusterKernel<T, true>);
    else run(grid, c.nsplit, tucker_cuda::ClusterKernel<T, false>);
  } else if (c.variant == tucker_cuda::kWmma) {
    const unsigned cs = static_cast<unsigned>(tucker_cuda::WmmaClusterSize(c));
    if (std::is_same_v<T, float> != tucker_cuda::WmmaFp32(c)) {
      std::fprintf(stderr, "error: invalid WMMA config (fp16: nsplit 1 or 2; fp32: nsplit 3)\n");
      return 2;
    }
    if constexpr (std::is_same_v<T, float>) {
      if (cs > 1) run(dim3(tiles * cs, p.batch), cs, tucker_cuda::WmmaKernelTf32<true>);
      else run(dim3(tiles, p.batch), 1, tucker_cuda::WmmaKernelTf32<false>);
    } else {
      if (cs > 1) run(dim3(tiles * cs, p.batch), cs, tucker_cuda::WmmaKernel<true, true>);
      else if (c.nsplit == 2) run(dim3(tiles, p.batch), 1, tucker_cuda::WmmaKernel<true>);
      else run(dim3(tiles, p.batch), 1, tucker_cuda::WmmaKernel<false>);
    }
  } else if (c.variant == tucker_cuda::kSplitK) {
    run(dim3(tiles, p.batch), 1, tucker_cuda::TuckerConvKernel<T>);
  } else {
    const int tm = c.variant == tucker_cuda::kTiled4x4 ? 4 : 2;
    const int nchunk = tucker_cuda::RoundUp(CeilDiv(p.N, c.nsplit), tm);  // TiledChunk
    const dim3 grid(tiles, p.batch, c.nsplit);
    if (tm == 4) run(grid, 1, tucker_cuda::TiledKernel<T, 4, 4>, nchunk, c.kchunk);
    else run(grid, 1, tucker_cuda::TiledKernel<T, 2, 2>, nchunk, c.kchunk);
  }
  std::ofstream(dir + "/y.bin", std::ios::binary).write(reinterpret_cast<const char*>(y.data()),
                                                        static_cast<std::streamsize>(ny * sizeof(T)));
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: kernel_emu DIR\n");
    return 2;
  }
  const std::string dir = argv[1];
  tucker_cuda::Problem p{};
  tucker_cuda::Config c{};
  int relu = 0, has_z = 0, half = 0;
  FILE* f = std::fopen((dir + "/params.txt").c_str(), "r");
  if (f == nullptr || std::fscanf(f, "%d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d",
                                  &p.batch, &p.C, &p.H, &p.W, &p.R1, &p.R2, &p.kh, &p.kw, &p.N, &p.Ho, &p.Wo, &p.sh,
                                  &p.sw, &p.pt, &p.pl, &p.dh, &p.dw, &relu, &has_z, &half, &c.variant, &c.th, &c.tw,
                                  &c.threads, &c.nsplit, &c.kchunk) != 26) {
    std::fprintf(stderr, "error: cannot parse %s/params.txt\n", dir.c_str());
    return 2;
  }
  int tf32 = 0, wgmma = 0;  // optional: Problem::tf32 (the fp32 tensor-core forms' TF32 mode); the staged WG kernels
  if (std::fscanf(f, "%d", &tf32) != 1) tf32 = 0;
  if (std::fscanf(f, "%d", &wgmma) != 1) wgmma = 0;
  std::fclose(f);
  p.relu = relu != 0;
  p.tf32 = tf32 != 0;
  return half ? Run<__half>(dir, p, c, has_z != 0, wgmma != 0) : Run<float>(dir, p, c, has_z != 0, wgmma != 0);
}
