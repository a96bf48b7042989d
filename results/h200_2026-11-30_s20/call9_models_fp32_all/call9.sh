#!/usr/bin/env bash
# Session 20, call 9: the other three models at fp32, batch 1, CUDA graphs on, cuDNN with TF32 off (the comparison
# the 3xTF32 form's accuracy makes), one bench_models.py run per model so that each result survives the limit.
set -u
mkdir -p tucker_onnx/_lib && xz -dc .libxz/libtucker_onnx_ops.so.xz > tucker_onnx/_lib/libtucker_onnx_ops.so
. tools/gpu_common.sh
for m in vgg16_bn densenet121 densenet201; do
  timeout 150 python3 tools/bench_models.py --out "$R/models_fp32_$m" --models $m --batches 1 --dtypes fp32 \
    --graphs on --tf32 off 2>&1 | quiet | tail -3
  pack
done
