#!/usr/bin/env bash
# Session 21, call 1 (session 20's library): the layer bench at batch 1 with the marginal per-layer time (chains of 4
# and 16 layers), fp32 (cuDNN TF32 off) then fp16; and the kernels of ResNet-18 fp32 at batch 1 (original, Tucker
# unfused, Tucker fused) under CUPTI, to place the model-level gap.
set -u
mkdir -p tucker_onnx/_lib && xz -dc .libxz/libtucker_onnx_ops.so.xz > tucker_onnx/_lib/libtucker_onnx_ops.so
. tools/gpu_common.sh
export NVIDIA_TF32_OVERRIDE=0
timeout 260 python3 tools/bench_layers.py --out "$R/layers_fp32_b1" --dtypes fp32 --batches 1 --stack 4 --marginal 16 \
  --iters 50 --repeats 3 2>&1 | quiet | grep -E "^fp32|wrote"
pack
timeout 90 python3 tools/export_bench_models.py /tmp/m --models resnet18 --dtype fp32 2>&1 | quiet | tail -3
ls /tmp/m
timeout 100 python3 tools/kernel_trace.py --model /tmp/m/resnet18_original_fp32.onnx --model /tmp/m/resnet18_unfused_fp32.onnx \
  --model /tmp/m/resnet18_fused_fp32.onnx --batch 1 --dtype fp32 --out "$R/trace_resnet18_fp32_b1.json" 2>&1 | quiet \
  > "$R/trace_resnet18_fp32_b1.txt"
head -120 "$R/trace_resnet18_fp32_b1.txt"
pack
unset NVIDIA_TF32_OVERRIDE
timeout 200 python3 tools/bench_layers.py --out "$R/layers_fp16_b1" --dtypes fp16 --batches 1 --stack 4 --marginal 16 \
  --iters 50 --repeats 3 2>&1 | quiet | grep -E "^fp16|wrote"
pack
