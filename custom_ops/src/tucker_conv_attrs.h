// Attribute reading and shape validation for TuckerConv, shared by the CPU and CUDA kernels.
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "onnxruntime_c_api.h"

namespace tucker {

struct Attrs {
  int64_t stride_h = 1, stride_w = 1;
  int64_t pad_t = 0, pad_l = 0, pad_b = 0, pad_r = 0;
  int64_t dil_h = 1, dil_w = 1;
  bool relu = false;
  std::string error;  // non-empty when an attribute is malformed
};

// All sizes of one call, validated.
struct Dims {
  int64_t batch, C, H, W, R1, R2, kh, kw, N, Ho, Wo;
};

Attrs ReadAttrs(const OrtApi* api, const OrtKernelInfo* info);

// Returns "" when the shapes are consistent (filling *d), else a one-line reason.
std::string ValidateShapes(const std::vector<int64_t>& x, const std::vector<int64_t>& w_in,
                           const std::vector<int64_t>& w_core, const std::vector<int64_t>& w_out,
                           const std::vector<int64_t>& b, const std::vector<int64_t>* z, const Attrs& a,
                           Dims* d);

// Output spatial size along one axis (ONNX Conv semantics); may be <= 0 for invalid inputs.
inline int64_t ConvOut(int64_t in, int64_t k, int64_t s, int64_t p0, int64_t p1, int64_t dil) {
  return (in + p0 + p1 - dil * (k - 1) - 1) / s + 1;
}

}  // namespace tucker
