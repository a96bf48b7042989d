#include "tucker_conv_attrs.h"

#include <sstream>

#include "tucker_conv_spec.h"

namespace tucker {
namespace {

std::vector<int64_t> GetInts(const OrtApi* api, const OrtKernelInfo* info, const char* name,
                             std::vector<int64_t> dflt) {
  size_t n = 0;
  OrtStatus* st = api->KernelInfoGetAttributeArray_int64(info, name, nullptr, &n);
  if (st != nullptr) {  // missing: the spec's default
    api->ReleaseStatus(st);
    return dflt;
  }
  std::vector<int64_t> v(n);
  st = api->KernelInfoGetAttributeArray_int64(info, name, v.data(), &n);
  if (st != nullptr) {
    api->ReleaseStatus(st);
    return dflt;
  }
  return v;
}

std::string GetString(const OrtApi* api, const OrtKernelInfo* info, const char* name, const char* dflt) {
  size_t n = 0;
  OrtStatus* st = api->KernelInfoGetAttribute_string(info, name, nullptr, &n);
  if (st != nullptr) {
    api->ReleaseStatus(st);
    return dflt;
  }
  std::string s(n, '\0');
  st = api->KernelInfoGetAttribute_string(info, name, s.data(), &n);
  if (st != nullptr) {
    api->ReleaseStatus(st);
    return dflt;
  }
  if (!s.empty() && s.back() == '\0') s.pop_back();
  return s;
}

std::string Str(const std::vector<int64_t>& v) {
  std::ostringstream o;
  o << "[";
  for (size_t i = 0; i < v.size(); ++i) o << (i ? "," : "") << v[i];
  o << "]";
  return o.str();
}

}  // namespace

Attrs ReadAttrs(const OrtApi* api, const OrtKernelInfo* info) {
  using namespace tucker_spec;
  Attrs a;
  auto s = GetInts(api, info, kAttrStrides, {kDefaultStrides[0], kDefaultStrides[1]});
  auto p = GetInts(api, info, kAttrPads, {kDefaultPads[0], kDefaultPads[1], kDefaultPads[2], kDefaultPads[3]});
  auto d = GetInts(api, info, kAttrDilations, {kDefaultDilations[0], kDefaultDilations[1]});
  std::string act = GetString(api, info, kAttrActivation, kDefaultActivation);
  if (s.size() != 2 || p.size() != 4 || d.size() != 2) {
    a.error = "strides/dilations need 2 values and pads 4 (2-D conv only)";
    return a;
  }
  if (s[0] < 1 || s[1] < 1 || d[0] < 1 || d[1] < 1 || p[0] < 0 || p[1] < 0 || p[2] < 0 || p[3] < 0) {
    a.error = "strides and dilations must be >= 1 and pads >= 0";
    return a;
  }
  a.stride_h = s[0]; a.stride_w = s[1];
  a.pad_t = p[0]; a.pad_l = p[1]; a.pad_b = p[2]; a.pad_r = p[3];
  a.dil_h = d[0]; a.dil_w = d[1];
  if (act == kActivationRelu) a.relu = true;
  else if (act != kActivationNone) a.error = "activation must be 'none' or 'relu', got '" + act + "'";
  return a;
}

std::string ValidateShapes(const std::vector<int64_t>& x, const std::vector<int64_t>& w_in,
                           const std::vector<int64_t>& w_core, const std::vector<int64_t>& w_out,
                           const std::vector<int64_t>& b, const std::vector<int64_t>* z, const Attrs& a,
                           Dims* d) {
  using tucker_spec::kMaxKernel;
  if (!a.error.empty()) return a.error;
  if (x.size() != 4) return "X must be 4-D NCHW, got shape " + Str(x);
  if (w_in.size() != 4 || w_in[2] != 1 || w_in[3] != 1) return "W_in must be [R1,C,1,1], got " + Str(w_in);
  if (w_core.size() != 4) return "W_core must be [R2,R1,kh,kw], got " + Str(w_core);
  if (w_out.size() != 4 || w_out[2] != 1 || w_out[3] != 1) return "W_out must be [N,R2,1,1], got " + Str(w_out);
  if (w_in[1] != x[1]) return "W_in channels " + Str(w_in) + " do not match X " + Str(x);
  if (w_core[1] != w_in[0]) return "W_core input channels " + Str(w_core) + " do not match W_in " + Str(w_in);
  if (w_out[1] != w_core[0]) return "W_out input channels " + Str(w_out) + " do not match W_core " + Str(w_core);
  if (w_core[2] < 1 || w_core[3] < 1 || w_core[2] > kMaxKernel || w_core[3] > kMaxKernel)
    return "core kernel " + Str(w_core) + " outside 1.." + std::to_string(kMaxKernel);
  if (b.size() != 1 || b[0] != w_out[0]) return "B must be [N] with N = " + std::to_string(w_out[0]) + ", got " + Str(b);
  Dims r{x[0], x[1], x[2], x[3], w_in[0], w_core[0], w_core[2], w_core[3], w_out[0], 0, 0};
  r.Ho = ConvOut(r.H, r.kh, a.stride_h, a.pad_t, a.pad_b, a.dil_h);
  r.Wo = ConvOut(r.W, r.kw, a.stride_w, a.pad_l, a.pad_r, a.dil_w);
  if (r.Ho < 1 || r.Wo < 1) return "input " + Str(x) + " too small for the core kernel, padding and dilation";
  if (z != nullptr) {
    std::vector<int64_t> want{r.batch, r.N, r.Ho, r.Wo};
    if (*z != want) return "residual Z must have shape " + Str(want) + ", got " + Str(*z);
  }
  *d = r;
  return "";
}

}  // namespace tucker
