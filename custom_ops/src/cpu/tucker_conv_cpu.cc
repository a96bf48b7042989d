// CPU TuckerConv: three stages per image (1x1 GEMM, im2col + GEMM for the core, 1x1 GEMM with the fused
// epilogue) in float32 over ORT's intra-op thread pool, with float16 tensors converted at the edges.
// Intermediates keep rows padded to a multiple of the 16-wide micro-tile (no scalar tail loops) in per-thread
// scratch that is reused across calls; small maps split the GEMM rows over the pool instead of the columns.
#include "tucker_conv_cpu.h"

#include <algorithm>
#include <memory>
#include <optional>
#include <type_traits>
#include <vector>

#include "onnxruntime_lite_custom_op.h"
#include "../tucker_conv_attrs.h"
#include "../register_kernels.h"
#include "../tucker_conv_shape.h"
#include "tucker_conv_spec.h"

namespace Cpu {
namespace {

using Ort::Custom::Tensor;

template <typename T>
inline float Load(const T& v) {
  if constexpr (std::is_same_v<T, float>) return v;
  else return v.ToFloat();
}
template <typename T>
inline T Store(float v) {
  if constexpr (std::is_same_v<T, float>) return v;
  else return T(v);
}


// C[m][p] += sum_k A[m][k] * B[k][p] for rows [m0, m1). The micro-kernel keeps a 4 x 16 tile of C in vector
// registers across the whole k loop (8-float GCC vectors: AVX2 + FMA when the CPU has them, SSE otherwise),
// so each B load feeds 4 vector FMAs and C is read and written once per tile.
typedef float v8 __attribute__((vector_size(32)));

template <int MR>
inline __attribute__((always_inline)) void MicroTile(const float* A, int64_t lda, const float* B, int64_t ldb, float* C,
                                                     int64_t K, int64_t P, int64_t m, int64_t p) {  // C rows P apart
  v8 acc[MR][2];
  for (int r = 0; r < MR; ++r)
    for (int h = 0; h < 2; ++h) __builtin_memcpy(&acc[r][h], C + (m + r) * P + p + 8 * h, sizeof(v8));
  for (int64_t k = 0; k < K; ++k) {
    v8 b0, b1;
    __builtin_memcpy(&b0, B + k * ldb + p, sizeof(v8));
    __builtin_memcpy(&b1, B + k * ldb + p + 8, sizeof(v8));
    for (int r = 0; r < MR; ++r) {
      const float a = A[(m + r) * lda + k];
      acc[r][0] += a * b0;
      acc[r][1] += a * b1;
    }
  }
  for (int r = 0; r < MR; ++r)
    for (int h = 0; h < 2; ++h) __builtin_memcpy(C + (m + r) * P + p + 8 * h, &acc[r][h], sizeof(v8));
}

#define TUCKER_GEMM_BODY                                                          \
  /* columns [p0, p1) of C: each 16-wide strip of B stays in L1 while every row block uses it */ \
  const int64_t p_full = p0 + (p1 - p0) - (p1 - p0) % 16;                         \
  for (int64_t p = p0; p < p_full; p += 16) {                                     \
    int64_t m = 0;                                                                \
    for (; m + 6 <= M; m += 6) MicroTile<6>(A, K, B, ldb, C, K, P, m, p);         \
    for (; m + 4 <= M; m += 4) MicroTile<4>(A, K, B, ldb, C, K, P, m, p);         \
    for (; m < M; ++m) MicroTile<1>(A, K, B, ldb, C, K, P, m, p);                 \
  }                                                                               \
  if (p_full < p1) {                                                              \
    for (int64_t m = 0; m < M; ++m)                                               \
      for (int64_t k = 0; k < K; ++k) {                                           \
        const float a = A[m * K + k];                                             \
        for (int64_t q = p_full; q < p1; ++q) C[m * P + q] += a * B[k * ldb + q]; \
      }                                                                           \
  }

__attribute__((target("avx2,fma"))) void GemmColsAvx2(const float* A, const float* B, int64_t ldb, float* C, int64_t M,
                                                      int64_t K, int64_t P, int64_t p0, int64_t p1) {
  TUCKER_GEMM_BODY
}

void GemmColsGeneric(const float* A, const float* B, int64_t ldb, float* C, int64_t M, int64_t K, int64_t P, int64_t p0,
                     int64_t p1) {
  TUCKER_GEMM_BODY
}
#undef TUCKER_GEMM_BODY

// C[m][p] += sum_k A[m][k] * B[k][p] for all M rows and columns [p0, p1); rows of B are ldb apart, of C P apart.
void GemmCols(const float* A, const float* B, int64_t ldb, float* C, int64_t M, int64_t K, int64_t P, int64_t p0,
              int64_t p1) {
  static const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  if (avx2) GemmColsAvx2(A, B, ldb, C, M, K, P, p0, p1);
  else GemmColsGeneric(A, B, ldb, C, M, K, P, p0, p1);
}

// col[(r1*kh + i)*kw + j][oh*Wo + ow] = in[r1][oh*sh + i*dh - pt][ow*sw + j*dw - pl], zero outside;
// rows of `in` are ld_in apart, rows of `col` ld_col apart (columns past Ho*Wo are left alone).
void Im2ColRows(const float* in, float* col, const tucker::Dims& d, const tucker::Attrs& a, int64_t ld_in,
                int64_t ld_col, int64_t r0, int64_t r1e) {
  for (int64_t r1 = r0; r1 < r1e; ++r1) {
    const float* src = in + r1 * ld_in;
    for (int64_t i = 0; i < d.kh; ++i) {
      for (int64_t j = 0; j < d.kw; ++j) {
        float* dst = col + ((r1 * d.kh + i) * d.kw + j) * ld_col;
        const int64_t ioff = i * a.dil_h - a.pad_t, joff = j * a.dil_w - a.pad_l;
        for (int64_t oh = 0; oh < d.Ho; ++oh) {
          const int64_t ih = oh * a.stride_h + ioff;
          float* drow = dst + oh * d.Wo;
          if (ih < 0 || ih >= d.H) {
            std::fill(drow, drow + d.Wo, 0.f);
            continue;
          }
          const float* row = src + ih * d.W;
          for (int64_t ow = 0; ow < d.Wo; ++ow) {
            const int64_t iw = ow * a.stride_w + joff;
            drow[ow] = (iw >= 0 && iw < d.W) ? row[iw] : 0.f;
          }
        }
      }
    }
  }
}

// Splits [0, n) into blocks of `step` and runs f(begin, end) on ORT's intra-op thread pool.
template <typename F>
void ParallelRange(OrtKernelContext* ctx, int64_t n, int64_t step, F&& f) {
  const int64_t blocks = (n + step - 1) / step;
  struct Job { F* f; int64_t n, step; } job{&f, n, step};
  auto run = [](void* data, size_t b) {
    auto* j = static_cast<Job*>(data);
    const int64_t i0 = static_cast<int64_t>(b) * j->step;
    (*j->f)(i0, std::min(j->n, i0 + j->step));
  };
  if (ctx == nullptr || blocks <= 1) {
    f(0, n);
    return;
  }
  Ort::KernelContext(ctx).ParallelFor(run, static_cast<size_t>(blocks), 0, &job);
}

// C[M][P] += A[M][K] B[K][P] (P a multiple of 16, the row stride of C; B's rows ldb apart) over the pool: by
// 256-column blocks when there are enough of them, else by blocks of rows (7x7 or 14x14 maps have few columns).
void ParallelGemm(OrtKernelContext* ctx, const float* A, const float* B, int64_t ldb, float* C, int64_t M, int64_t K,
                  int64_t P) {
  constexpr int64_t kCols = 256;
  if (P >= 4 * kCols || M < 8) {
    ParallelRange(ctx, P, kCols, [&](int64_t p0, int64_t p1) { GemmCols(A, B, ldb, C, M, K, P, p0, p1); });
    return;
  }
  const int64_t rows = std::max<int64_t>(4, (M / 8 + 3) / 4 * 4);
  ParallelRange(ctx, M, rows,
                [&](int64_t m0, int64_t m1) { GemmCols(A + m0 * K, B, ldb, C + m0 * P, m1 - m0, K, P, 0, P); });
}

inline int64_t Pad16(int64_t n) { return (n + 15) / 16 * 16; }

// Grow-only scratch of the calling thread, reused across calls (Compute may run on several threads at once).
float* Scratch(int slot, size_t n) {
  thread_local std::vector<float> bufs[6];
  if (bufs[slot].size() < n) bufs[slot].resize(n);
  return bufs[slot].data();
}

template <typename T>
struct TuckerConvCpu {
  TuckerConvCpu(const OrtApi* api, const OrtKernelInfo* info) : attrs_(tucker::ReadAttrs(api, info)) {}

