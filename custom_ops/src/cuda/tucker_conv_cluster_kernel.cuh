// Device code of the cluster TuckerConv kernel (see tucker_conv_cluster.cu). A header of its own so that the
// CPU emulator (custom_ops/emu, tests/test_kernel_emu.py) compiles exactly this code with a host compiler.
#pragma once
#include <cooperative_groups.h>
#include <cuda_fp16.h>

#include "tucker_conv_device.cuh"
#include "tucker_conv_impl.cuh"
#include "tucker_conv_tiled_layout.h"

namespace cg = cooperative_groups;

namespace tucker_cuda {
namespace {

constexpr int TM = 2;  // output rows (channels) per thread tile
constexpr int TP = 4;  // output columns (pixels) per thread tile

// Rows [lo, hi) of an R-row stage that cluster rank q owns.
__device__ __forceinline__ void RowRange(int R, int cs, int q, int* lo, int* hi) {
  const int per = (R + cs - 1) / cs;
  *lo = min(R, q * per);
  *hi = min(R, *lo + per);
}

// out[m][p] (+)= sum_k A(m, k) B(k, p) for m < M, p < P: thread tiles of TM x TP over the outputs, the reduction
// split KS ways (host and device agree through ClusterSplit). fma(acc, m0, k, p0) accumulates one reduction step
// of a tile; the caller's lambdas know each stage's addressing. `out` is zeroed by the caller when KS > 1.
struct GemmSplit {
  int ntp, ntiles, ks;
};

__host__ __device__ inline GemmSplit ClusterSplit(int M, int P, int K, int threads) {
  GemmSplit g;
  g.ntp = (P + TP - 1) / TP;
  g.ntiles = ((M + TM - 1) / TM) * g.ntp;
  int ks = g.ntiles > 0 ? threads / g.ntiles : 1;
  const int kmax = K / 8 > 1 ? K / 8 : 1;  // at least 8 reduction steps per split
  g.ks = ks < 1 ? 1 : (ks > kmax ? kmax : ks);
  return g;
}

template <class Step>
__device__ __forceinline__ void BlockGemm(int M, int P, int K, float* out, int ldo, Step step) {
  if (M <= 0) return;
  const GemmSplit g = ClusterSplit(M, P, K, blockDim.x);
  // Work items (tile, reduction part): more tiles than threads means several rounds per thread.
  for (int w = threadIdx.x; w < g.ntiles * g.ks; w += blockDim.x) {
    const int tile = w % g.ntiles, ks = w / g.ntiles;
    const int m0 = (tile / g.ntp) * TM, p0 = (tile % g.ntp) * TP;
    const int k_lo = static_cast<int>(static_cast<long long>(K) * ks / g.ks);
    const int k_hi = static_cast<int>(static_cast<long long>(K) * (ks + 1) / g.ks);
    float acc[TM][TP];
#pragma unroll
    for (int i = 0; i < TM; ++i)
#pragma unroll
      for (int j = 0; j < TP; ++j) acc[i][j] = 0.f;
    step(acc, m0, p0, k_lo, k_hi);
#pragma unroll
    for (int i = 0; i < TM; ++i) {
      if (m0 + i >= M) break;
#pragma unroll
      for (int j = 0; j < TP; ++j) {
        if (p0 + j >= P) break;
        float* o = out + (m0 + i) * ldo + p0 + j;
        if (g.ks > 1) atomicAdd(o, acc[i][j]);
        else *o = acc[i][j];
      }
    }
  }
}

// Weight rows as the stages read them: straight from global memory (L1/L2), or from the block's shared-memory
// copy of its slice (staged once at kernel start with every load in flight, instead of one L2 round trip per
// unrolled reduction step). Both index rows relative to the block's first row.
template <typename T>
struct GlobalRows {
  const T* p;
  __device__ __forceinline__ float operator[](int i) const { return ld(p + i); }
};
struct SharedRows {
  const float* p;
  __device__ __forceinline__ float operator[](int i) const { return p[i]; }
};

#if (defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900) || defined(TUCKER_EMU)
// Copies rows [lo, hi) x cols of every other cluster rank's array into this block's own copy (DSMEM reads).
__device__ __forceinline__ void GatherRows(cg::cluster_group& cluster, float* local, int R, int cols, int cs) {
  const int me = static_cast<int>(cluster.block_rank());
  for (int q = 0; q < cs; ++q) {
    if (q == me) continue;
    int lo, hi;
    RowRange(R, cs, q, &lo, &hi);
    if (hi <= lo) continue;
    const float4* src = reinterpret_cast<const float4*>(cluster.map_shared_rank(local, q) + lo * cols);
    float4* dst = reinterpret_cast<float4*>(local + lo * cols);
    const int n4 = (hi - lo) * cols / 4;  // cols is a multiple of 4
    for (int i = threadIdx.x; i < n4; i += blockDim.x) dst[i] = src[i];
  }
}
#endif

// Loads kCopyBatch values per thread before storing any, so that many global loads are in flight at once.
constexpr int kCopyBatch = 8;

template <typename T>
__device__ __forceinline__ void CopyRows(float* dst, const T* src, int n) {
  for (int i0 = threadIdx.x; i0 < n; i0 += kCopyBatch * blockDim.x) {
    float v[kCopyBatch];
#pragma unroll
    for (int u = 0; u < kCopyBatch; ++u) {
      const int i = i0 + u * static_cast<int>(blockDim.x);
      v[u] = i < n ? ld(src + i) : 0.f;
    }
#pragma unroll
    for (int u = 0; u < kCopyBatch; ++u) {
      const int i = i0 + u * static_cast<int>(blockDim.x);
      if (i < n) dst[i] = v[u];
    }
  }
}

template <typename T, bool kStaged>
__global__ void __launch_bounds__(512) ClusterKernel(const T* __restrict__ x, const T* __restrict__ w_in,
                                                     const T* __restrict__ w_core, const T* __restrict__ w_out,
                                                     const T* __restrict__ bias, const T* __restrict__ z,
                                                     T* __restrict__ y, Problem p, int th, int tw, int ih_n,
                                                     int iw_n) {
#if (defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 900) || defined(TUCKER_EMU)
  TUCKER_DYNAMIC_SMEM(smem);
  cg::cluster_group cluster = cg::this_cluster();
  const int cs = static_cast<int>(cluster.num_blocks());
  const int q = static_cast<int>(cluster.block_rank());
  const int kk = p.kh * p.kw, K2 = p.R1 * kk;
  const ClusterLayout L = MakeClusterLayout(p.R1, p.R2, p.N, p.C, kk, ih_n * iw_n, th * tw, cs, kStaged);
  const int win = ih_n * iw_n, winp = L.winp;
  const int tpix = th * tw, tpixp = L.tpixp;
  float* t1 = smem + L.t1;  // [R1][winp]
  float* t2 = smem + L.t2;  // [R2][tpixp]
  float* ys = smem + L.ys;  // [ceil(N / cs)][tpixp]
  int r1_lo, r1_hi, r2_lo, r2_hi, n_lo, n_hi;
  RowRange(p.R1, cs, q, &r1_lo, &r1_hi);
  RowRange(p.R2, cs, q, &r2_lo, &r2_hi);
  RowRange(p.N, cs, q, &n_lo, &n_hi);
  const int tiles_w = (p.Wo + tw - 1) / tw;
  const int tile = blockIdx.x / cs;
  const int oh0 = (tile / tiles_w) * th, ow0 = (tile % tiles_w) * tw;
  const int ih0 = oh0 * p.sh - p.pt, iw0 = ow0 * p.sw - p.pl;
  const size_t hw = static_cast<size_t>(p.H) * p.W;
  const T* xn = x + static_cast<size_t>(blockIdx.y) * p.C * hw;
  const int t = threadIdx.x, nthr = blockDim.x;

  // Zero what the split reductions accumulate into (own rows only; padding columns too, so gathers copy zeros).
  for (int i = t; i < (r1_hi - r1_lo) * winp; i += nthr) t1[r1_lo * winp + i] = 0.f;
  for (int i = t; i < (r2_hi - r2_lo) * tpixp; i += nthr) t2[r2_lo * tpixp + i] = 0.f;
  for (int i = t; i < (n_hi - n_lo) * tpixp; i += nthr) ys[i] = 0.f;

  const auto stages = [&](auto w1, auto w2, auto w3) {
    // Stage 1: t1[r1_lo..r1_hi)[window] = W_in . X; window positions outside the image read zero.
    const int M1 = r1_hi - r1_lo;
    BlockGemm(M1, win, p.C, t1 + r1_lo * winp, winp, [&](float(&acc)[TM][TP], int m0, int p0, int k0, int k1) {
      int xoff[TP];
#pragma unroll
      for (int j = 0; j < TP; ++j) {  // WindowPixel inlined by hand: the call makes the fp16 kernel spill
        const int c = p0 + j, r = c / iw_n, ih = ih0 + r, iw = iw0 + (c - r * iw_n);
        xoff[j] = (c < win && ih >= 0 && ih < p.H && iw >= 0 && iw < p.W) ? ih * p.W + iw : -1;
      }
      const int ra = m0 * p.C, rb = min(m0 + 1, M1 - 1) * p.C;
      if constexpr (kStaged) {  // X window in shared memory, zero outside the image: one vector load per step
        const float* xs = smem + L.xs + p0;
#pragma unroll 4
        for (int k = k0; k < k1; ++k) {
          const float a0 = w1[ra + k], a1 = w1[rb + k];
          const float4 b = *reinterpret_cast<const float4*>(xs + k * winp);
          const float bv[TP] = {b.x, b.y, b.z, b.w};
#pragma unroll
          for (int j = 0; j < TP; ++j) {
            acc[0][j] = fmaf(a0, bv[j], acc[0][j]);
            acc[1][j] = fmaf(a1, bv[j], acc[1][j]);
          }
        }
      } else {
#pragma unroll 4
        for (int k = k0; k < k1; ++k) {
          const float a0 = w1[ra + k], a1 = w1[rb + k];
          const T* xk = xn + static_cast<size_t>(k) * hw;
#pragma unroll
          for (int j = 0; j < TP; ++j) {
            const float b = xoff[j] >= 0 ? ld(xk + xoff[j]) : 0.f;
            acc[0][j] = fmaf(a0, b, acc[0][j]);
            acc[1][j] = fmaf(a1, b, acc[1][j]);
          }
        }
      }
    });
    cluster.sync();  // every rank's t1 rows are complete
    GatherRows(cluster, t1, p.R1, winp, cs);
    __syncthreads();

    // Stage 2: t2[r2_lo..r2_hi)[tile] = W_core . im2col(t1); the reduction is split over r1 (all taps per step).
    const int M2 = r2_hi - r2_lo;
    BlockGemm(M2, tpix, p.R1, t2 + r2_lo * tpixp, tpixp, [&](float(&acc)[TM][TP], int m0, int p0, int k0, int k1) {
      int base[TP];
#pragma unroll
      for (int j = 0; j < TP; ++j) {
        const int c = min(p0 + j, tpix - 1);
        base[j] = (c / tw) * p.sh * iw_n + (c % tw) * p.sw;
      }
      const int ra = m0 * K2, rb = min(m0 + 1, M2 - 1) * K2;
      for (int r1 = k0; r1 < k1; ++r1) {
        const float* src = t1 + r1 * winp;
        for (int i = 0; i < p.kh; ++i) {
          const float* row = src + i * p.dh * iw_n;
          const int wk = r1 * kk + i * p.kw;
#pragma unroll 4
          for (int jj = 0; jj < p.kw; ++jj) {
            const float a0 = w2[ra + wk + jj], a1 = w2[rb + wk + jj];
            const float* s = row + jj * p.dw;
#pragma unroll
            for (int j = 0; j < TP; ++j) {
              const float b = s[base[j]];
              acc[0][j] = fmaf(a0, b, acc[0][j]);
              acc[1][j] = fmaf(a1, b, acc[1][j]);
            }
          }
        }
      }
    });
    cluster.sync();  // every rank's t2 rows are complete
    GatherRows(cluster, t2, p.R2, tpixp, cs);
    cluster.sync();  // no rank reads this block's shared memory after this point (blocks may exit early)

    // Stage 3: ys[n_lo..n_hi)[tile] = W_out . t2.
    const int M3 = n_hi - n_lo;
    BlockGemm(M3, tpix, p.R2, ys, tpixp, [&](float(&acc)[TM][TP], int m0, int p0, int k0, int k1) {
      const int ra = m0 * p.R2, rb = min(m0 + 1, M3 - 1) * p.R2;
#pragma unroll 4
      for (int k = k0; k < k1; ++k) {
        const float a0 = w3[ra + k], a1 = w3[rb + k];
        const float4 b = *reinterpret_cast<const float4*>(t2 + k * tpixp + p0);
        const float bv[TP] = {b.x, b.y, b.z, b.w};
#pragma unroll
        for (int j = 0; j < TP; ++j) {
          acc[0][j] = fmaf(a0, bv[j], acc[0][j]);
          acc[1][j] = fmaf(a1, bv[j], acc[1][j]);
        }
      }
    });
  };

  if constexpr (kStaged) {
    // This block's weight slices, converted to fp32 once: contiguous rows in global memory.
    float* ws1 = smem + L.w1;
    float* ws2 = smem + L.w2;
    float* ws3 = smem + L.w3;
    const T* g1 = w_in + static_cast<size_t>(r1_lo) * p.C;
    const T* g2 = w_core + static_cast<size_t>(r2_lo) * K2;
    const T* g3 = w_out + static_cast<size_t>(n_lo) * p.R2;
    const int n1 = (r1_hi - r1_lo) * p.C, n2 = (r2_hi - r2_lo) * K2, n3 = (n_hi - n_lo) * p.R2;
    CopyRows(ws1, g1, n1);
    CopyRows(ws2, g2, n2);
    CopyRows(ws3, g3, n3);
    // The tile's input window, C x winp, zero outside the image and in the padding columns.
    float* xs = smem + L.xs;
    for (int i0 = t; i0 < p.C * winp; i0 += kCopyBatch * nthr) {
      float v[kCopyBatch];
#pragma unroll
      for (int u = 0; u < kCopyBatch; ++u) {
        const int i = i0 + u * nthr, c = i / winp;
        const int off = i < p.C * winp ? WindowPixel(i - c * winp, win, iw_n, ih0, iw0, p.H, p.W) : -1;
        v[u] = off >= 0 ? ld(xn + static_cast<size_t>(c) * hw + off) : 0.f;
      }
#pragma unroll
      for (int u = 0; u < kCopyBatch; ++u)
        if (i0 + u * nthr < p.C * winp) xs[i0 + u * nthr] = v[u];
    }
    __syncthreads();
    stages(SharedRows{ws1}, SharedRows{ws2}, SharedRows{ws3});
  } else {
    __syncthreads();
    stages(GlobalRows<T>{w_in + static_cast<size_t>(r1_lo) * p.C},
           GlobalRows<T>{w_core + static_cast<size_t>(r2_lo) * K2},
           GlobalRows<T>{w_out + static_cast<size_t>(n_lo) * p.R2});
  }
  __syncthreads();

  // Epilogue: + bias (+ residual), Relu, coalesced along the tile's rows.
  const size_t ohw = static_cast<size_t>(p.Ho) * p.Wo;
  for (int i = t; i < (n_hi - n_lo) * tpix; i += nthr) {
    const int m = i / tpix, c = i - m * tpix;
    const int oh = oh0 + c / tw, ow = ow0 + c % tw;
    if (oh >= p.Ho || ow >= p.Wo) continue;
    const int n = n_lo + m;
    const size_t o = (static_cast<size_t>(blockIdx.y) * p.N + n) * ohw + static_cast<size_t>(oh) * p.Wo + ow;
    float v = ys[m * tpixp + c] + ld(bias + n);
    if (z != nullptr) v += ld(z + o);
    if (p.relu) v = fmaxf(v, 0.f);
    st(y + o, v);
  }
#endif
}

}  // namespace
}  // namespace tucker_cuda
