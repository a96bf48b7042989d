#!/usr/bin/env bash
# Session 20, call 6: the library with the fp32 form's fitted model terms. The layer benchmark (fp32 and fp16, the
# model's picks, batch 1 and 32, against ORT's cuDNN triplet), then all of tests/test_kernel_cuda.py.
set -u
. tools/gpu_common.sh
timeout 260 python3 tools/bench_layers.py --out "$R/layers" --dtypes fp32 fp16 --batches 1 32 --stack 4 \
  --iters 50 --repeats 3 2>&1 | quiet | tail -75
pack
cuda_tests 300 tests/test_kernel_cuda.py
