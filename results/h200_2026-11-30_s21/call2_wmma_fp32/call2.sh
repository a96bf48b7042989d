#!/usr/bin/env bash
# Session 21, call 2: the WMMA kernel's fp32 form (variant 4, nsplit 3, 3xTF32). Its CUDA tests and the fp16 WMMA and
# fp32 channels-last tests beside it (their shared 3xTF32 header moved); every variant-4 config timed at fp32 on the
# 18 TDC shapes (batch 1 and 32) for the model's fit; the fp32 layer bench at batch 1 on the model's picks (marginal).
set -u
# (the library carried stripped in tucker_onnx/_lib)
. tools/gpu_common.sh
export NVIDIA_TF32_OVERRIDE=0
cuda_tests 200 tests/test_kernel_cuda.py -k "wmma or channels_last_fp32 or graph_capture or chain"
DTYPES=fp32 BATCHES="1 32" variant_log 4 170
timeout 170 python3 tools/bench_layers.py --out "$R/layers_fp32_b1" --dtypes fp32 --batches 1 --stack 4 --marginal 16 \
  --iters 50 --repeats 3 2>&1 | quiet | grep -E "^fp32|wrote"
pack
