#!/usr/bin/env bash
# Session 20, call 1: the channels-last family's fp32 form (nsplit 5, 3xTF32). The CUDA tests of the channels-last
# family (fp16 and fp32, graph capture), then the fp32 layer benchmark with the model's picks at batch 1 and 32
# against ORT's cuDNN triplet (TF32 off). Run from the repository root through tools/device_env.sh.
set -u
. tools/gpu_common.sh
cuda_tests 200 tests/test_kernel_cuda.py -k "channels_last or graph_capture or refuse"
timeout 300 python3 tools/bench_layers.py --out "$R/layers_fp32" --dtypes fp32 --batches 1 32 --stack 4 \
  --iters 50 --repeats 3 2>&1 | quiet | tail -45
pack
