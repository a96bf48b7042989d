#!/usr/bin/env bash
# Session 20, call 11: the fp32 form's TF32 fragment loads with the .shared state space (inline PTX; WMMA's own call
# compiled to generic loads). The fp32 channels-last CUDA tests (with the accuracy test and graph capture), then the
# fp32 layer benchmark (model's picks, batch 1 and 32, against cuDNN with TF32 off).
set -u
. tools/gpu_common.sh
cuda_tests 90 tests/test_kernel_cuda.py -k "channels_last_fp32 or fp32_accuracy or graph_capture"
timeout 150 python3 tools/bench_layers.py --out "$R/layers_fp32" --dtypes fp32 --batches 1 32 --stack 4 \
  --iters 50 --repeats 3 2>&1 | quiet | tail -37
pack
