#!/usr/bin/env bash
# Session 20, call 12: the committed library (call 11's: .shared TF32 loads). ResNet-18 and ResNet-50 at fp32, batch 1
# and 32, CUDA graphs on, cuDNN with TF32 off.
set -u
mkdir -p tucker_onnx/_lib && xz -dc .libxz/libtucker_onnx_ops.so.xz > tucker_onnx/_lib/libtucker_onnx_ops.so
. tools/gpu_common.sh
timeout 150 python3 tools/bench_models.py --out "$R/models_fp32" --models resnet18 resnet50 --batches 1 32 \
  --dtypes fp32 --graphs on --tf32 off 2>&1 | quiet | tail -6
pack
