// Hopper warpgroup MMA (wgmma.mma_async, sm_90a) for the channels-last staged family's stages that read channels-last
// scratch (the core conv and stage 3): both operands K-major in shared memory, in wgmma's canonical layout without
// swizzle (8-row x 16-byte core matrices, 128 contiguous bytes each). Why (session 22, call 6, batch-32 traces):
// cuDNN's sm90 wgmma core ran 1.7-4.7x faster than our WMMA (mma.sync) core stage on the same shapes.
// TUCKER_WGMMA is 1 only in the sm_90a device pass (__CUDA_ARCH_FEAT_SM90_ALL; CMake's "90a-real"); elsewhere (the
// compute_90 PTX, other archs, the host pass, the CPU emulator) the kernels keep WMMA.
#pragma once
#include <cuda_fp16.h>

#include <cstdint>

#if defined(__CUDA_ARCH_FEAT_SM90_ALL) && !defined(TUCKER_EMU)
#define TUCKER_WGMMA 1
#else
#define TUCKER_WGMMA 0
#endif

namespace tucker_cuda {
namespace {

// The 64-byte-swizzled K-major tile (wgmma's swizzle mode 2) of 64-byte rows (4 groups: 32 fp16 or 16 fp32 of K):
// row r at r x 64 bytes, its group g stored at g ^ ((r / 2) % 4), so the 8 rows of a core matrix column fall in
// distinct banks (without swizzle, wgmma's reads of one K group across 8-row groups 512 bytes apart all hit the
// same banks: session 23, call 3). Row groups of 8 are 512 bytes apart (the stride byte offset); a tile starts 512-byte aligned.
__host__ __device__ constexpr int WgmmaSw64(int r, int g, int v) { return (r * 4 + (g ^ ((r >> 1) & 3))) * v; }
// The 64-byte-swizzled N-major tile (B[k][n], n contiguous; fp16) of nw columns: atoms of 32 columns (64 bytes) x 8
// rows, swizzled as above, adjacent along the columns (512 bytes apart: the descriptor's leading byte offset) and
// 8-row groups nw / 32 atoms apart (its stride byte offset); the group of columns 8 x n8.. of row k.
// tools/wgmma_probe.cu checks it (8-row-group-major atoms, offsets either way, failed for N >= 64 on the H200).
__host__ __device__ constexpr int WgmmaSw64Mn(int k, int n8, int nw, int v) {
  return (((k >> 3) * (nw / 32) + (n8 >> 2)) * 32 + (k & 7) * 4 + ((n8 & 3) ^ ((k >> 1) & 3))) * v;
}

// fp32 stage 1 in the wgmma form (kT1 in tucker_conv_nhwc_kernel.cuh): its raw B tile (16 rows of the channels-first
// input x bn / 4 16-byte groups) is copied as group v = thread + 256 u: row NhwcT1Row(v), group NhwcT1Group(v), so that
// a warp's copy (v / 32) covers 4 rows x 8 groups, 128 contiguous bytes of each of 4 input channels.
// custom_ops/emu/wgmma_layout_check.cc checks it, and the register-operand loads from the tile (WgmmaRA64).
__host__ __device__ constexpr int NhwcT1Row(int v) { return 4 * (v / 32 % 4) + v % 32 / 8; }
__host__ __device__ constexpr int NhwcT1Group(int v) { return 8 * (v / 128) + v % 8; }

// The helpers below compile everywhere (the kernels name them in branches that only TUCKER_WGMMA takes) and do
// nothing outside the sm_90a pass.
// Shared-memory matrix descriptor: start address, leading (K) and stride (M/N) byte offsets, all >> 4; no swizzle.
// swizzle: 0 none, 1 128-byte, 2 64-byte, 3 32-byte.
__device__ __forceinline__ uint64_t WgmmaDesc(const void* smem, uint32_t lbo_bytes, uint32_t sbo_bytes, uint32_t swizzle = 0) {
#if TUCKER_WGMMA
  const uint32_t addr = static_cast<uint32_t>(__cvta_generic_to_shared(smem));
#else
  const uint32_t addr = 0;
  (void)smem;
#endif
  return static_cast<uint64_t>((addr >> 4) & 0x3fff) | (static_cast<uint64_t>((lbo_bytes >> 4) & 0x3fff) << 16) |
         (static_cast<uint64_t>((sbo_bytes >> 4) & 0x3fff) << 32) | (static_cast<uint64_t>(swizzle & 3) << 62);
}
__device__ __forceinline__ void WgmmaFence() {
#if TUCKER_WGMMA
  asm volatile("wgmma.fence.sync.aligned;\n" ::: "memory");
#endif
}
__device__ __forceinline__ void WgmmaCommit() {
#if TUCKER_WGMMA
  asm volatile("wgmma.commit_group.sync.aligned;\n" ::: "memory");
#endif
}
template <int N>
__device__ __forceinline__ void WgmmaWait() {
#if TUCKER_WGMMA
  asm volatile("wgmma.wait_group.sync.aligned %0;\n" ::"n"(N) : "memory");
#endif
}
// Makes this thread's generic-proxy shared-memory writes (cp.async included) visible to wgmma's async proxy.
__device__ __forceinline__ void FenceProxyAsyncShared() {
#if TUCKER_WGMMA
  asm volatile("fence.proxy.async.shared::cta;\n" ::: "memory");
#endif
}
// Keeps the compiler from moving accumulator reads or writes across an in-flight wgmma.
template <int R>
__device__ __forceinline__ void WgmmaFenceOperands(float (&d)[R]) {
#pragma unroll
  for (int i = 0; i < R; ++i) {
#if TUCKER_WGMMA
    asm volatile("" : "+f"(d[i])::"memory");
#else
    (void)d[i];
#endif
  }
}

// D[64][N] (+)= A[64][k] x B[N][k]^T, k = 16 fp16 or 8 tf32 (one 32-byte K slice of both tiles). d: this thread's
// N / 2 accumulators; warp w of the warpgroup holds rows 16w..16w+15, in mma.sync's m16n8 layout per 8 columns.
// One specialization per type and N (the asm operand lists differ only in length; written out, as CUTLASS does).
template <typename T, int N>
struct Wgmma;
// N 16: the core stage's operand-swapped form at BN 64 (each warpgroup 16 of the 32 channels).
template <>
struct Wgmma<__half, 16> {
  __device__ __forceinline__ static void Run(float (&d)[8], uint64_t da, uint64_t db, int accumulate) {
#if TUCKER_WGMMA
    asm volatile(
        "{\n.reg .pred p;\nsetp.ne.b32 p, %10, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n16k16.f32.f16.f16 {%0, %1, %2, %3, %4, %5, %6, %7}, %8, %9, p, 1, 1, 0, 0;\n}\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7])
        : "l"(da), "l"(db), "r"(accumulate));
#else
    (void)d, (void)da, (void)db, (void)accumulate;
#endif
  }
};
template <>
struct Wgmma<float, 16> {
  __device__ __forceinline__ static void Run(float (&d)[8], uint64_t da, uint64_t db, int accumulate) {
#if TUCKER_WGMMA
    asm volatile(
        "{\n.reg .pred p;\nsetp.ne.b32 p, %10, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n16k8.f32.tf32.tf32 {%0, %1, %2, %3, %4, %5, %6, %7}, %8, %9, p, 1, 1;\n}\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7])
        : "l"(da), "l"(db), "r"(accumulate));
#else
    (void)d, (void)da, (void)db, (void)accumulate;
#endif
  }
};
template <>
struct Wgmma<__half, 32> {
  __device__ __forceinline__ static void Run(float (&d)[16], uint64_t da, uint64_t db, int accumulate) {
#if TUCKER_WGMMA
    asm volatile(
        "{\n.reg .pred p;\nsetp.ne.b32 p, %18, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n32k16.f32.f16.f16 {%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15}, %16, %17, p, 1, 1, 0, 0;\n}\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15])
        : "l"(da), "l"(db), "r"(accumulate));
#else
    (void)d, (void)da, (void)db, (void)accumulate;
#endif
  }
};
template <>
struct Wgmma<__half, 64> {
  __device__ __forceinline__ static void Run(float (&d)[32], uint64_t da, uint64_t db, int accumulate) {
#if TUCKER_WGMMA
    asm volatile(
        "{\n.reg .pred p;\nsetp.ne.b32 p, %34, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n64k16.f32.f16.f16 {%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31}, %32, %33, p, 1, 1, 0, 0;\n}\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31])
        : "l"(da), "l"(db), "r"(accumulate));
#else
    (void)d, (void)da, (void)db, (void)accumulate;
#endif
  }
};
template <>
struct Wgmma<__half, 128> {
  __device__ __forceinline__ static void Run(float (&d)[64], uint64_t da, uint64_t db, int accumulate) {
#if TUCKER_WGMMA
    asm volatile(
        "{\n.reg .pred p;\nsetp.ne.b32 p, %66, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n128k16.f32.f16.f16 {%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, %48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63}, %64, %65, p, 1, 1, 0, 0;\n}\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]), "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]), "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63])
        : "l"(da), "l"(db), "r"(accumulate));
#else
    (void)d, (void)da, (void)db, (void)accumulate;
#endif
  }
};
template <>
struct Wgmma<float, 32> {
  __device__ __forceinline__ static void Run(float (&d)[16], uint64_t da, uint64_t db, int accumulate) {
#if TUCKER_WGMMA
    asm volatile(
        "{\n.reg .pred p;\nsetp.ne.b32 p, %18, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n32k8.f32.tf32.tf32 {%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15}, %16, %17, p, 1, 1;\n}\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15])
        : "l"(da), "l"(db), "r"(accumulate));
#else
    (void)d, (void)da, (void)db, (void)accumulate;
#endif
  }
};
template <>
struct Wgmma<float, 64> {
  __device__ __forceinline__ static void Run(float (&d)[32], uint64_t da, uint64_t db, int accumulate) {
#if TUCKER_WGMMA
    asm volatile(
        "{\n.reg .pred p;\nsetp.ne.b32 p, %34, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n64k8.f32.tf32.tf32 {%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31}, %32, %33, p, 1, 1;\n}\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31])
        : "l"(da), "l"(db), "r"(accumulate));
#else
    (void)d, (void)da, (void)db, (void)accumulate;
#endif
  }
};
template <>
struct Wgmma<float, 128> {
  __device__ __forceinline__ static void Run(float (&d)[64], uint64_t da, uint64_t db, int accumulate) {
#if TUCKER_WGMMA
    asm volatile(
        "{\n.reg .pred p;\nsetp.ne.b32 p, %66, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n128k8.f32.tf32.tf32 {%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, %48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63}, %64, %65, p, 1, 1;\n}\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]), "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]), "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63])
        : "l"(da), "l"(db), "r"(accumulate));
