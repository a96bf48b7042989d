#!/usr/bin/env bash
# Session 19, call 2: the channels-first epilogue's loads batched (stage 3): channels-last CUDA tests, per-stage
# kernel traces, bench_configs on the shapes of call 1 (its ring 3x32 rows are the old library's), Nsight on the
# three stages of 128:64->64:128@56 at batch 32. Run from the repository root through tools/device_env.sh.
set -u
. tools/gpu_common.sh
cuda_tests 120 -k channels_last tests/test_kernel_cuda.py
timeout 100 python3 tools/kernel_trace.py --shape "128:64->64:128@56" --shape "384:192->96:384@28" \
  --shape "128:64->32:128@112" --batch 32 --dtype fp16 --out "$R/trace_b32.json" 2>&1 | quiet > "$R/trace_b32.txt"
cat "$R/trace_b32.txt"; pack
bench_configs "128:64->64:128@56" 32 6,128,128,256,4,32 6,64,128,256,4,32
bench_configs "192:96->64:192@28" 32 6,128,128,256,4,32 6,64,128,256,4,32
bench_configs "320:160->96:320@28" 32 6,64,128,256,4,32
bench_configs "384:192->96:384@14" 32 6,128,64,256,4,32
bench_configs "128:64->32:128@224" 1 6,128,128,256,4,32 6,64,128,256,4,32
bench_configs "128:64->32:128@112" 1 6,128,128,256,4,32 6,64,128,256,4,32
KERNEL=StagedNhwc NCU_SKIP=3 NCU_COUNT=3 ncu_layer s56 200 --c 128 --r1 64 --r2 64 --hw 56 --batch 32 --dtype fp16 \
  --config 6,128,128,256,4,32 | cut -c1-160
