#!/usr/bin/env bash
# Sample 01: export torchvision ResNet-18, Tucker-decompose it, fuse every triplet into TuckerConv,
# check the result numerically, and run it with and without the custom-op library.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(cd "$here/../.." && pwd)"
T="$root/.venv/bin/tucker-onnx"
out="${OUT_DIR:-$root/out/01_rewrite_resnet18}"
mkdir -p "$out"
"$T" zoo resnet18 "$out/resnet18.onnx" --image-size 224
"$T" decompose "$out/resnet18.onnx" "$out/resnet18_tucker.onnx" --ratio 0.25 --multiple 32
"$T" rewrite "$out/resnet18_tucker.onnx" "$out/resnet18_fused.onnx" --check 2
"$root/.venv/bin/python" "$here/run_fused.py" "$out/resnet18_tucker.onnx" "$out/resnet18_fused.onnx"
