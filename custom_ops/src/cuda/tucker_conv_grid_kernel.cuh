// Device code of the grid-wide TuckerConv kernel (variant 5; launcher and design in tucker_conv_grid.cu).
#pragma once
#include <cooperative_groups.h>
#include <cuda_fp16.h>

#include <type_traits>

#include "tucker_conv_device.cuh"
#include "tucker_conv_grid_layout.h"
#include "tucker_conv_impl.cuh"

namespace tucker_cuda {

#ifdef TUCKER_GRID_TIMES
// tools/grid_probe.cu's stage timer (build-time, off in the library): per block, clock64() at the kernel's start
// (after PdlWait), at the end of each stage (after a block barrier) and after each grid barrier: six marks; then
// thread 0's own marks inside each stage (after prep, after partial, after the reduction): three per stage.
__device__ long long g_grid_times[kGridTimesBlocks * kGridMarks];
#define TUCKER_GRID_MARK1(i)                                                                                  \
  do {                                                                                                        \
    if (threadIdx.x == 0 && blockIdx.x < kGridTimesBlocks) g_grid_times[blockIdx.x * kGridMarks + (i)] = clock64(); \
  } while (0)
#define TUCKER_GRID_MARK(i) \
  do {                      \
    __syncthreads();        \
    TUCKER_GRID_MARK1(i);   \
  } while (0)
#else
#define TUCKER_GRID_MARK1(i) \
  do {                       \
  } while (0)
#define TUCKER_GRID_MARK(i) TUCKER_GRID_MARK1(i)
#endif

namespace {

// One GEMM stage spread over the whole grid: out(m, q) = sum_k A(m, k) B(k, q), m < M, q < P. A task is MB rows
// x 32 columns (a lane per column); S warps of a block share a task's reduction (each runs partial() over its
// slice of k) and their partial sums meet in shared memory; a block holds up to warps / S tasks at a time and the
// grid strides over the tasks. With S = 1 there is no reduction and no block barrier.
// A block takes a run of consecutive tasks per round (neighbouring tasks read the same t1 columns, so they share
// L1): `slots` of them, or with `spread` (grid config kchunk kGridSpread) only ceil(tasks / blocks), so that a
// stage with fewer tasks than the grid has slots keeps every SM busy instead of filling the first blocks and
// leaving the rest idle at the barrier (what the model's GridCycles already assumes).
// `wait(j)` runs before a task of column group j starts, `done(j)` once per finished task after its stores are
// fenced (kGridFlags' counters; no-ops otherwise). `prep(m0, q0, part)` runs on all 32 lanes of a warp with a task
// (q0 its first column), before partial(), which lanes past P skip: a warp-wide copy into shared memory goes there.
struct NoHook {
  __device__ __forceinline__ void operator()(int) const {}
};

// f when On, else the no-op: the kGridFlags hooks compile away when the counters are off.
template <bool On, typename F>
__device__ __forceinline__ auto Hook(F f) {
  if constexpr (On) return f;
  else return NoHook{};
}

struct NoPrep {
  __device__ __forceinline__ void operator()(int, int, int) const {}
};

template <int MB, typename Partial, typename Store, typename Wait = NoHook, typename Done = NoHook,
          typename Prep = NoPrep>
__device__ __forceinline__ void GridStage(int M, int P, int S, bool spread, float* red, Partial partial, Store store,
                                          Wait wait = {}, Done done = {}, Prep prep = {}, int mark = 0) {
  constexpr bool kSignal = !std::is_same_v<Done, NoHook>;
  const int warps = blockDim.x >> 5, warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  const int slots = warps / S, slot = warp / S, part = warp - slot * S;
  const int mg = (M + MB - 1) / MB, tasks = mg * ((P + 31) / 32);
  const int blocks = static_cast<int>(gridDim.x);
  const int per = spread ? min(slots, (tasks + blocks - 1) / blocks) : slots;  // tasks a block takes per round
  for (int base = blockIdx.x * per; base < tasks; base += gridDim.x * per) {
    const int t = base + slot, m0 = (t % mg) * MB, q = (t / mg) * 32 + lane;
    const bool mine = slot < per && t < tasks;
    float acc[MB];
#pragma unroll
    for (int u = 0; u < MB; ++u) acc[u] = 0.f;
    if (mine) prep(m0, q - lane, part);
    TUCKER_GRID_MARK1(mark);
    if (mine && q < P) {
      wait(t / mg);
      partial(m0, q, part, acc);
    }
    TUCKER_GRID_MARK1(mark + 1);
    if (S == 1) {
      if (mine && q < P) {
#pragma unroll
        for (int u = 0; u < MB; ++u)
          if (m0 + u < M) store(m0 + u, q, acc[u]);
      }
      if constexpr (kSignal) {
        __threadfence();  // each lane's stores before the warp's signal
        __syncwarp();
        if (lane == 0 && mine) done(t / mg);
      }
      continue;
    }
#pragma unroll
    for (int u = 0; u < MB; ++u) red[(warp * MB + u) * 32 + lane] = acc[u];
    __syncthreads();
    for (int i = threadIdx.x; i < per * MB * 32; i += blockDim.x) {
      const int l = i & 31, u = (i >> 5) % MB, g = i / (32 * MB);
      const int tt = base + g, mm = (tt % mg) * MB + u, qq = (tt / mg) * 32 + l;
      if (tt >= tasks || qq >= P || mm >= M) continue;
      float v = 0.f;
      for (int s = 0; s < S; ++s) v += red[((g * S + s) * MB + u) * 32 + l];
      store(mm, qq, v);
    }
    TUCKER_GRID_MARK1(mark + 2);
    if constexpr (kSignal) __threadfence();  // every thread's stores before the signals
    __syncthreads();
    if constexpr (kSignal) {
      if (static_cast<int>(threadIdx.x) < per && base + static_cast<int>(threadIdx.x) < tasks)
        done((base + threadIdx.x) / mg);
    }
  }
}

// Reads of t1 and t2 (kGridL1 says why L1 is safe); with kGridFlags, t2 from L2 only (see there).
__device__ __forceinline__ float LdScratch(const float* p) {
  if constexpr (kGridL1) return __ldca(p);
  return __ldcg(p);
}
__device__ __forceinline__ float LdT2(const float* p) {
  if constexpr (kGridFlags) return __ldcg(p);
  return LdScratch(p);
}

// acc[u] += sum over k in [k0, k1) of W_u[k] act(k) for the MB weight rows wp[u] (stages 1 and 3): k0 and k1
// multiples of 4 and every row quad-aligned, so four weights come in one load.
template <int MB, typename T, typename Act>
__device__ __forceinline__ void QuadDot(int k0, int k1, const T* const* wp, Act act, float* acc) {
#pragma unroll 2
  for (int k = k0; k < k1; k += 4) {
    float a[4], w[4];
#pragma unroll
    for (int i = 0; i < 4; ++i) a[i] = act(k + i);
#pragma unroll
    for (int u = 0; u < MB; ++u) {
      ld4(wp[u] + k, w);
#pragma unroll
      for (int i = 0; i < 4; ++i) acc[u] = fmaf(w[i], a[i], acc[u]);
    }
  }
}

// t1 and t2 are written and read inside one launch, so they are read with LdScratch, never the read-only
// path; everything else is read-only for the kernel's lifetime.
// KH x KW > 0: the core's size known at compile time (3x3, the common case), so each R1 step issues all its taps'
// loads at once; 0 x 0: any core, taps looped at run time (R1 unrolled inside them instead).
template <typename T, int MB, int KH, int KW>
__global__ void __launch_bounds__(512) GridKernel(const T* __restrict__ x, const T* __restrict__ w_in,
                                                  const T* __restrict__ w_core, const T* __restrict__ w_out,
                                                  const T* __restrict__ bias, const T* __restrict__ z,
                                                  T* __restrict__ y, Problem p, int S, int spread,
                                                  GridScratch scratch, int stage_floats) {
#ifdef TUCKER_EMU
  TUCKER_DYNAMIC_SMEM(red);  // the emulator's per-block buffer: kGridRedFloats, then the staging buffer
  float* const stage_smem = red + kGridRedFloats;
#else
  __shared__ float red[kGridRedFloats];  // [warps][MB][32] partial sums
  TUCKER_DYNAMIC_SMEM(stage_smem);       // stage_floats per warp (GridStageFloats; 0: none)
#endif
  const int hw = p.H * p.W, ohw = p.Ho * p.Wo, kk = p.kh * p.kw;
  PdlWait();  // PDL; no early trigger here (why: tucker_conv_device.cuh)
  TUCKER_GRID_MARK(0);
  // Weights read four at a time where every row starts quad-aligned (channels / ranks multiples of 4, as in
  // every model we rewrite); the 3x3 core reads a row's kGridR1Group x 9 weights of one R1 group at once.
  float* const t1 = scratch.t1;
  float* const t2 = scratch.t2;
  int* const flags = scratch.flags;  // kGridFlags: one counter per 32-column group of stages 2 and 3
  const int groups = (p.batch * ohw + 31) / 32, tasks2 = (p.R2 + MB - 1) / MB;
  if constexpr (kGridFlags) {
    for (int i = blockIdx.x * blockDim.x + threadIdx.x; i < groups; i += gridDim.x * blockDim.x) flags[i] = 0;
  }
  const bool vec_in = kGridVec && p.C % 4 == 0 && Aligned4(w_in);
  const bool vec_out = kGridVec && p.R2 % 4 == 0 && Aligned4(w_out);
  const bool vec_core =
      kGridVec && KH > 0 && KH * KW * kGridR1Group % 4 == 0 && p.R1 % kGridR1Group == 0 && Aligned4(w_core);
  // Stage 2 stages each warp's inputs in shared memory where they fit (fp32, whole R1 groups; PlanGridCoreStage).
  const bool stage2_vec = vec_core && kGridL1 && stage_floats > 0;

  // Stage 1: t1[n][r1][h][w] = sum_c W_in[r1][c] X[n][c][h][w] over the whole input (columns q = n, h, w).
  GridStage<MB>(
      p.R1, p.batch * hw, S, spread != 0, red,
      [&](int m0, int q, int part, float* acc) {
        int c0, c1;
        Slice(p.C, S, part, &c0, &c1, vec_in ? 4 : 1);
        const int n = q / hw, pix = q - n * hw;
        const T* xp = x + (static_cast<size_t>(n) * p.C) * hw + pix;
        const T* wp[MB];
#pragma unroll
        for (int u = 0; u < MB; ++u) wp[u] = w_in + static_cast<size_t>(min(m0 + u, p.R1 - 1)) * p.C;
        if (vec_in) {  // slices of whole quads: no tail
          QuadDot<MB>(c0, c1, wp, [&](int c) { return ld(xp + static_cast<size_t>(c) * hw); }, acc);
          return;
        }
#pragma unroll 8
        for (int c = c0; c < c1; ++c) {
          const float xv = ld(xp + static_cast<size_t>(c) * hw);
#pragma unroll
          for (int u = 0; u < MB; ++u) acc[u] = fmaf(ld(wp[u] + c), xv, acc[u]);
        }
      },
      [&](int m, int q, float v) {
        const int n = q / hw;
        t1[(static_cast<size_t>(n) * p.R1 + m) * hw + (q - n * hw)] = v;
      },
      NoHook{}, NoHook{}, NoPrep{}, 6);
  TUCKER_GRID_MARK(1);
  cooperative_groups::this_grid().sync();
  TUCKER_GRID_MARK(2);

  // Stage 2: t2[n][r2][oh][ow] = core conv of t1 (zero outside the map), reduction over R1 x taps.
  GridStage<MB>(
      p.R2, p.batch * ohw, S, spread != 0, red,
      [&](int m0, int q, int part, float* acc) {
        int r0, r1e;
        Slice(p.R1, S, part, &r0, &r1e, vec_core ? kGridR1Group : 1);
        const int n = q / ohw, o = q - n * ohw, oh = o / p.Wo, ow = o - oh * p.Wo;
        const int ih0 = oh * p.sh - p.pt, iw0 = ow * p.sw - p.pl;
        const float* tp = t1 + static_cast<size_t>(n) * p.R1 * hw;
        const T* wp[MB];
#pragma unroll
        for (int u = 0; u < MB; ++u) wp[u] = w_core + static_cast<size_t>(min(m0 + u, p.R2 - 1)) * p.R1 * kk;
        if constexpr (KH > 0) {
          // R1 outside, the KH x KW taps unrolled inside: 9 independent t1 loads (and their weights) per step
          // of a 3x3 core instead of one L2 round trip per tap.
          int off[KH * KW];
          bool ok[KH * KW];
#pragma unroll
          for (int i = 0; i < KH; ++i)
#pragma unroll
            for (int j = 0; j < KW; ++j) {
              const int ih = ih0 + i * p.dh, iw = iw0 + j * p.dw;
              ok[i * KW + j] = ih >= 0 && ih < p.H && iw >= 0 && iw < p.W;
              off[i * KW + j] = ok[i * KW + j] ? ih * p.W + iw : 0;
            }
          if constexpr (std::is_same_v<T, float> && KH * KW <= kGridTapsPad) {
            const GridCoreStage cs = stage2_vec ? PlanGridCoreStage(p, q & ~31, p.batch * ohw, r1e - r0, MB)
                                                : GridCoreStage{0, 0, 0, 0};
            if (cs.need > 0 && cs.need <= stage_floats) {  // prep() staged the warp's t1 rows and weights
              const float* st1 = stage_smem + (threadIdx.x >> 5) * stage_floats;
              const float* sw = st1 + cs.wofs;
              constexpr int kPad = kGridTapsPad;
              const int slice = r1e - r0, wrow = slice * kPad;
#pragma unroll
              for (int t = 0; t < KH * KW; ++t) off[t] -= ok[t] ? cs.ih0 * p.W : 0;
              // Two R1 steps per unrolled step (shared-memory reads need no long run in flight; four spill).
              constexpr int kG = 2;
              for (int rl = 0; rl < slice; rl += kG) {
                float v[kG][KH * KW];
#pragma unroll
                for (int g = 0; g < kG; ++g)
#pragma unroll
                  for (int t = 0; t < KH * KW; ++t) v[g][t] = ok[t] ? st1[(rl + g) * cs.win + off[t]] : 0.f;
#pragma unroll
                for (int u = 0; u < MB; ++u) {
                  float w[kG * kPad];
#pragma unroll
                  for (int i = 0; i < kG * kPad; i += 4) LoadVec<4>(sw + u * wrow + rl * kPad + i, w + i);
#pragma unroll
                  for (int g = 0; g < kG; ++g)
#pragma unroll
                    for (int t = 0; t < KH * KW; ++t) acc[u] = fmaf(w[g * kPad + t], v[g][t], acc[u]);
                }
              }
              return;
            }
          }
          // kGridR1Group R1 steps' t1 loads are issued before any of their FMAs (tools/grid_probe.cu times 1, 2, 4).
          for (int rb = r0; rb < r1e; rb += kGridR1Group) {
            float v[kGridR1Group][KH * KW];
#pragma unroll
            for (int g = 0; g < kGridR1Group; ++g) {
              const float* src = tp + static_cast<size_t>(rb + g) * hw;
#pragma unroll
              for (int t = 0; t < KH * KW; ++t) v[g][t] = (rb + g < r1e && ok[t]) ? LdScratch(src + off[t]) : 0.f;
            }
            if (vec_core) {  // a row's weights of the whole group are contiguous and quad-aligned: no tail
#pragma unroll
              for (int u = 0; u < MB; ++u) {
                float w[kGridR1Group * KH * KW];
#pragma unroll
                for (int i = 0; i < kGridR1Group * KH * KW; i += 4) ld4(wp[u] + rb * (KH * KW) + i, w + i);
#pragma unroll
                for (int g = 0; g < kGridR1Group; ++g)
#pragma unroll
                  for (int t = 0; t < KH * KW; ++t) acc[u] = fmaf(w[g * (KH * KW) + t], v[g][t], acc[u]);
              }
              continue;
            }
#pragma unroll
            for (int g = 0; g < kGridR1Group; ++g) {
              if (rb + g >= r1e) break;
              const int r1 = rb + g;
#pragma unroll
              for (int t = 0; t < KH * KW; ++t)
#pragma unroll
                for (int u = 0; u < MB; ++u) acc[u] = fmaf(ld(wp[u] + r1 * (KH * KW) + t), v[g][t], acc[u]);
            }
          }
        } else {
          // Taps outside, R1 inside and unrolled: the t1 loads of consecutive r1 are independent, so several are
          // in flight at once (r1 outside left one L2 round trip exposed per tap: 33 us on 192->160@7, session 5).
          for (int i = 0; i < p.kh; ++i) {
            const int ih = ih0 + i * p.dh;
            if (ih < 0 || ih >= p.H) continue;
            for (int j = 0; j < p.kw; ++j) {
              const int iw = iw0 + j * p.dw;
              if (iw < 0 || iw >= p.W) continue;
              const float* src = tp + ih * p.W + iw;
              const int tap = i * p.kw + j;
#pragma unroll 8
              for (int r1 = r0; r1 < r1e; ++r1) {
                const float v = LdScratch(src + static_cast<size_t>(r1) * hw);
#pragma unroll
                for (int u = 0; u < MB; ++u) acc[u] = fmaf(ld(wp[u] + r1 * kk + tap), v, acc[u]);
              }
            }
          }
        }
      },
      [&](int m, int q, float v) {
        const int n = q / ohw;
        t2[(static_cast<size_t>(n) * p.R2 + m) * ohw + (q - n * ohw)] = v;
      },
      NoHook{}, Hook<kGridFlags>([&](int j) { atomicAdd(flags + j, 1); }),
      [&](int m0, int q0, int part) {  // all of a warp's lanes copy its task's t1 rows and weights to shared memory
        if constexpr (std::is_same_v<T, float> && KH > 0 && KH * KW <= kGridTapsPad) {
          if (!stage2_vec) return;
          int r0, r1e;
          Slice(p.R1, S, part, &r0, &r1e, kGridR1Group);
          const GridCoreStage cs = PlanGridCoreStage(p, q0, p.batch * ohw, r1e - r0, MB);
          if (cs.need == 0 || cs.need > stage_floats) return;
          constexpr int kPad = kGridTapsPad;
          const int lane = threadIdx.x & 31, slice = r1e - r0, n0 = q0 / ohw;
          float* const st1 = stage_smem + (threadIdx.x >> 5) * stage_floats;
          __syncwarp();  // the warp's reads of its previous task are done
          const float* src = t1 + (static_cast<size_t>(n0) * p.R1 + r0) * hw + cs.ih0 * p.W;
          for (int r = 0; r < slice; ++r, src += hw)  // t1: 4-byte copies (rows start anywhere)
            for (int i = lane; i < cs.win; i += 32) CpAsync4(st1 + r * cs.win + i, src + i);
          // weights: [u][r1][kPad], 4-byte copies (the pad is never read)
#pragma unroll
          for (int u = 0; u < MB; ++u) {
            const float* w = w_core + (static_cast<size_t>(min(m0 + u, p.R2 - 1)) * p.R1 + r0) * (KH * KW);
            float* d = st1 + cs.wofs + u * slice * kPad;
            for (int i = lane; i < slice * (KH * KW); i += 32) {
              const int r = i / (KH * KW);
              CpAsync4(d + r * kPad + (i - r * (KH * KW)), w + i);
            }
          }
          CpAsyncCommit();
          CpAsyncWait<0>();
          __syncwarp();
        }
      },
      9);
  TUCKER_GRID_MARK(3);
  if constexpr (!kGridFlags) cooperative_groups::this_grid().sync();
  TUCKER_GRID_MARK(4);

  // Stage 3: Y = W_out t2 + B (+ Z), Relu.
  GridStage<MB>(
      p.N, p.batch * ohw, S, spread != 0, red,
      [&](int m0, int q, int part, float* acc) {
        int k0, k1;
        Slice(p.R2, S, part, &k0, &k1, vec_out ? 4 : 1);
        const int n = q / ohw, o = q - n * ohw;
        const float* tp = t2 + static_cast<size_t>(n) * p.R2 * ohw + o;
        const T* wp[MB];
#pragma unroll
        for (int u = 0; u < MB; ++u) wp[u] = w_out + static_cast<size_t>(min(m0 + u, p.N - 1)) * p.R2;
        if (vec_out) {
          QuadDot<MB>(k0, k1, wp, [&](int k) { return LdT2(tp + static_cast<size_t>(k) * ohw); }, acc);
          return;
        }
#pragma unroll 8
        for (int k = k0; k < k1; ++k) {
          const float v = LdT2(tp + static_cast<size_t>(k) * ohw);
#pragma unroll
          for (int u = 0; u < MB; ++u) acc[u] = fmaf(ld(wp[u] + k), v, acc[u]);
        }
      },
      [&](int m, int q, float v) {
        const int n = q / ohw;
        const size_t o = (static_cast<size_t>(n) * p.N + m) * ohw + (q - n * ohw);
        v += ld(bias + m);
        if (z != nullptr) v += ld(z + o);
        if (p.relu) v = fmaxf(v, 0.f);
        st(y + o, v);
      },
      Hook<kGridFlags>([&](int j) {  // every stage-2 task of column group j has stored its t2 rows
        while (TUCKER_LOAD_ACQUIRE(flags + j) < tasks2) {
        }
      }),
      NoHook{}, NoPrep{}, 12);
  TUCKER_GRID_MARK(5);
}

}  // namespace
}  // namespace tucker_cuda
