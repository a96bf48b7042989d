#!/usr/bin/env bash
# Session 21, call 10: the committed library. ResNet-18's distinct Tucker layers (TDC ranks, 224x224) at fp32, batch 1,
# cuDNN TF32 off, with the marginal time: which layers keep the model-level speed-up at 2x.
set -u
mkdir -p tucker_onnx/_lib && xz -dc .libxz/libtucker_onnx_ops.so.xz > tucker_onnx/_lib/libtucker_onnx_ops.so
. tools/gpu_common.sh
export NVIDIA_TF32_OVERRIDE=0
timeout 150 python3 tools/bench_layers.py --out "$R/layers_resnet18_fp32_b1" --shapes 0 --models resnet18 --dtypes fp32 \
  --batches 1 --stack 4 --marginal 16 --iters 50 --repeats 3 2>&1 | quiet | grep -E "^fp32|wrote"
pack
