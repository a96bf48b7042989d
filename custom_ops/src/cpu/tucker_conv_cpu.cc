// CPU TuckerConv: three stages per image (1x1 GEMM, direct core conv, 1x1 GEMM with the fused
// epilogue) in float32, with float16 tensors converted at the edges.
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

template <typename T>
std::vector<float> ToFloat(const T* p, size_t n) {
  std::vector<float> v(n);
  for (size_t i = 0; i < n; ++i) v[i] = Load(p[i]);
  return v;
}

// out[m][p] (+)= sum_k a[m][k] * b[k][p]   (row-major; the inner loop is a contiguous axpy)
void Gemm(const float* a, const float* b, float* out, int64_t M, int64_t K, int64_t P) {
  for (int64_t m = 0; m < M; ++m) {
    float* o = out + m * P;
    for (int64_t k = 0; k < K; ++k) {
      const float w = a[m * K + k];
      if (w == 0.f) continue;
      const float* bi = b + k * P;
      for (int64_t p = 0; p < P; ++p) o[p] += w * bi[p];
    }
  }
}

void CoreConv(const float* in, const float* w, float* out, const tucker::Dims& d, const tucker::Attrs& a) {
  for (int64_t r2 = 0; r2 < d.R2; ++r2) {
    float* o = out + r2 * d.Ho * d.Wo;
    for (int64_t r1 = 0; r1 < d.R1; ++r1) {
      const float* src = in + r1 * d.H * d.W;
      for (int64_t i = 0; i < d.kh; ++i) {
        for (int64_t j = 0; j < d.kw; ++j) {
          const float wv = w[((r2 * d.R1 + r1) * d.kh + i) * d.kw + j];
          if (wv == 0.f) continue;
          const int64_t ioff = i * a.dil_h - a.pad_t, joff = j * a.dil_w - a.pad_l;
          // valid ow: 0 <= ow*sw + joff < W
          int64_t ow_lo = joff >= 0 ? 0 : (-joff + a.stride_w - 1) / a.stride_w;
          int64_t ow_hi = d.W - joff <= 0 ? 0 : std::min(d.Wo, (d.W - joff + a.stride_w - 1) / a.stride_w);
          for (int64_t oh = 0; oh < d.Ho; ++oh) {
            const int64_t ih = oh * a.stride_h + ioff;
            if (ih < 0 || ih >= d.H) continue;
            const float* row = src + ih * d.W;
            float* orow = o + oh * d.Wo;
            for (int64_t ow = ow_lo; ow < ow_hi; ++ow) orow[ow] += wv * row[ow * a.stride_w + joff];
          }
        }
      }
    }
  }
}

template <typename T>
struct TuckerConvCpu {
  TuckerConvCpu(const OrtApi* api, const OrtKernelInfo* info) : attrs_(tucker::ReadAttrs(api, info)) {}

  Ort::Status Compute(const Tensor<T>& X, const Tensor<T>& W_in, const Tensor<T>& W_core,
                      const Tensor<T>& W_out, const Tensor<T>& B, std::optional<const Tensor<T>*> Z,
                      Tensor<T>& Y) {
    tucker::Dims d{};
    const std::vector<int64_t> zshape = Z.has_value() && *Z ? (*Z)->Shape() : std::vector<int64_t>{};
    std::string err = tucker::ValidateShapes(X.Shape(), W_in.Shape(), W_core.Shape(), W_out.Shape(), B.Shape(),
                                             Z.has_value() && *Z ? &zshape : nullptr, attrs_, &d);
    if (!err.empty()) return Ort::Status(("TuckerConv: " + err).c_str(), ORT_INVALID_ARGUMENT);
    T* y = Y.Allocate({d.batch, d.N, d.Ho, d.Wo});
    if (d.batch == 0) return Ort::Status{nullptr};
    const std::vector<float> wi = ToFloat(W_in.Data(), d.R1 * d.C);
    const std::vector<float> wc = ToFloat(W_core.Data(), d.R2 * d.R1 * d.kh * d.kw);
    const std::vector<float> wo = ToFloat(W_out.Data(), d.N * d.R2);
    const std::vector<float> bias = ToFloat(B.Data(), d.N);
    const T* z = Z.has_value() && *Z ? (*Z)->Data() : nullptr;
    const int64_t hw = d.H * d.W, ohw = d.Ho * d.Wo;
    std::vector<float> x(d.C * hw), t1(d.R1 * hw), t2(d.R2 * ohw), out(d.N * ohw);
    for (int64_t n = 0; n < d.batch; ++n) {
      const T* xs = X.Data() + n * d.C * hw;
      for (int64_t i = 0; i < d.C * hw; ++i) x[i] = Load(xs[i]);
      std::fill(t1.begin(), t1.end(), 0.f);
      std::fill(t2.begin(), t2.end(), 0.f);
      Gemm(wi.data(), x.data(), t1.data(), d.R1, d.C, hw);
      CoreConv(t1.data(), wc.data(), t2.data(), d, attrs_);
      for (int64_t m = 0; m < d.N; ++m) std::fill(out.begin() + m * ohw, out.begin() + (m + 1) * ohw, bias[m]);
      Gemm(wo.data(), t2.data(), out.data(), d.N, d.R2, ohw);
      T* ys = y + n * d.N * ohw;
      const T* zs = z ? z + n * d.N * ohw : nullptr;
      for (int64_t i = 0; i < d.N * ohw; ++i) {
        float v = out[i];
        if (zs) v += Load(zs[i]);
        if (attrs_.relu) v = std::max(v, 0.f);
        ys[i] = Store<T>(v);
      }
    }
    return Ort::Status{nullptr};
  }

  static Ort::Status InferOutputShape(Ort::ShapeInferContext& ctx) { return tucker::InferTuckerShape(ctx); }

 private:
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
