#!/usr/bin/env bash
# Session 20, call 7: the fp32 form with per-step partial sums (the tensor cores' accumulation chain cut to one step)
# and the fp32 tiles held to two blocks per SM. The library travels xz-compressed so that tensorly fits beside it.
# The fp32 channels-last CUDA tests (twice: fresh inputs each run), the fp32 layer benchmark, then ResNet-18 and
# ResNet-50 at fp32 (batch 1 and 32, CUDA graphs on, cuDNN with TF32 off: the comparison 3xTF32's accuracy makes).
set -u
mkdir -p tucker_onnx/_lib && xz -dc .libxz/libtucker_onnx_ops.so.xz > tucker_onnx/_lib/libtucker_onnx_ops.so
. tools/gpu_common.sh
cuda_tests 100 tests/test_kernel_cuda.py -k "channels_last_fp32 or fp32_accuracy"
cp "$R/cuda_tests.log" "$R/cuda_tests_1.log"
cuda_tests 100 tests/test_kernel_cuda.py -k "channels_last_fp32 or fp32_accuracy"
timeout 120 python3 tools/bench_layers.py --out "$R/layers_fp32" --dtypes fp32 --batches 1 32 --stack 4 \
  --iters 50 --repeats 3 2>&1 | quiet | tail -37
pack
timeout 280 python3 tools/bench_models.py --out "$R/models_fp32" --models resnet18 resnet50 --batches 1 32 \
  --dtypes fp32 --graphs on --tf32 off 2>&1 | quiet | tail -20
pack
