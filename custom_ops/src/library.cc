// The library's only entry point: registers TuckerConv for every provider this build has.
#define ORT_API_MANUAL_INIT
#include "onnxruntime_cxx_api.h"
#undef ORT_API_MANUAL_INIT

#include <mutex>
#include <vector>

#include "cpu/tucker_conv_cpu.h"
#include "cuda/tucker_conv_cuda.h"
#include "tucker_conv_spec.h"

namespace {
std::mutex g_mutex;
std::vector<Ort::CustomOpDomain> g_domains;  // ORT keeps raw pointers: keep them alive
}  // namespace

extern "C" {

__attribute__((visibility("default"))) OrtStatus* ORT_API_CALL RegisterCustomOps(OrtSessionOptions* options,
                                                                                  const OrtApiBase* api_base) {
  const OrtApi* api = api_base->GetApi(ORT_API_VERSION);
  if (api == nullptr) return nullptr;  // ORT already printed which API versions it supports
  Ort::InitApi(api);
  try {
    Ort::CustomOpDomain domain{tucker_spec::kDomain};
    Cpu::RegisterOps(domain);
    Cuda::RegisterOps(domain);
    Ort::UnownedSessionOptions(options).Add(domain);
    std::lock_guard<std::mutex> lock(g_mutex);
    g_domains.push_back(std::move(domain));
  } catch (const Ort::Exception& e) {
    return api->CreateStatus(e.GetOrtErrorCode(), e.what());
  } catch (const std::exception& e) {
    return api->CreateStatus(ORT_FAIL, e.what());
  }
  return nullptr;
}

// Lets the Python side refuse a library built from another spec version.
__attribute__((visibility("default"))) int TuckerOnnxSpecVersion() { return tucker_spec::kSpecVersion; }

// 1 when the CUDA kernels were compiled in.
__attribute__((visibility("default"))) int TuckerOnnxHasCuda() { return Cuda::kBuilt ? 1 : 0; }

// Predicted microseconds of the CUDA kernel on a TuckerConv shape (17 values, see Cuda::PredictMicros), from the
// analytical model alone (host code: no GPU needed); -1 when the CUDA kernels were not compiled in. `rank` uses it
// to skip measuring fused candidates that cannot win.
__attribute__((visibility("default"))) double TuckerOnnxPredictMicros(const int64_t* shape) {
  return Cuda::PredictMicros(shape);
}

}  // extern "C"
