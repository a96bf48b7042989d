#!/usr/bin/env bash
# Session 22, call 4: the library as committed. All of tests/test_kernel_cuda.py and tests/test_tune.py; then VGG-16-BN
# at fp32 batch 1 with TF32 on both sides and --select (fused only where measured faster).
set -u
mkdir -p tucker_onnx/_lib && xz -dc .libxz/libtucker_onnx_ops.so.xz > tucker_onnx/_lib/libtucker_onnx_ops.so
. tools/gpu_common.sh
cuda_tests 420
timeout 150 python3 tools/bench_models.py --out "$R/models_tf32_vgg16_bn_select" --models vgg16_bn --batches 1 \
  --dtypes fp32 --graphs on --tf32 on --select 2>&1 | quiet | tail -2
pack
