// A CPU emulation of the CUDA features the TuckerConv kernels use, so that their own source
// (tucker_conv_*_kernel.cuh) compiles with g++ and runs on host threads: one std::thread per CUDA thread,
// std::barrier for __syncthreads, __syncwarp, cluster.sync and grid.sync, a per-block shared-memory buffer (filled with NaN,
// so reads of unwritten shared memory show up in the results), DSMEM through the cluster's table of those buffers,
// shared float atomics through std::atomic_ref, and WMMA with each lane holding the whole 16x16 tile (fp16
// products summed in fp32, as tensor cores do). Correctness only: it says nothing about speed.
// Why: device time is scarce, and a kernel bug (the session-3 tile bug) should be found by CI, not on the GPU.
#pragma once
#include <algorithm>
#include <atomic>
#include <barrier>
#include <optional>
#include <bit>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <thread>
#include <type_traits>
#include <vector>

#define TUCKER_EMU 1
#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __align__(n) alignas(n)

struct dim3 {
  unsigned x, y, z;
  constexpr dim3(unsigned a = 1, unsigned b = 1, unsigned c = 1) : x(a), y(b), z(c) {}
};
struct alignas(16) float4 {
  float x, y, z, w;
};
struct alignas(8) float2 {
  float x, y;
};
struct alignas(16) uint4 {
  unsigned x, y, z, w;
};

// cuda_runtime.h types the host API of the kernels' headers names.
using cudaError_t = int;
using cudaStream_t = void*;
constexpr cudaError_t cudaSuccess = 0;

struct __half {
  std::uint16_t bits;
};
inline float __half2float(__half h) { return static_cast<float>(std::bit_cast<_Float16>(h.bits)); }
inline float __uint_as_float(unsigned u) { return std::bit_cast<float>(u); }
inline unsigned __float_as_uint(float f) { return std::bit_cast<unsigned>(f); }
inline __half __float2half_rn(float f) { return __half{std::bit_cast<std::uint16_t>(static_cast<_Float16>(f))}; }

namespace emu {
struct Block {
  std::barrier<>* bar;
  float* smem;
  std::vector<std::barrier<>*> warps;
};
struct Cluster {
  std::barrier<>* bar;
  std::vector<float*> smem;
};
inline thread_local dim3 thread_idx, block_idx, block_dim, grid_dim;
inline thread_local Block* block = nullptr;
inline thread_local Cluster* cluster = nullptr;
inline thread_local unsigned rank = 0, cluster_size = 1;
inline thread_local std::optional<std::barrier<>::arrival_token> cluster_token;  // a split cluster barrier's arrival
}  // namespace emu

#define threadIdx (emu::thread_idx)
#define blockIdx (emu::block_idx)
#define blockDim (emu::block_dim)
#define gridDim (emu::grid_dim)
#define TUCKER_DYNAMIC_SMEM(name) float* name = emu::block->smem

inline void __syncthreads() { emu::block->bar->arrive_and_wait(); }
inline void __syncwarp() { emu::block->warps[emu::thread_idx.x / 32]->arrive_and_wait(); }
template <typename T>
inline T __ldg(const T* p) { return *p; }
template <typename T>
inline T __ldcg(const T* p) { return *p; }
template <typename T>
inline T __ldca(const T* p) { return *p; }
inline float atomicAdd(float* p, float v) { return std::atomic_ref<float>(*p).fetch_add(v); }
inline int atomicAdd(int* p, int v) { return std::atomic_ref<int>(*p).fetch_add(v); }
inline void __threadfence() { std::atomic_thread_fence(std::memory_order_seq_cst); }
#define TUCKER_LOAD_ACQUIRE(p) (std::atomic_ref<int>(*const_cast<int*>(p)).load(std::memory_order_acquire))
using std::fmaf;
using std::fmaxf;
inline int min(int a, int b) { return a < b ? a : b; }
inline int max(int a, int b) { return a > b ? a : b; }

