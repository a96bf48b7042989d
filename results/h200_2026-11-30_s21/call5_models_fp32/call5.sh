#!/usr/bin/env bash
# Session 21, call 5: the committed library (80cb9b6: the WMMA kernel's fp32 form). Models at fp32, batch 1, CUDA graphs
# on, cuDNN with TF32 off: ResNet-18, DenseNet-121, VGG-16-BN, ResNet-50 (original vs Tucker unfused vs Tucker fused).
set -u
mkdir -p tucker_onnx/_lib && xz -dc .libxz/libtucker_onnx_ops.so.xz > tucker_onnx/_lib/libtucker_onnx_ops.so
. tools/gpu_common.sh
for m in resnet18 densenet121 vgg16_bn resnet50; do
  timeout 140 python3 tools/bench_models.py --out "$R/models_fp32_$m" --models $m --batches 1 \
    --dtypes fp32 --graphs on --tf32 off 2>&1 | quiet | tail -4
  pack
done
