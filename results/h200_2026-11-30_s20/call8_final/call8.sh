#!/usr/bin/env bash
# Session 20, call 8: the committed library (call 7's). All of tests/test_kernel_cuda.py; ResNet-18/50 at fp32, batch
# 1, with cuDNN on ORT's default TF32 (the less accurate baseline, for reference beside call 7's TF32-off one) and at
# fp16, batch 1 (the fp16 path after the kernel took the element type); then tests/test_tune.py with what time is left.
set -u
mkdir -p tucker_onnx/_lib && xz -dc .libxz/libtucker_onnx_ops.so.xz > tucker_onnx/_lib/libtucker_onnx_ops.so
. tools/gpu_common.sh
cuda_tests 150 tests/test_kernel_cuda.py
cp "$R/cuda_tests.log" "$R/cuda_tests_kernel.log"
timeout 100 python3 tools/bench_models.py --out "$R/models_fp32_tf32default" --models resnet18 resnet50 --batches 1 \
  --dtypes fp32 --graphs on --tf32 ort-default 2>&1 | quiet | tail -6
pack
timeout 100 python3 tools/bench_models.py --out "$R/models_fp16" --models resnet18 resnet50 --batches 1 \
  --dtypes fp16 --graphs on 2>&1 | quiet | tail -6
pack
cuda_tests 170 tests/test_tune.py