namespace cooperative_groups {
struct cluster_group {
  unsigned num_blocks() const { return emu::cluster_size; }
  unsigned block_rank() const { return emu::rank; }
  void sync() const { emu::cluster->bar->arrive_and_wait(); }
  // The split form (barrier.cluster.arrive / barrier.cluster.wait).
  void barrier_arrive() const { emu::cluster_token.emplace(emu::cluster->bar->arrive()); }
  void barrier_wait() const {
    emu::cluster->bar->wait(std::move(*emu::cluster_token));
    emu::cluster_token.reset();
  }
  template <typename T>
  T* map_shared_rank(T* p, unsigned r) const {
    const std::ptrdiff_t off = reinterpret_cast<char*>(p) - reinterpret_cast<char*>(emu::block->smem);
    return reinterpret_cast<T*>(reinterpret_cast<char*>(emu::cluster->smem[r]) + off);
  }
};
inline cluster_group this_cluster() { return {}; }
// The grid kernel's barrier: its driver runs the whole grid as one cluster (every block at once), so a grid barrier
// is the cluster's.
struct grid_group {
  void sync() const { emu::cluster->bar->arrive_and_wait(); }
};
inline grid_group this_grid() { return {}; }
}  // namespace cooperative_groups

namespace emu {
// Runs one cluster of cs blocks (block x indices first.x .. first.x + cs - 1), a host thread per CUDA thread.
template <class Kernel, class... Args>
void RunCluster(dim3 first, dim3 grid, dim3 blk, unsigned cs, std::size_t smem_bytes, Kernel kernel, Args... args) {
  const unsigned threads = blk.x;
  std::barrier<> cbar(static_cast<std::ptrdiff_t>(cs * threads));
  std::vector<std::unique_ptr<std::barrier<>>> bars;
  std::vector<std::vector<float>> mem(cs, std::vector<float>(smem_bytes / sizeof(float) + 4,
                                                             std::numeric_limits<float>::quiet_NaN()));
  Cluster cl{&cbar, {}};
  std::vector<Block> blocks(cs);
  for (unsigned r = 0; r < cs; ++r) {
    bars.push_back(std::make_unique<std::barrier<>>(static_cast<std::ptrdiff_t>(threads)));
    cl.smem.push_back(mem[r].data());
    blocks[r] = Block{bars.back().get(), mem[r].data(), {}};
    for (unsigned w = 0; w * 32 < threads; ++w) {  // a partial last warp has threads % 32 lanes
      bars.push_back(std::make_unique<std::barrier<>>(static_cast<std::ptrdiff_t>(std::min(32u, threads - w * 32))));
      blocks[r].warps.push_back(bars.back().get());
    }
  }
  std::vector<std::thread> pool;
  pool.reserve(cs * threads);
  for (unsigned r = 0; r < cs; ++r)
    for (unsigned t = 0; t < threads; ++t)
      pool.emplace_back([&, r, t] {
        thread_idx = dim3(t);
        block_idx = dim3(first.x + r, first.y, first.z);
        block_dim = blk;
        grid_dim = grid;
        block = &blocks[r];
        cluster = &cl;
        rank = r;
        cluster_size = cs;
        kernel(args...);
      });
  for (auto& th : pool) th.join();
}

// Runs kernel<<<grid, block, smem_bytes>>> with clusters of cs blocks along x (1: no clusters), one cluster at a
// time: blocks of different clusters never run together, which a correct kernel must not notice.
template <class Kernel, class... Args>
void Launch(dim3 grid, dim3 blk, unsigned cs, std::size_t smem_bytes, Kernel kernel, Args... args) {
  for (unsigned bz = 0; bz < grid.z; ++bz)
    for (unsigned by = 0; by < grid.y; ++by)
      for (unsigned bx0 = 0; bx0 < grid.x; bx0 += cs)
        RunCluster(dim3(bx0, by, bz), grid, blk, cs, smem_bytes, kernel, args...);
}
}  // namespace emu
