// Stub for the CPU emulator: WMMA with every lane holding the whole tile (see ../cuda_emu.h): fp16 16x16x16 and
// TF32 16x16x8. Element-wise access (x[], num_elements) covers the whole tile, so per-element work on a fragment
// (the 3xTF32 split) touches every value, as the lanes of a real warp do together.
#pragma once
#include <bit>
#include <cstdint>
#include <type_traits>

#include "../cuda_emu.h"

namespace nvcuda {
namespace wmma {
struct matrix_a {};
struct matrix_b {};
struct accumulator {};
struct row_major {};
struct col_major {};
namespace precision {
struct tf32 {};
}  // namespace precision
enum layout_t { mem_row_major, mem_col_major };

template <class Use, int M, int N, int K, class T, class Layout = void>
struct fragment {
  static constexpr int kRows = std::is_same_v<Use, matrix_b> ? K : M;  // a: M x K, b: K x N, accumulator: M x N
  static constexpr int kCols = std::is_same_v<Use, matrix_a> ? K : N;
  static constexpr int num_elements = kRows * kCols;
  float x[kRows * kCols];  // row-major
};

// What a TF32 tensor core reads of an fp32 register: the top 19 bits (the low 13 are ignored).
inline float Tf32Operand(float f) { return std::bit_cast<float>(std::bit_cast<std::uint32_t>(f) & 0xffffe000u); }

template <class Use, int M, int N, int K, class T, class Layout, class E>
inline void load_matrix_sync(fragment<Use, M, N, K, T, Layout>& f, const E* p, unsigned ldm) {
  static_assert(std::is_same_v<Layout, row_major> || std::is_same_v<Layout, col_major>, "a row- or column-major tile");
  static_assert(std::is_same_v<T, __half> ? std::is_same_v<E, __half> : std::is_same_v<E, float>, "fp16 or tf32 data");
  using F = fragment<Use, M, N, K, T, Layout>;
  for (int r = 0; r < F::kRows; ++r)
    for (int c = 0; c < F::kCols; ++c) {
      const E e = std::is_same_v<Layout, row_major> ? p[r * ldm + c] : p[c * ldm + r];
      if constexpr (std::is_same_v<E, __half>) f.x[r * F::kCols + c] = __half2float(e);
      else f.x[r * F::kCols + c] = e;
    }
}

template <int K>
inline void fill_fragment(fragment<accumulator, 16, 16, K, float>& f, float value) {
  for (float& e : f.x) e = value;
}

// Products summed in fp32; a TF32 operand is read as the tensor core reads it (low mantissa bits ignored), so a
// kernel that skips the 3xTF32 split loses fp32 accuracy here too.
template <int K, class T, class LayoutA, class LayoutB>
inline void mma_sync(fragment<accumulator, 16, 16, K, float>& d, const fragment<matrix_a, 16, 16, K, T, LayoutA>& a,
                     const fragment<matrix_b, 16, 16, K, T, LayoutB>& b, const fragment<accumulator, 16, 16, K, float>& c) {
  constexpr bool kTf32 = std::is_same_v<T, precision::tf32>;
  float out[256];
  for (int i = 0; i < 16; ++i)
    for (int j = 0; j < 16; ++j) {
      float s = c.x[i * 16 + j];
      for (int k = 0; k < K; ++k) {
        const float av = a.x[i * K + k], bv = b.x[k * 16 + j];
        s += kTf32 ? Tf32Operand(av) * Tf32Operand(bv) : av * bv;
      }
      out[i * 16 + j] = s;
    }
  for (int i = 0; i < 256; ++i) d.x[i] = out[i];
}

// Every lane of the warp holds the same tile; lane 0 writes it (the caller's __syncwarp orders the reads).
template <int K>
inline void store_matrix_sync(float* p, const fragment<accumulator, 16, 16, K, float>& f, unsigned ldm, layout_t layout) {
  if (emu::thread_idx.x % 32 != 0) return;
  for (int r = 0; r < 16; ++r)
    for (int c = 0; c < 16; ++c) {
      if (layout == mem_row_major) p[r * ldm + c] = f.x[r * 16 + c];
      else p[c * ldm + r] = f.x[r * 16 + c];
    }
}
}  // namespace wmma
}  // namespace nvcuda
