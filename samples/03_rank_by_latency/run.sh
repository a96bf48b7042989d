#!/usr/bin/env bash
# Sample 03: pick ranks by measured latency for a 1.3x speed-up target, build that model, and profile it against
# the original (CUDA provider when available, else CPU; on the CPU TuckerConv runs through its function).
# rewrite --plan fuses only the layers whose fused op measured faster than their three Convs.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
T="$root/.venv/bin/tucker-onnx"
out="${OUT_DIR:-$root/out/03_rank_by_latency}"
mkdir -p "$out"
"$T" zoo resnet18 "$out/resnet18.onnx" --image-size 224
"$T" rank "$out/resnet18.onnx" -o "$out/plan.json" --speedup "${SPEEDUP:-1.3}" --step 32
"$T" decompose "$out/resnet18.onnx" "$out/resnet18_tucker.onnx" --plan "$out/plan.json"
"$T" rewrite "$out/resnet18_tucker.onnx" "$out/resnet18_fused.onnx" --plan "$out/plan.json"
extra=()
python_has_cuda=$("$root/.venv/bin/python" -c "from tucker_onnx.profile.profiler import available_provider as a; print(a())")
[[ "$python_has_cuda" == "cpu" ]] && extra=(--no-library)
"$T" profile "$out/resnet18_fused.onnx" --compare "$out/resnet18.onnx" "${extra[@]}"
