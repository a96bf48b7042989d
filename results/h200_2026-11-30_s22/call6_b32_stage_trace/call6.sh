#!/usr/bin/env bash
# Session 22, call 6 (the committed library): where the batch-32 time of the large-rank layers goes, stage by stage,
# against cuDNN's kernels: CUPTI traces (no graph, PDL off so each kernel's time is its own) of 320:160->96:320@28 and
# 256:128->96:256@14 at batch 32, fp32 in TF32 mode against cuDNN's TF32, and fp16 against cuDNN's defaults.
set -u
mkdir -p tucker_onnx/_lib && xz -dc .libxz/libtucker_onnx_ops.so.xz > tucker_onnx/_lib/libtucker_onnx_ops.so
. tools/gpu_common.sh
export TUCKER_ONNX_PDL=0
TUCKER_ONNX_TF32=1 timeout 120 python3 tools/kernel_trace.py --shape "320:160->96:320@28" --shape "256:128->96:256@14" \
  --batch 32 --dtype fp32 --out "$R/trace_b32_tf32.json" 2>&1 | quiet > "$R/trace_b32_tf32.txt"
head -60 "$R/trace_b32_tf32.txt"; pack
timeout 120 python3 tools/kernel_trace.py --shape "320:160->96:320@28" --shape "256:128->96:256@14" \
  --batch 32 --dtype fp16 --out "$R/trace_b32_fp16.json" 2>&1 | quiet > "$R/trace_b32_fp16.txt"
head -60 "$R/trace_b32_fp16.txt"; pack
