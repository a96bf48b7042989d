// CPU TuckerConv kernels (float32 and float16, fp32 accumulation).
#pragma once
#define ORT_API_MANUAL_INIT
#include "onnxruntime_cxx_api.h"
#undef ORT_API_MANUAL_INIT

namespace Cpu {
void RegisterOps(Ort::CustomOpDomain& domain);
}
