#!/usr/bin/env bash
# Session 19, call 6: the model with stage 3's epilogue latency (kNhwcEpiFragLat): the fp16 layer benchmark with the
# model's picks (batch 1 and 32), then the CUDA kernel tests (tests/test_kernel_cuda.py) on this library.
# Run from the repository root through tools/device_env.sh.
set -u
. tools/gpu_common.sh
timeout 240 python3 tools/bench_layers.py --out "$R/layers_fp16" --dtypes fp16 --batches 1 32 --stack 4 \
  --iters 50 --repeats 3 2>&1 | quiet | tail -40
pack
cuda_tests 300 tests/test_kernel_cuda.py
