// Registers one TuckerConv kernel template, in float32 and float16, for one execution provider; and the first step
// every kernel's Compute shares.
#pragma once
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "onnxruntime_lite_custom_op.h"
#include "tucker_conv_shape.h"
#include "tucker_conv_spec.h"

namespace tucker {

// Validates the node's tensors against each other and the attributes, fills d, allocates Y and returns its data
// (*y) and the optional residual's (*z, nullptr when absent). For an empty batch *y is nullptr: nothing to compute.
template <typename T>
Ort::Status PrepareCompute(const Attrs& attrs, const Ort::Custom::Tensor<T>& X, const Ort::Custom::Tensor<T>& W_in,
                           const Ort::Custom::Tensor<T>& W_core, const Ort::Custom::Tensor<T>& W_out,
                           const Ort::Custom::Tensor<T>& B, std::optional<const Ort::Custom::Tensor<T>*> Z,
                           Ort::Custom::Tensor<T>& Y, Dims* d, T** y, const T** z) {
  const bool has_z = Z.has_value() && *Z != nullptr;
  const std::vector<int64_t> zshape = has_z ? (*Z)->Shape() : std::vector<int64_t>{};
  const std::string err = ValidateShapes(X.Shape(), W_in.Shape(), W_core.Shape(), W_out.Shape(), B.Shape(),
                                         has_z ? &zshape : nullptr, attrs, d);
  if (!err.empty()) return Ort::Status(("TuckerConv: " + err).c_str(), ORT_INVALID_ARGUMENT);
  *z = has_z ? (*Z)->Data() : nullptr;
  T* out = Y.Allocate({d->batch, d->N, d->Ho, d->Wo});
  const bool empty = d->batch * d->N * d->Ho * d->Wo == 0;
  if (out == nullptr && !empty) return Ort::Status("TuckerConv: could not allocate the output", ORT_FAIL);
  *y = empty ? nullptr : out;
  return Ort::Status{nullptr};
}

template <template <typename> class Kernel>
void AddKernels(Ort::CustomOpDomain& domain, const char* provider) {
  // Static: ORT keeps pointers to the ops for as long as the domain lives (the process).
  static const std::unique_ptr<Ort::Custom::OrtLiteCustomOp> f32{
      Ort::Custom::CreateLiteCustomOp<Kernel<float>>(tucker_spec::kOpName, provider)};
  static const std::unique_ptr<Ort::Custom::OrtLiteCustomOp> f16{
      Ort::Custom::CreateLiteCustomOp<Kernel<Ort::Float16_t>>(tucker_spec::kOpName, provider)};
  f32->InferOutputShapeFn = InferTuckerShapeTyped;
  f16->InferOutputShapeFn = InferTuckerShapeTyped;
  domain.Add(f32.get());
  domain.Add(f16.get());
}

}  // namespace tucker
