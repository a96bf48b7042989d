// Registers one TuckerConv kernel template, in float32 and float16, for one execution provider.
#pragma once
#include <memory>

#include "onnxruntime_lite_custom_op.h"
#include "tucker_conv_shape.h"
#include "tucker_conv_spec.h"

namespace tucker {

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