#else
    (void)d, (void)da, (void)db, (void)accumulate;
#endif
  }
};

// The same at fp16 with B N-major ("transposed": B[k][n], n contiguous; stage 1's tile of the channels-first
// input), in WgmmaSw64Mn's layout.
template <int N>
struct WgmmaBT;
template <>
struct WgmmaBT<32> {
  __device__ __forceinline__ static void Run(float (&d)[16], uint64_t da, uint64_t db, int accumulate) {
#if TUCKER_WGMMA
    asm volatile(
        "{\n.reg .pred p;\nsetp.ne.b32 p, %18, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n32k16.f32.f16.f16 {%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15}, %16, %17, p, 1, 1, 0, 1;\n}\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15])
        : "l"(da), "l"(db), "r"(accumulate));
#else
    (void)d, (void)da, (void)db, (void)accumulate;
#endif
  }
};
template <>
struct WgmmaBT<64> {
  __device__ __forceinline__ static void Run(float (&d)[32], uint64_t da, uint64_t db, int accumulate) {
#if TUCKER_WGMMA
    asm volatile(
        "{\n.reg .pred p;\nsetp.ne.b32 p, %34, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n64k16.f32.f16.f16 {%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31}, %32, %33, p, 1, 1, 0, 1;\n}\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31])
        : "l"(da), "l"(db), "r"(accumulate));
#else
    (void)d, (void)da, (void)db, (void)accumulate;
#endif
  }
};
template <>
struct WgmmaBT<128> {
  __device__ __forceinline__ static void Run(float (&d)[64], uint64_t da, uint64_t db, int accumulate) {
#if TUCKER_WGMMA
    asm volatile(
        "{\n.reg .pred p;\nsetp.ne.b32 p, %66, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n128k16.f32.f16.f16 {%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31, %32, %33, %34, %35, %36, %37, %38, %39, %40, %41, %42, %43, %44, %45, %46, %47, %48, %49, %50, %51, %52, %53, %54, %55, %56, %57, %58, %59, %60, %61, %62, %63}, %64, %65, p, 1, 1, 0, 1;\n}\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31]), "+f"(d[32]), "+f"(d[33]), "+f"(d[34]), "+f"(d[35]), "+f"(d[36]), "+f"(d[37]), "+f"(d[38]), "+f"(d[39]), "+f"(d[40]), "+f"(d[41]), "+f"(d[42]), "+f"(d[43]), "+f"(d[44]), "+f"(d[45]), "+f"(d[46]), "+f"(d[47]), "+f"(d[48]), "+f"(d[49]), "+f"(d[50]), "+f"(d[51]), "+f"(d[52]), "+f"(d[53]), "+f"(d[54]), "+f"(d[55]), "+f"(d[56]), "+f"(d[57]), "+f"(d[58]), "+f"(d[59]), "+f"(d[60]), "+f"(d[61]), "+f"(d[62]), "+f"(d[63])
        : "l"(da), "l"(db), "r"(accumulate));
#else
    (void)d, (void)da, (void)db, (void)accumulate;
#endif
  }
};

