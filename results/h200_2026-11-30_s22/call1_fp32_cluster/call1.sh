#!/usr/bin/env bash
# Session 22, call 1: the WMMA kernel's fp32 cluster split as a tuner candidate (TensorCoreCandidates with nsplit 3).
# Every variant-4 config (plain and cluster) beside the model's pick on ResNet-18's Tucker layers and the 18 TDC shapes,
# fp32 batch 1 (cuDNN TF32 off), then the fused ResNet-18's kernels at fp32 batch 1 (model picks) under CUPTI.
set -u
mkdir -p tucker_onnx/_lib && xz -dc .libxz/libtucker_onnx_ops.so.xz > tucker_onnx/_lib/libtucker_onnx_ops.so
. tools/gpu_common.sh
export NVIDIA_TF32_OVERRIDE=0
TUCKER_ONNX_TUNE=variant4 TUCKER_ONNX_CONFIG_LOG="$R/variant4_resnet18_b1.jsonl" timeout 150 python3 tools/bench_layers.py \
  --out "$R/layers_resnet18_v4_b1" --shapes 0 --models resnet18 --dtypes fp32 --batches 1 --stack 4 --marginal 16 \
  --iters 50 --repeats 3 2>&1 | quiet | grep -E "^fp32|wrote"
pack
TUCKER_ONNX_TUNE=variant4 TUCKER_ONNX_CONFIG_LOG="$R/variant4_tdc_b1.jsonl" timeout 170 python3 tools/bench_layers.py \
  --out "$R/layers_tdc_v4_b1" --dtypes fp32 --batches 1 --stack 4 --marginal 16 --iters 50 --repeats 3 2>&1 | quiet | grep -E "^fp32|wrote"
pack
timeout 90 python3 tools/export_bench_models.py /tmp/m --models resnet18 --dtype fp32 2>&1 | quiet | tail -2
timeout 80 python3 tools/kernel_trace.py --model /tmp/m/resnet18_fused_fp32.onnx --batch 1 --dtype fp32 \
  --out "$R/trace_resnet18_fused_fp32_b1.json" 2>&1 | quiet > "$R/trace_resnet18_fused_fp32_b1.txt"
head -40 "$R/trace_resnet18_fused_fp32_b1.txt"
pack
TUCKER_ONNX_TUNE=variant4 TUCKER_ONNX_CONFIG_LOG="$R/variant4_tdc_b32.jsonl" timeout 120 python3 tools/bench_layers.py \
  --out "$R/layers_tdc_v4_b32" --dtypes fp32 --batches 32 --stack 4 --iters 30 --repeats 2 2>&1 | quiet | grep -E "^fp32|wrote"
pack
