// CUDA TuckerConv registration; an empty stub when the library is built without CUDA.
#pragma once
#define ORT_API_MANUAL_INIT
#include "onnxruntime_cxx_api.h"
#undef ORT_API_MANUAL_INIT

namespace Cuda {
#ifdef TUCKER_WITH_CUDA
constexpr bool kBuilt = true;
void RegisterOps(Ort::CustomOpDomain& domain);
#else
constexpr bool kBuilt = false;
inline void RegisterOps(Ort::CustomOpDomain&) {}
#endif
}  // namespace Cuda
