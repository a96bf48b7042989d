// The staged TuckerConv kernel (variant 6): the three stages as three launches of one register-tiled implicit-GEMM
// conv kernel (tucker_conv_staged_kernel.cuh) on ORT's stream, t1 and t2 in fp32 scratch from ORT's arena.
//
// Why: every fused kernel of ours gives a tile's three stages to one block (or cluster, or the whole grid with
// barriers), which wins where a layer is launch- and latency-bound (batch 1, maps up to 28x28) but leaves large
// maps and batch 32 compute-bound at ~8% of the FMA peak, against cuDNN's ~46% (results/NOTES.md, session 7):
// per-tile halos are recomputed, weights are re-read per tile, and the tiles are too small to reuse operands in
// registers. Here each stage is one GEMM over all (image, pixel) columns of the batch with 64-128 x 64-128 block
// tiles and 4x8-8x8 register tiles, like cuDNN's own kernels; the bias, residual and Relu ride on stage 3's stores.
#include "tucker_conv_kernels.cuh"
#include "tucker_conv_launch.h"
#include "tucker_conv_staged_kernel.cuh"
#include "tucker_conv_staged_layout.h"

namespace tucker_cuda {

// (WgmmaAllowed: fp32's wgmma stages read pre-split operands, whose low parts take scratch of their own.)
size_t StagedScratchBytes(const Problem& p, const Config& c) {
  return sizeof(float) * StagedScratchWords(p, c, WgmmaAllowed());
}

cudaError_t LaunchStaged(bool half, const void* x, const void* w_in, const void* w_core, const void* w_out,
                         const void* bias, const void* z, void* y, const Problem& p, const Config& c, void* scratch,
                         cudaStream_t stream, bool pdl) {
  if (!StagedConfigValid(c) || scratch == nullptr) return cudaErrorInvalidValue;
  if (StagedNhwc(c)) return LaunchStagedNhwc(half, x, w_in, w_core, w_out, bias, z, y, p, c, scratch, stream, pdl);
  cudaError_t err = cudaSuccess;
  auto go = [&](auto kernel, dim3 grid, int threads, size_t smem, auto... args) {
    if (err == cudaSuccess) err = LaunchKernel(kernel, grid, dim3(threads), smem, stream, {pdl}, args...);
  };
  auto run = [&](auto tag) {
    using T = decltype(tag);
    RunStaged<T>(static_cast<const T*>(x), static_cast<const T*>(w_in), static_cast<const T*>(w_core),
                 static_cast<const T*>(w_out), static_cast<const T*>(bias), static_cast<const T*>(z), static_cast<T*>(y),
                 p, c, static_cast<float*>(scratch), go);
  };
  if (half) run(__half{});
  else run(float{});
  return err;
}

}  // namespace tucker_cuda