// D[64][N] (+)= A[64][8] x B[N][8]^T in TF32 with A in registers (fp32 stage 1, kT1 in tucker_conv_nhwc_kernel.cuh:
// its A is the channels-first input's tile, N-major in shared memory, which TF32 wgmma cannot read transposed; a
// thread loads its fragment and splits it in registers instead). a: this thread's 4 values of its warp's 16 rows in
// mma.sync's m16n8k8 TF32 layout (WgmmaRegARow/Col), as raw fp32 bits (the tensor cores read the TF32 part); B K-major
// in shared memory (descriptor).
template <int N>
struct WgmmaRA;
template <>
struct WgmmaRA<32> {
  __device__ __forceinline__ static void Run(float (&d)[16], const uint32_t (&a)[4], uint64_t db, int accumulate) {
#if TUCKER_WGMMA
    asm volatile(
        "{\n.reg .pred p;\nsetp.ne.b32 p, %21, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n32k8.f32.tf32.tf32 {%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15}, {%16, %17, %18, %19}, %20, p, 1, 1;\n}\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(db), "r"(accumulate));
#else
    (void)d, (void)a, (void)db, (void)accumulate;
#endif
  }
};
template <>
struct WgmmaRA<64> {
  __device__ __forceinline__ static void Run(float (&d)[32], const uint32_t (&a)[4], uint64_t db, int accumulate) {
#if TUCKER_WGMMA
    asm volatile(
        "{\n.reg .pred p;\nsetp.ne.b32 p, %37, 0;\n"
        "wgmma.mma_async.sync.aligned.m64n64k8.f32.tf32.tf32 {%0, %1, %2, %3, %4, %5, %6, %7, %8, %9, %10, %11, %12, %13, %14, %15, %16, %17, %18, %19, %20, %21, %22, %23, %24, %25, %26, %27, %28, %29, %30, %31}, {%32, %33, %34, %35}, %36, p, 1, 1;\n}\n"
        : "+f"(d[0]), "+f"(d[1]), "+f"(d[2]), "+f"(d[3]), "+f"(d[4]), "+f"(d[5]), "+f"(d[6]), "+f"(d[7]), "+f"(d[8]), "+f"(d[9]), "+f"(d[10]), "+f"(d[11]), "+f"(d[12]), "+f"(d[13]), "+f"(d[14]), "+f"(d[15]), "+f"(d[16]), "+f"(d[17]), "+f"(d[18]), "+f"(d[19]), "+f"(d[20]), "+f"(d[21]), "+f"(d[22]), "+f"(d[23]), "+f"(d[24]), "+f"(d[25]), "+f"(d[26]), "+f"(d[27]), "+f"(d[28]), "+f"(d[29]), "+f"(d[30]), "+f"(d[31])
        : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "l"(db), "r"(accumulate));
#else
    (void)d, (void)a, (void)db, (void)accumulate;
#endif
  }
};
// Where register i (0..3) of WgmmaRA's A fragment lies in its warp's 16 rows x 8 columns (K).
__host__ __device__ constexpr int WgmmaRegARow(int lane, int i) { return (lane >> 2) + 8 * (i & 1); }
__host__ __device__ constexpr int WgmmaRegACol(int lane, int i) { return (lane & 3) + 4 * (i >> 1); }

// Where accumulator e of lane `lane` lies in its warp's 16 rows x N columns: row (0..15) and column.
__host__ __device__ constexpr int WgmmaRow(int lane, int e) { return (lane >> 2) + 8 * ((e >> 1) & 1); }
__host__ __device__ constexpr int WgmmaCol(int lane, int e) { return 8 * (e >> 2) + 2 * (lane & 3) + (e & 1); }

}  // namespace
}  // namespace tucker_cuda
