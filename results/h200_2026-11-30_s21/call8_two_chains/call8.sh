#!/usr/bin/env bash
# Session 21, call 8: the WMMA kernel's fp32 step as two interleaved chains of three mmas (its two 8-row halves in two
# fragments) instead of one chain of six. Its fp32 WMMA CUDA tests; the fp32 layer bench at batch 1 on the 7x7-56x56
# rows (marginal), against call 4's.
set -u
# (the library carried stripped in tucker_onnx/_lib)
. tools/gpu_common.sh
export NVIDIA_TF32_OVERRIDE=0
cuda_tests 60 tests/test_kernel_cuda.py -k "wmma_fp32 or wmma_forms"
timeout 100 python3 tools/bench_layers.py --out "$R/layers_fp32_b1" --dtypes fp32 --batches 1 --hw 56 28 14 7 --stack 4 \
  --marginal 16 --iters 50 --repeats 3 2>&1 | quiet | grep -E "^fp32|wrote"
pack
