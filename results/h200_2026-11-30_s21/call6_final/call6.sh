#!/usr/bin/env bash
# Session 21, call 6: the committed library (80cb9b6). All of tests/test_kernel_cuda.py; the fp32 batch-32 7x7 rows
# again (call 4's bench ran 64->32@7 at 39 us where its variant log, the same config, ran 19); fp16 after the WMMA
# kernel took the element type: ResNet-18 at batch 1 and the fp16 layer bench at batch 1 (marginal); then
# tests/test_tune.py with what time is left.
set -u
mkdir -p tucker_onnx/_lib && xz -dc .libxz/libtucker_onnx_ops.so.xz > tucker_onnx/_lib/libtucker_onnx_ops.so
. tools/gpu_common.sh
cuda_tests 150 tests/test_kernel_cuda.py
cp "$R/cuda_tests.log" "$R/cuda_tests_kernel.log"
NVIDIA_TF32_OVERRIDE=0 timeout 60 python3 tools/bench_layers.py --out "$R/layers_fp32_b32_7x7" --dtypes fp32 --batches 32 \
  --hw 7 --stack 4 --iters 50 --repeats 3 2>&1 | quiet | grep -E "^fp32|wrote"
pack
timeout 80 python3 tools/bench_models.py --out "$R/models_fp16_resnet18" --models resnet18 --batches 1 \
  --dtypes fp16 --graphs on 2>&1 | quiet | tail -3
pack
timeout 130 python3 tools/bench_layers.py --out "$R/layers_fp16_b1" --dtypes fp16 --batches 1 --stack 4 --marginal 16 \
  --iters 50 --repeats 3 2>&1 | quiet | grep -E "^fp16|wrote"
pack
cuda_tests 170 tests/test_tune.py