  Ort::Status Compute(OrtKernelContext* ctx, const Tensor<T>& X, const Tensor<T>& W_in, const Tensor<T>& W_core,
                      const Tensor<T>& W_out, const Tensor<T>& B, std::optional<const Tensor<T>*> Z, Tensor<T>& Y) {
    tucker::Dims d{};
    T* y = nullptr;
    const T* z = nullptr;
    Ort::Status st = tucker::PrepareCompute(attrs_, X, W_in, W_core, W_out, B, Z, Y, &d, &y, &z);
    if (!st.IsOK() || y == nullptr) return st;
    const int64_t hw = d.H * d.W, ohw = d.Ho * d.Wo, kk = d.kh * d.kw;
    // float views of the weights (no copy for float32)
    std::vector<float> wi_s, wc_s, wo_s, b_s;
    const float* wi = AsFloat(W_in.Data(), d.R1 * d.C, wi_s);
    const float* wc = AsFloat(W_core.Data(), d.R2 * d.R1 * kk, wc_s);
    const float* wo = AsFloat(W_out.Data(), d.N * d.R2, wo_s);
    const float* bias = AsFloat(B.Data(), d.N, b_s);
    const bool core_is_1x1 = kk == 1 && attrs_.stride_h == 1 && attrs_.stride_w == 1 && attrs_.pad_t == 0 &&
                             attrs_.pad_l == 0 && attrs_.pad_b == 0 && attrs_.pad_r == 0;
    // Stride-1 cores skip im2col: t1 goes into a zero-bordered map of padded width Wp, and each core tap is a
    // GEMM over a shifted view of it, producing "wide" rows of Wp columns of which the first Wo are outputs.
    const bool shifted = !core_is_1x1 && attrs_.stride_h == 1 && attrs_.stride_w == 1;
    const int64_t Hp = d.H + attrs_.pad_t + attrs_.pad_b, Wp = d.W + attrs_.pad_l + attrs_.pad_r;
    const int64_t row_w = shifted ? Wp : d.Wo;           // row length of the stage-2/3 column space
    const int64_t P1 = Pad16(hw), P2 = Pad16(d.Ho * row_w);  // padded row strides (16-wide micro-tiles)
    const int64_t Lr = Pad16(Hp * Wp + (d.kw - 1) * attrs_.dil_w + 16);  // padded-map row, room for the shifts
    float* xp = Scratch(0, d.C * P1);
    float* t1 = Scratch(1, d.R1 * P1);
    float* col = core_is_1x1 ? t1 : Scratch(2, shifted ? d.R1 * Lr : d.R1 * kk * P2);
    float* t2 = Scratch(3, d.R2 * P2);
    float* out = Scratch(4, d.N * P2);
    float* wtap = shifted ? Scratch(5, kk * d.R2 * d.R1) : nullptr;
    if (shifted) {
      std::fill(col, col + d.R1 * Lr, 0.f);  // borders stay zero; images only write the interior
      for (int64_t t = 0; t < kk; ++t)
        for (int64_t r2 = 0; r2 < d.R2; ++r2)
          for (int64_t r1 = 0; r1 < d.R1; ++r1) wtap[(t * d.R2 + r2) * d.R1 + r1] = wc[(r2 * d.R1 + r1) * kk + t];
    } else if (!core_is_1x1) {  // padding columns of col stay zero: im2col writes only the first ohw of each row
      for (int64_t r = 0; r < d.R1 * kk; ++r) std::fill(col + r * P2 + ohw, col + (r + 1) * P2, 0.f);
    }
    for (int64_t n = 0; n < d.batch; ++n) {
      const T* xn = X.Data() + n * d.C * hw;
      ParallelRange(ctx, d.C, 16, [&](int64_t c0, int64_t c1) {
        for (int64_t c = c0; c < c1; ++c) {
          for (int64_t i = 0; i < hw; ++i) xp[c * P1 + i] = Load(xn[c * hw + i]);
          std::fill(xp + c * P1 + hw, xp + (c + 1) * P1, 0.f);
        }
      });
      std::fill(t1, t1 + d.R1 * P1, 0.f);
      ParallelGemm(ctx, wi, xp, P1, t1, d.R1, d.C, P1);
      std::fill(t2, t2 + d.R2 * P2, 0.f);
      if (shifted) {
        ParallelRange(ctx, d.R1, 4, [&](int64_t r0, int64_t r1e) {
          for (int64_t r1 = r0; r1 < r1e; ++r1)
            for (int64_t ih = 0; ih < d.H; ++ih)
              std::copy(t1 + r1 * P1 + ih * d.W, t1 + r1 * P1 + (ih + 1) * d.W,
                        col + r1 * Lr + (ih + attrs_.pad_t) * Wp + attrs_.pad_l);
        });
        for (int64_t i = 0; i < d.kh; ++i)
          for (int64_t j = 0; j < d.kw; ++j)
            ParallelGemm(ctx, wtap + (i * d.kw + j) * d.R2 * d.R1, col + i * attrs_.dil_h * Wp + j * attrs_.dil_w, Lr,
                         t2, d.R2, d.R1, P2);
      } else {
        if (!core_is_1x1)
          ParallelRange(ctx, d.R1, 1, [&](int64_t r0, int64_t r1) { Im2ColRows(t1, col, d, attrs_, P1, P2, r0, r1); });
        ParallelGemm(ctx, wc, col, P2, t2, d.R2, d.R1 * kk, P2);
      }
      for (int64_t m = 0; m < d.N; ++m) std::fill(out + m * P2, out + (m + 1) * P2, bias[m]);
      ParallelGemm(ctx, wo, t2, P2, out, d.N, d.R2, P2);
      T* ys = y + n * d.N * ohw;
      const T* zs = z ? z + n * d.N * ohw : nullptr;
      ParallelRange(ctx, d.N, 8, [&](int64_t m0, int64_t m1) {
        for (int64_t m = m0; m < m1; ++m)
          for (int64_t oh = 0; oh < d.Ho; ++oh)
            for (int64_t ow = 0; ow < d.Wo; ++ow) {
              const int64_t o = m * ohw + oh * d.Wo + ow;
              float v = out[m * P2 + oh * row_w + ow];
              if (zs) v += Load(zs[o]);
              if (attrs_.relu) v = std::max(v, 0.f);
              ys[o] = Store<T>(v);
            }
      });
    }
    return Ort::Status{nullptr};
  }

  static Ort::Status InferOutputShape(Ort::ShapeInferContext& ctx) { return tucker::InferTuckerShape(ctx); }

 private:
  static const float* AsFloat(const T* p, int64_t n, std::vector<float>& scratch) {
    if constexpr (std::is_same_v<T, float>) {
      return p;
    } else {
      scratch.resize(static_cast<size_t>(n));
      for (int64_t i = 0; i < n; ++i) scratch[i] = Load(p[i]);
      return scratch.data();
    }
  }

  tucker::Attrs attrs_;
};

}  // namespace

void RegisterOps(Ort::CustomOpDomain& domain) { tucker::AddKernels<TuckerConvCpu>(domain, "CPUExecutionProvider"); }

}  // namespace Cpu
