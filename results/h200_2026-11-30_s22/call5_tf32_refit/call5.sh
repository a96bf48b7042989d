#!/usr/bin/env bash
# Session 22, call 5: the library with the TF32 terms scanned on call 3's logs (staged_tf32 0.333 -> 0.25). The TF32
# and tuner CUDA tests, then the layer bench with TF32 on both sides at batch 32 and 1 (model picks).
set -u
mkdir -p tucker_onnx/_lib && xz -dc .libxz/libtucker_onnx_ops.so.xz > tucker_onnx/_lib/libtucker_onnx_ops.so
. tools/gpu_common.sh
cuda_tests 150 tests/test_kernel_cuda.py -k "tf32 or exhaustive_tuner or quick_tuner or keeps_fp32"
timeout 100 python3 tools/bench_layers.py --tf32 --out "$R/layers_tf32_b32" --dtypes fp32 --batches 32 --stack 4 \
  --iters 30 --repeats 2 2>&1 | quiet | grep -E "^fp32|wrote"
pack
timeout 170 python3 tools/bench_layers.py --tf32 --out "$R/layers_tf32_b1" --dtypes fp32 --batches 1 --stack 4 \
  --marginal 16 --iters 50 --repeats 3 2>&1 | quiet | grep -E "^fp32|wrote"
pack
