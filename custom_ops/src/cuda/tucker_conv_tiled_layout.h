// Shared-memory layout and per-stage work split of the tiled TuckerConv kernel, computed the same way on
// the host (shared-memory size, performance model) and on the device (pointer offsets).
#pragma once

#ifdef __CUDACC__
#define TUCKER_HD __host__ __device__ inline
#else
#define TUCKER_HD inline
#endif

namespace tucker_cuda {

constexpr int kChunk = 32;           // reduction rows per unrolled step; a config stages a multiple of it
constexpr int kMaxWinPerThread = 4;  // input-window pixels one thread stages in stage 1

TUCKER_HD int RoundUp(int a, int b) { return (a + b - 1) / b * b; }
TUCKER_HD int CeilDiv(int a, int b) { return (a + b - 1) / b; }
TUCKER_HD int MinI(int a, int b) { return a < b ? a : b; }
TUCKER_HD int MaxI(int a, int b) { return a > b ? a : b; }

// One stage is a block-level GEMM: out[M][cols] = A[M][K] * B[K][cols]. A thread owns a tm x tn register
// tile; thread tiles cover all columns, and as many rows as the block's threads allow per pass.
struct StageSplit {
  int ntn;     // thread tiles across the columns
  int mp;      // rows computed per pass
  int passes;  // ceil(M / mp)
  bool ok;     // every column fits the block's threads
};

TUCKER_HD StageSplit SplitStage(int M, int cols, int threads, int tm, int tn) {
  StageSplit s;
  s.ntn = CeilDiv(cols, tn);
  s.ok = s.ntn <= threads;
  const int row_tiles = MaxI(1, threads / MaxI(s.ntn, 1));
  s.mp = MinI(RoundUp(M, tm), row_tiles * tm);
  s.passes = CeilDiv(M, s.mp);
  return s;
}

// Offsets (in floats) of the kernel's shared-memory arrays for one output tile.
struct TiledLayout {
  int win, winp;     // input window (halo) pixels, padded to a multiple of 4
  int tpix, tpixp;   // output tile pixels, padded to a multiple of 4
  StageSplit s1, s2, s3;
  int asp;           // row length of the staged weight chunk
  int t1, t2, as, bs, koff, total;
  bool ok;
};

// ih_n x iw_n: input window of a th x tw output tile; nchunk: output channels per block (split of N).
// kchunk: reduction rows staged per barrier pair (a multiple of kChunk; larger = fewer memory round trips).
TUCKER_HD TiledLayout MakeTiledLayout(int R1, int R2, int kk, int ih_n, int iw_n, int th, int tw, int nchunk,
                                      int threads, int tm, int tn, int kchunk) {
  TiledLayout L;
  L.win = ih_n * iw_n;
  L.winp = RoundUp(L.win, 4);
  L.tpix = th * tw;
  L.tpixp = RoundUp(L.tpix, 4);
  L.s1 = SplitStage(R1, L.win, threads, tm, tn);
  L.s2 = SplitStage(R2, L.tpix, threads, tm, tn);
  L.s3 = SplitStage(nchunk, L.tpix, threads, tm, tn);
  L.ok = L.s1.ok && L.s2.ok && L.s3.ok && L.win <= kMaxWinPerThread * threads && kchunk % kChunk == 0 &&
         kchunk <= threads;
  L.asp = RoundUp(MaxI(L.s1.mp, MaxI(L.s2.mp, L.s3.mp)), 4);
  L.t1 = 0;
  L.t2 = L.t1 + R1 * L.winp;
  L.as = L.t2 + RoundUp(R2 * L.tpixp, 4);
  L.bs = L.as + kchunk * L.asp;
  L.koff = L.bs + kchunk * L.winp;
  L.total = L.koff + kchunk;
  (void)kk;
  return L;
}

// Shared-memory layout (in floats) of the cluster kernel's blocks, host and device alike: the gathered
// intermediates t1 [R1][winp] and t2 [R2][tpixp], this block's output rows ys [ceil(N/cs)][tpixp], and when
// staged, this block's slices of W_in, W_core and W_out (ceil(R/cs) rows each) and the tile's input window
// xs [C][winp] (zero outside the image), so that no reduction step waits on global memory.
constexpr int kClusterStaged = 64;  // Config::kchunk of a cluster config that stages its weights (32: it does not)

struct ClusterLayout {
  int winp, tpixp;
  int t1, t2, ys, w1, w2, w3, xs, total;
};

TUCKER_HD ClusterLayout MakeClusterLayout(int R1, int R2, int N, int C, int kk, int win, int tpix, int cs, bool staged) {
  ClusterLayout L;
  L.winp = RoundUp(win, 4);
  L.tpixp = RoundUp(tpix, 4);
  L.t1 = 0;
  L.t2 = L.t1 + R1 * L.winp;
  L.ys = L.t2 + R2 * L.tpixp;
  L.w1 = L.ys + CeilDiv(N, cs) * L.tpixp;
  L.w2 = L.w1 + (staged ? CeilDiv(R1, cs) * C : 0);
  L.w3 = L.w2 + (staged ? CeilDiv(R2, cs) * R1 * kk : 0);
  L.xs = RoundUp(L.w3 + (staged ? CeilDiv(N, cs) * R2 : 0), 4);
  L.total = L.xs + (staged ? C * L.winp : 0);
  return L;
}

}  // namespace tucker_cuda
