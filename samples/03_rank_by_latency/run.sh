#!/usr/bin/env bash
# Sample 03: pick ranks by measured latency for a 1.3x speed-up target, build that model, and profile it against
# the original (CUDA provider when available, else CPU; on the CPU TuckerConv runs through its function).
# rewrite --plan fuses only the layers whose fused op measured faster than their three Convs. On a GPU the fused
# op is judged with per-shape tuned configs (rank --tune), which `tune` saves for the deployment (the profile).
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
T="$root/.venv/bin/tucker-onnx"
out="${OUT_DIR:-$root/out/03_rank_by_latency}"
mkdir -p "$out"
provider=$("$root/.venv/bin/python" -c "from tucker_onnx.profile.profiler import available_provider as a; print(a())")
tune=()
[[ "$provider" == "cuda" ]] && tune=(--tune top16)
"$T" zoo resnet18 "$out/resnet18.onnx" --image-size 224
"$T" rank "$out/resnet18.onnx" -o "$out/plan.json" --speedup "${SPEEDUP:-1.3}" --step 32 "${tune[@]}"
"$T" decompose "$out/resnet18.onnx" "$out/resnet18_tucker.onnx" --plan "$out/plan.json"
"$T" rewrite "$out/resnet18_tucker.onnx" "$out/resnet18_fused.onnx" --plan "$out/plan.json"
if [[ "$provider" == "cuda" ]]; then
  if "$T" tune "$out/resnet18_fused.onnx" "$out/configs.jsonl" --mode top16 --replace; then
    export TUCKER_ONNX_CONFIG_CACHE="$out/configs.jsonl"
  fi  # a plan that fused nothing leaves no TuckerConv to tune
  "$T" profile "$out/resnet18_fused.onnx" --compare "$out/resnet18.onnx"
else
  "$T" profile "$out/resnet18_fused.onnx" --compare "$out/resnet18.onnx" --no-library
fi
