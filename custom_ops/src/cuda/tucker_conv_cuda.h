// CUDA TuckerConv registration; an empty stub when the library is built without CUDA.
#pragma once
#define ORT_API_MANUAL_INIT
#include "onnxruntime_cxx_api.h"
#undef ORT_API_MANUAL_INIT

#include <cstdint>

namespace Cuda {
#ifdef TUCKER_WITH_CUDA
constexpr bool kBuilt = true;
void RegisterOps(Ort::CustomOpDomain& domain);
// The analytical model's predicted time (us) of its own pick for a shape: s = batch, C, H, W, R1, R2, kh, kw, N,
// sh, sw, pt, pl, pb, pr, dh, dw. Device 0's properties when a GPU is present, else an H100/H200's.
double PredictMicros(const int64_t* s);
#else
constexpr bool kBuilt = false;
inline void RegisterOps(Ort::CustomOpDomain&) {}
inline double PredictMicros(const int64_t*) { return -1.0; }
#endif
}  // namespace Cuda
