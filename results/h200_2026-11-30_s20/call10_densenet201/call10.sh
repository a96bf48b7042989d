#!/usr/bin/env bash
# Session 20, call 10: DenseNet-201 at fp32, batch 1, cuDNN with TF32 off, CUDA graphs off (ORT's CUDA Concat takes
# at most 32 inputs under graph capture; a DenseNet-201 block concatenates 33, call 9).
set -u
mkdir -p tucker_onnx/_lib && xz -dc .libxz/libtucker_onnx_ops.so.xz > tucker_onnx/_lib/libtucker_onnx_ops.so
. tools/gpu_common.sh
timeout 200 python3 tools/bench_models.py --out "$R/models_fp32_densenet201" --models densenet201 --batches 1 \
  --dtypes fp32 --graphs off --tf32 off 2>&1 | quiet | tail -3
pack
