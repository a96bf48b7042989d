// 3xTF32 (and TF32-mode) helpers shared by the tensor-core kernels' fp32 forms (the channels-last staged family, nsplit 5, and the
// one-launch WMMA kernel, nsplit 3): fp32 operands split into two TF32 halves whose three products keep fp32's
// accuracy on the tensor cores. A header of its own because the CPU emulator compiles both kernels in one file.
#pragma once
#include <mma.h>

#include <type_traits>

namespace tucker_cuda {
namespace {

// 3xTF32's split of a TF32 fragment loaded with fp32 values: hi = x with its low 13 mantissa bits cleared (what a
// TF32 tensor core reads of x), lo = x - hi (exact in fp32), also cleared to TF32. Truncation, not cvt.rna.tf32's
// rounding: two bit-ands and a subtraction per value on the FP32/INT pipes; the dropped bits of lo cost at most
// 2^-20 of x per product (rounding: 2^-22), still fp32's order. Element-wise, so the lane layout does not matter.
__device__ __forceinline__ float Tf32Trunc(float x) { return __uint_as_float(__float_as_uint(x) & 0xffffe000u); }
// One value: x becomes hi, the return value is lo.
__device__ __forceinline__ float Tf32Split(float& x) {
  const float big = Tf32Trunc(x), lo = Tf32Trunc(x - big);
  x = big;
  return lo;
}
template <class Frag>
__device__ __forceinline__ void SplitTf32(Frag& hi, Frag& lo) {
#pragma unroll
  for (int e = 0; e < hi.num_elements; ++e) lo.x[e] = Tf32Split(hi.x[e]);
}

// The TF32 mode (Problem::tf32): each fp32 operand rounded to TF32 once (to nearest, ties away: cvt.rna.tf32's rule,
// by an add and an and; finite values), one product per fragment pair, as cuDNN's TF32 convolutions.
__device__ __forceinline__ float Tf32Round(float x) {
  return __uint_as_float((__float_as_uint(x) + 0x1000u) & 0xffffe000u);
}
template <class Frag>
__device__ __forceinline__ void RoundTf32(Frag& f) {
#pragma unroll
  for (int e = 0; e < f.num_elements; ++e) f.x[e] = Tf32Round(f.x[e]);
}

// A TF32 fragment's load from shared memory with the .shared state space. NVVM gives the fp16 WMMA loads .shared
// (their pointers are provably shared) but left the TF32 ones generic (PTX wmma.load...m16n16k8.tf32): generic LDs
// with 64-bit address math, the loop's IMADs and LDs under Nsight (session 20, call 3). Same instruction, same
// fragment layout; the emulator takes the WMMA call. Compiled where the kernel's body is (WMMA's TF32 types exist
// from sm_80 on; the host-only model build compiles this file for nvcc's default target).
#if (defined(__CUDA_ARCH__) && __CUDA_ARCH__ >= 800) || defined(TUCKER_EMU)
template <class Use, class Layout>
__device__ __forceinline__ void LoadTf32Shared(
    nvcuda::wmma::fragment<Use, 16, 16, 8, nvcuda::wmma::precision::tf32, Layout>& f, const float* p, unsigned ldm) {
#if defined(TUCKER_EMU)
  nvcuda::wmma::load_matrix_sync(f, p, ldm);
#else
  namespace wmma = nvcuda::wmma;
  const unsigned a = static_cast<unsigned>(__cvta_generic_to_shared(p));
  unsigned r0, r1, r2, r3;
  if constexpr (std::is_same_v<Use, wmma::matrix_a> && std::is_same_v<Layout, wmma::row_major>) {
    asm volatile("wmma.load.a.sync.aligned.row.m16n16k8.shared.tf32 {%0, %1, %2, %3}, [%4], %5;\n"
                 : "=r"(r0), "=r"(r1), "=r"(r2), "=r"(r3) : "r"(a), "r"(ldm) : "memory");
  } else if constexpr (std::is_same_v<Use, wmma::matrix_b> && std::is_same_v<Layout, wmma::col_major>) {
    asm volatile("wmma.load.b.sync.aligned.col.m16n16k8.shared.tf32 {%0, %1, %2, %3}, [%4], %5;\n"
                 : "=r"(r0), "=r"(r1), "=r"(r2), "=r"(r3) : "r"(a), "r"(ldm) : "memory");
  } else {
    static_assert(std::is_same_v<Use, wmma::matrix_b> && std::is_same_v<Layout, wmma::row_major>, "a row-major A");
    asm volatile("wmma.load.b.sync.aligned.row.m16n16k8.shared.tf32 {%0, %1, %2, %3}, [%4], %5;\n"
                 : "=r"(r0), "=r"(r1), "=r"(r2), "=r"(r3) : "r"(a), "r"(ldm) : "memory");
  }
  static_assert(sizeof(f.x) == 4 * sizeof(float), "four TF32 values per lane");
  f.x[0] = __uint_as_float(r0);
  f.x[1] = __uint_as_float(r1);
  f.x[2] = __uint_as_float(r2);
  f.x[3] = __uint_as_float(r3);
#endif
}
#endif

}  // namespace
}  // namespace tucker_cuda
