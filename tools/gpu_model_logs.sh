#!/usr/bin/env bash
# One GPU call that checks a kernel change and gathers what the model is refitted on (run through
# tools/device_env.sh, carrying .ortgpu, .whl and tucker_onnx/_lib): the CUDA tests; the layer benchmark under
# TUCKER_ONNX_TUNE=variant<V> (the model's pick plus every config of variant V timed per shape, fp32, batch 1 and
# 32); the exhaustive tuner's log on the benchmark shapes no committed log covers (batch 1 at 56x56 and 112x112,
# batch 32 at 7x7 and 14x14); then ResNet-18 and VGG-16 at batch 1 with the model's picks (original vs Tucker
# unfused vs fused, CUDA graphs on). Results are re-packed into $OUT/r.tgz after every step.
# Usage: bash tools/device_env.sh bash tools/gpu_model_logs.sh [V]
set -u
V=${1:-5}
. tools/gpu_common.sh
cuda_tests 150 tests/test_kernel_cuda.py
TUCKER_ONNX_TUNE=variant$V TUCKER_ONNX_CONFIG_LOG="$R/variant${V}_fp32.jsonl" timeout 120 \
  python3 tools/bench_layers.py --out "$R/layers_variant$V" --dtypes fp32 --stack 4 --iters 20 --repeats 2 2>&1 | quiet; pack
TUCKER_ONNX_TUNE=exhaustive TUCKER_ONNX_CONFIG_LOG="$R/exhaustive_b1_fp32.jsonl" timeout 90 \
  python3 tools/bench_layers.py --out "$R/layers_exh_b1" --dtypes fp32 --batches 1 --hw 56 112 --stack 4 --iters 10 \
  --repeats 1 2>&1 | quiet; pack
TUCKER_ONNX_TUNE=exhaustive TUCKER_ONNX_CONFIG_LOG="$R/exhaustive_b32_fp32.jsonl" timeout 90 \
  python3 tools/bench_layers.py --out "$R/layers_exh_b32" --dtypes fp32 --batches 32 --hw 7 14 --stack 4 --iters 10 \
  --repeats 1 2>&1 | quiet; pack
timeout 100 python3 tools/bench_models.py --models resnet18 vgg16_bn --batches 1 --dtypes fp32 --graphs on \
  --repeats 50 --out "$R/models_b1" 2>&1 | quiet; pack
