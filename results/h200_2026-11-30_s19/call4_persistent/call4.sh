#!/usr/bin/env bash
# Session 19, call 4: persistent launches of the channels-last family's 1x1 stages (StagedNhwcPersistBlocks):
# its CUDA tests (staged and channels-last, the new persistent cases included), per-stage kernel traces,
# bench_configs on call 1-2's shapes and configs, then the fp16 layer benchmark with the model's picks.
# Run from the repository root through tools/device_env.sh.
set -u
. tools/gpu_common.sh
cuda_tests 150 -k "staged or channels_last" tests/test_kernel_cuda.py
timeout 80 python3 tools/kernel_trace.py --shape "128:64->64:128@56" --shape "128:64->32:128@112" \
  --shape "384:192->96:384@28" --batch 32 --dtype fp16 --out "$R/trace_b32.json" 2>&1 | quiet > "$R/trace_b32.txt"
grep -E "fused|StagedNhwc" "$R/trace_b32.txt" | cut -c1-120; pack
bench_configs "128:64->64:128@56" 32 6,128,128,256,4,32 6,64,128,256,4,32
bench_configs "192:96->64:192@28" 32 6,128,128,256,4,32 6,64,128,256,4,32
bench_configs "320:160->96:320@28" 32 6,64,128,256,4,32
bench_configs "128:64->32:128@224" 1 6,128,128,256,4,32 6,64,128,256,4,32
bench_configs "128:64->32:128@112" 1 6,128,128,256,4,32 6,64,128,256,4,32
timeout 300 python3 tools/bench_layers.py --out "$R/layers_fp16" --dtypes fp16 --batches 1 32 --stack 4 \
  --iters 50 --repeats 3 2>&1 | quiet | tail -40
pack
