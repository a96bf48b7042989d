#!/usr/bin/env bash
# Session 22, call 3: VGG-16-BN and DenseNet-121 at fp32 batch 1 with TF32 on both sides (TuckerConv's TF32 mode vs
# cuDNN's default TF32); then the model's TF32-mode picks against every WMMA (variant 4) and staged (variant 6)
# config, TDC shapes, batch 1 and 32 (the logs the model's TF32 terms are checked on).
set -u
mkdir -p tucker_onnx/_lib && xz -dc .libxz/libtucker_onnx_ops.so.xz > tucker_onnx/_lib/libtucker_onnx_ops.so
. tools/gpu_common.sh
for m in vgg16_bn densenet121; do
  timeout 110 python3 tools/bench_models.py --out "$R/models_tf32_$m" --models $m --batches 1 --dtypes fp32 \
    --graphs on --tf32 on 2>&1 | quiet | tail -2
  pack
done
export TUCKER_ONNX_TF32=1
for v in 4 6; do
  TUCKER_ONNX_TUNE=variant$v TUCKER_ONNX_CONFIG_LOG="$R/variant${v}_tf32.jsonl" timeout 150 python3 tools/bench_layers.py \
    --tf32 --out "$R/layers_tf32_v$v" --dtypes fp32 --batches 1 32 --stack 4 --iters 20 --repeats 2 2>&1 | quiet | tail -1
  pack
done
