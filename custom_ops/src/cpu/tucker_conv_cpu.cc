// CPU TuckerConv: three stages per image (1x1 GEMM, im2col + GEMM for the core, 1x1 GEMM with the fused
// epilogue) in float32 over ORT's intra-op thread pool, with float16 tensors converted at the edges.
#include "tucker_conv_cpu.h"

#include <algorithm>
#include <memory>
#include <optional>
#include <type_traits>
#include <vector>

#include "onnxruntime_lite_custom_op.h"
#include "../tucker_conv_attrs.h"
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
inline __attribute__((always_inline)) void MicroTile(const float* A, const float* B, float* C, int64_t K, int64_t P,
                                                     int64_t m, int64_t p) {
  v8 acc[MR][2];
  for (int r = 0; r < MR; ++r)
    for (int h = 0; h < 2; ++h) __builtin_memcpy(&acc[r][h], C + (m + r) * P + p + 8 * h, sizeof(v8));
  for (int64_t k = 0; k < K; ++k) {
    v8 b0, b1;
    __builtin_memcpy(&b0, B + k * P + p, sizeof(v8));
    __builtin_memcpy(&b1, B + k * P + p + 8, sizeof(v8));
    for (int r = 0; r < MR; ++r) {
      const float a = A[(m + r) * K + k];
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
    for (; m + 4 <= M; m += 4) MicroTile<4>(A, B, C, K, P, m, p);                 \
    for (; m < M; ++m) MicroTile<1>(A, B, C, K, P, m, p);                         \
  }                                                                               \
  if (p_full < p1) {                                                              \
    for (int64_t m = 0; m < M; ++m)                                               \
      for (int64_t k = 0; k < K; ++k) {                                           \
        const float a = A[m * K + k];                                             \
        for (int64_t q = p_full; q < p1; ++q) C[m * P + q] += a * B[k * P + q];   \
      }                                                                           \
  }

__attribute__((target("avx2,fma"))) void GemmColsAvx2(const float* A, const float* B, float* C, int64_t M, int64_t K,
                                                      int64_t P, int64_t p0, int64_t p1) {
  TUCKER_GEMM_BODY
}

void GemmColsGeneric(const float* A, const float* B, float* C, int64_t M, int64_t K, int64_t P, int64_t p0, int64_t p1) {
  TUCKER_GEMM_BODY
}
#undef TUCKER_GEMM_BODY

// C[m][p] += sum_k A[m][k] * B[k][p] for all M rows and columns [p0, p1).
void GemmCols(const float* A, const float* B, float* C, int64_t M, int64_t K, int64_t P, int64_t p0, int64_t p1) {
  static const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  if (avx2) GemmColsAvx2(A, B, C, M, K, P, p0, p1);
  else GemmColsGeneric(A, B, C, M, K, P, p0, p1);
}

// col[(r1*kh + i)*kw + j][oh*Wo + ow] = in[r1][oh*sh + i*dh - pt][ow*sw + j*dw - pl], zero outside.
void Im2ColRows(const float* in, float* col, const tucker::Dims& d, const tucker::Attrs& a, int64_t r0, int64_t r1e) {
  const int64_t ohw = d.Ho * d.Wo;
  for (int64_t r1 = r0; r1 < r1e; ++r1) {
    const float* src = in + r1 * d.H * d.W;
    for (int64_t i = 0; i < d.kh; ++i) {
      for (int64_t j = 0; j < d.kw; ++j) {
        float* dst = col + ((r1 * d.kh + i) * d.kw + j) * ohw;
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

template <typename T>
struct TuckerConvCpu {
  TuckerConvCpu(const OrtApi* api, const OrtKernelInfo* info) : attrs_(tucker::ReadAttrs(api, info)) {}

  Ort::Status Compute(OrtKernelContext* ctx, const Tensor<T>& X, const Tensor<T>& W_in, const Tensor<T>& W_core,
                      const Tensor<T>& W_out, const Tensor<T>& B, std::optional<const Tensor<T>*> Z, Tensor<T>& Y) {
    tucker::Dims d{};
    const bool has_z = Z.has_value() && *Z != nullptr;
    const std::vector<int64_t> zshape = has_z ? (*Z)->Shape() : std::vector<int64_t>{};
    std::string err = tucker::ValidateShapes(X.Shape(), W_in.Shape(), W_core.Shape(), W_out.Shape(), B.Shape(),
                                             has_z ? &zshape : nullptr, attrs_, &d);
    if (!err.empty()) return Ort::Status(("TuckerConv: " + err).c_str(), ORT_INVALID_ARGUMENT);
    T* y = Y.Allocate({d.batch, d.N, d.Ho, d.Wo});
    if (d.batch == 0) return Ort::Status{nullptr};
    const int64_t hw = d.H * d.W, ohw = d.Ho * d.Wo, kk = d.kh * d.kw;
    // float views of the weights (no copy for float32)
    std::vector<float> wi_s, wc_s, wo_s, b_s, x_s;
    const float* wi = AsFloat(W_in.Data(), d.R1 * d.C, wi_s);
    const float* wc = AsFloat(W_core.Data(), d.R2 * d.R1 * kk, wc_s);
    const float* wo = AsFloat(W_out.Data(), d.N * d.R2, wo_s);
    const float* bias = AsFloat(B.Data(), d.N, b_s);
    const T* z = has_z ? (*Z)->Data() : nullptr;
    const bool core_is_1x1 = kk == 1 && attrs_.stride_h == 1 && attrs_.stride_w == 1 && attrs_.pad_t == 0 &&
                             attrs_.pad_l == 0 && attrs_.pad_b == 0 && attrs_.pad_r == 0;
    std::vector<float> t1(d.R1 * hw), col(core_is_1x1 ? 0 : d.R1 * kk * ohw), t2(d.R2 * ohw), out(d.N * ohw);
    for (int64_t n = 0; n < d.batch; ++n) {
      const float* x = AsFloat(X.Data() + n * d.C * hw, d.C * hw, x_s);
      std::fill(t1.begin(), t1.end(), 0.f);
      constexpr int64_t kCols = 256;  // columns per task (a multiple of the 16-wide micro-tile)
      ParallelRange(ctx, hw, kCols, [&](int64_t p0, int64_t p1) { GemmCols(wi, x, t1.data(), d.R1, d.C, hw, p0, p1); });
      const float* core_in = t1.data();
      if (!core_is_1x1) {
        ParallelRange(ctx, d.R1, 1, [&](int64_t r0, int64_t r1) { Im2ColRows(t1.data(), col.data(), d, attrs_, r0, r1); });
        core_in = col.data();
      }
      std::fill(t2.begin(), t2.end(), 0.f);
      ParallelRange(ctx, ohw, kCols, [&](int64_t p0, int64_t p1) { GemmCols(wc, core_in, t2.data(), d.R2, d.R1 * kk, ohw, p0, p1); });
      T* ys = y + n * d.N * ohw;
      const T* zs = z ? z + n * d.N * ohw : nullptr;
      ParallelRange(ctx, ohw, kCols, [&](int64_t p0, int64_t p1) {
        for (int64_t m = 0; m < d.N; ++m) std::fill(out.begin() + m * ohw + p0, out.begin() + m * ohw + p1, bias[m]);
        GemmCols(wo, t2.data(), out.data(), d.N, d.R2, ohw, p0, p1);
        for (int64_t m = 0; m < d.N; ++m)
          for (int64_t i = m * ohw + p0; i < m * ohw + p1; ++i) {
            float v = out[i];
            if (zs) v += Load(zs[i]);
            if (attrs_.relu) v = std::max(v, 0.f);
            ys[i] = Store<T>(v);
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

void RegisterOps(Ort::CustomOpDomain& domain) {
  static const std::unique_ptr<Ort::Custom::OrtLiteCustomOp> f32{
      Ort::Custom::CreateLiteCustomOp<TuckerConvCpu<float>>(tucker_spec::kOpName, "CPUExecutionProvider")};
  static const std::unique_ptr<Ort::Custom::OrtLiteCustomOp> f16{
      Ort::Custom::CreateLiteCustomOp<TuckerConvCpu<Ort::Float16_t>>(tucker_spec::kOpName, "CPUExecutionProvider")};
  f32->InferOutputShapeFn = tucker::InferTuckerShapeTyped;
  f16->InferOutputShapeFn = tucker::InferTuckerShapeTyped;
  domain.Add(f32.get());
  domain.Add(f16.get());
}

}  // namespace Cpu
