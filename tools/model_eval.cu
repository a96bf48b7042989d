// Host-only driver of the analytical model (no GPU needed), for tools/fit_model.py.
// stdin, first line: the ModelParams (tools/fit_model.py NAMES order); then one line per measured config:
//   batch C H W R1 R2 kh kw N Ho Wo sh sw pt pl dh dw tf32  variant th tw threads nsplit kchunk
// (tf32: Problem::tf32, the fp32 forms' TF32 mode, 0 or 1). stdout: predicted cycles per config line. Device:
// H100/H200 (132 SMs, 228 KiB shared memory per SM).
// With the argument "choose", stdin holds problems only (the first 18 fields) and stdout the config the model
// picks for each: variant th tw threads nsplit kchunk shared_bytes. With "shortlist K": the K configs the quick
// tuner measures, cheapest first, on one line separated by " | ". With "cache FILE": the config cache as the CUDA
// op reads it (TUCKER_ONNX_CONFIG_CACHE), one "key|config" line per shape.
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "tucker_conv_impl.cuh"
#include "tucker_conv_staged_layout.h"

int main(int argc, char** argv) {
  using namespace tucker_cuda;
  if (argc > 2 && std::strcmp(argv[1], "cache") == 0) {  // the config cache as the CUDA op reads it
    for (const auto& [key, c] : ReadConfigCache(argv[2]))
      std::printf("%s|%d %d %d %d %d %d\n", key.c_str(), c.variant, c.th, c.tw, c.threads, c.nsplit, c.kchunk);
    return 0;
  }
  const bool shortlist = argc > 2 && std::strcmp(argv[1], "shortlist") == 0;
  if (shortlist || (argc > 1 && std::strcmp(argv[1], "choose") == 0)) {
    const Device d = kHopperDevice;
    Problem p{};
    int tf32 = 0;
    while (std::scanf("%d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d", &p.batch, &p.C, &p.H, &p.W, &p.R1, &p.R2,
                      &p.kh, &p.kw, &p.N, &p.Ho, &p.Wo, &p.sh, &p.sw, &p.pt, &p.pl, &p.dh, &p.dw, &tf32) == 18) {
      p.tf32 = tf32 != 0;
      // fp32 problems: the fp16-only tensor-core configs are not usable (the fp32 forms, nsplit 5 staged and
      // nsplit 3 WMMA, are).
      const UsableFn fp32 = [](const Problem&, const Config& c, bool) { return !Fp16Only(c); };
      const std::vector<Config> cs = shortlist ? Shortlist(p, d, std::atoi(argv[2]), fp32)
                                               : std::vector<Config>{ChooseConfig(p, d, fp32)};
      for (size_t i = 0; i < cs.size(); ++i) {
        const Config& c = cs[i];
        std::printf("%s%d %d %d %d %d %d %zu", i ? " | " : "", c.variant, c.th, c.tw, c.threads, c.nsplit, c.kchunk,
                    SharedBytes(p, c));
      }
      std::printf("\n");
    }
    return 0;
  }
  ModelParams m;
  if (std::scanf("%lf %lf %lf %lf %lf %lf %lf %lf %lf %lf %lf %lf %lf %lf %lf %lf %lf %lf %lf %lf %lf %lf %lf %lf %lf %lf %lf %lf %lf "
                 "%lf %lf %lf %lf %lf %lf %lf %lf %lf %lf",
                 &m.tiled_mem1,
                 &m.tiled_mem, &m.tiled_sync, &m.tiled_fill, &m.tiled_launch, &m.splitk_step1, &m.splitk_step2,
                 &m.splitk_step3, &m.splitk_atomic, &m.splitk_instr, &m.splitk_launch, &m.cluster_cpi,
                 &m.cluster_cpi_staged, &m.cluster_mem, &m.cluster_sync, &m.cluster_gather, &m.cluster_launch,
                 &m.grid_launch, &m.grid_sync, &m.grid_mem, &m.grid_step, &m.grid_reduce, &m.staged_cpi, &m.staged_launch,
                 &m.staged_bw, &m.staged_mma_cpi, &m.staged_mma_bw,
                 &m.staged_mma_lat, &m.staged_nhwc_lat, &m.wmma_launch, &m.wmma_mem, &m.wmma_step, &m.wmma_fill,
                 &m.wmma_sync, &m.wmma_share, &m.wmma_pdl, &m.wmma_tf32x3, &m.wmma_tf32, &m.staged_tf32) != 39)
    return 1;
  const Device d = kHopperDevice;
  Problem p{};
  Config c{};
  int relu = 0, tf32 = 0;
  while (std::scanf("%d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d %d", &p.batch, &p.C, &p.H,
                    &p.W, &p.R1, &p.R2, &p.kh, &p.kw, &p.N, &p.Ho, &p.Wo, &p.sh, &p.sw, &p.pt, &p.pl, &p.dh, &p.dw,
                    &tf32, &c.variant, &c.th, &c.tw, &c.threads, &c.nsplit, &c.kchunk) == 24) {
    p.relu = relu;
    p.tf32 = tf32 != 0;
    std::printf("%.1f\n", PredictCycles(p, c, d, m));
  }
  return 0;
}
