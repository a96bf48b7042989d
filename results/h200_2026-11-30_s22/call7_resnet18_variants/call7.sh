#!/usr/bin/env bash
# Session 22, call 7 (the committed library): every grid (variant 5) and staged (variant 6) config beside the model's
# pick on ResNet-18's Tucker layers at fp32, batch 1, TF32 off: is any pick on layers 2-4 far from the best?
set -u
mkdir -p tucker_onnx/_lib && xz -dc .libxz/libtucker_onnx_ops.so.xz > tucker_onnx/_lib/libtucker_onnx_ops.so
. tools/gpu_common.sh
export NVIDIA_TF32_OVERRIDE=0
for v in 5 6; do
  TUCKER_ONNX_TUNE=variant$v TUCKER_ONNX_CONFIG_LOG="$R/variant${v}_resnet18_b1.jsonl" timeout 200 python3 \
    tools/bench_layers.py --out "$R/layers_resnet18_v$v" --shapes 0 --models resnet18 --dtypes fp32 --batches 1 \
    --stack 4 --iters 30 --repeats 2 2>&1 | quiet | grep -E "^fp32|wrote"
  pack
done
