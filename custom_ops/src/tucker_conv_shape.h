// Output-shape inference for TuckerConv, shared by every registered variant.
#pragma once
#define ORT_API_MANUAL_INIT
#include "onnxruntime_cxx_api.h"
#undef ORT_API_MANUAL_INIT

#include "tucker_conv_attrs.h"
#include "tucker_conv_spec.h"

namespace tucker {

// Tolerates unknown ranks (ORT passes rank-0 shapes for them): then it sets nothing.
inline Ort::Status InferTuckerShape(Ort::ShapeInferContext& ctx,
                                    ONNXTensorElementDataType type = ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT) {
  using namespace tucker_spec;
  using Shape = Ort::ShapeInferContext::Shape;
  if (ctx.GetInputCount() < static_cast<size_t>(kNumRequiredInputs)) return Ort::Status{nullptr};
  const Shape& x = ctx.GetInputShape(kInputX);
  const Shape& wc = ctx.GetInputShape(kInputWcore);
  const Shape& wo = ctx.GetInputShape(kInputWout);
  if (x.size() != 4 || wc.size() != 4 || wo.size() != 4) return Ort::Status{nullptr};
  std::vector<int64_t> s{1, 1}, p{0, 0, 0, 0}, d{1, 1};
  try { s = ctx.GetAttrInts(kAttrStrides); } catch (...) {}
  try { p = ctx.GetAttrInts(kAttrPads); } catch (...) {}
  try { d = ctx.GetAttrInts(kAttrDilations); } catch (...) {}
  if (s.size() != 2 || p.size() != 4 || d.size() != 2) return Ort::Status{nullptr};
  auto spatial = [&](int axis) -> Ort::ShapeInferContext::SymbolicInteger {
    const auto& in = x[2 + axis];
    const auto& k = wc[2 + axis];
    if (!in.IsInt() || !k.IsInt() || in.AsInt() < 0) return Ort::ShapeInferContext::SymbolicInteger(int64_t{-1});
    return Ort::ShapeInferContext::SymbolicInteger(ConvOut(in.AsInt(), k.AsInt(), s[axis], p[axis], p[axis + 2], d[axis]));
  };
  Shape out{x[0], wo[0], spatial(0), spatial(1)};
  return ctx.SetOutputShape(0, out, type);
}

// The lite API's shape hook cannot see input types, so the output would always be typed float:
// this replacement reads X's element type through the C API (the info stays owned by ORT).
inline OrtStatusPtr InferTuckerShapeTyped(const OrtCustomOp*, OrtShapeInferContext* raw) {
  const OrtApi& api = Ort::GetApi();
  ONNXTensorElementDataType type = ONNX_TENSOR_ELEMENT_DATA_TYPE_FLOAT;
  OrtTensorTypeAndShapeInfo* info = nullptr;
  if (OrtStatus* st = api.ShapeInferContext_GetInputTypeShape(raw, tucker_spec::kInputX, &info)) {
    api.ReleaseStatus(st);
  } else if (info != nullptr) {
    if (OrtStatus* st2 = api.GetTensorElementType(info, &type)) api.ReleaseStatus(st2);
  }
  try {
    Ort::ShapeInferContext ctx(&api, raw);
    return InferTuckerShape(ctx, type).release();
  } catch (const Ort::Exception& e) {
    return api.CreateStatus(e.GetOrtErrorCode(), e.what());
  } catch (const std::exception& e) {
    return api.CreateStatus(ORT_FAIL, e.what());
  }
}

}  // namespace tucker
