#!/usr/bin/env bash
# Session 22, call 8: the review commit's test refactor (test_cuda_tf32_mode_model_picks through _fp32_error) and
# bench_common's shared TF32 rule, on the committed library: the TF32 and fp32-accuracy CUDA tests.
set -u
mkdir -p tucker_onnx/_lib && xz -dc .libxz/libtucker_onnx_ops.so.xz > tucker_onnx/_lib/libtucker_onnx_ops.so
. tools/gpu_common.sh
cuda_tests 120 tests/test_kernel_cuda.py -k "tf32 or keeps_fp32"
python3 -c "import sys; sys.path.insert(0, 'tools'); import bench_common, os; print(bench_common.cuda_options(True)[0]['use_tf32'])" >> "$R/cuda_tests.log" 2>&1
pack
