#!/usr/bin/env bash
# Session 20, call 2: 3xTF32's split by bit masks instead of cvt.rna.tf32 (SplitTf32). The fp32 channels-last CUDA
# tests, the fp32 layer benchmark (model's picks, batch 1 and 32, against ORT's cuDNN triplet with TF32 off), and
# every nsplit-5 tile against the old FFMA pick on two batch-32 shapes where call 1's fp32 form lost to cuDNN.
set -u
. tools/gpu_common.sh
cuda_tests 150 tests/test_kernel_cuda.py -k "channels_last_fp32 or graph_capture"
timeout 240 python3 tools/bench_layers.py --out "$R/layers_fp32" --dtypes fp32 --batches 1 32 --stack 4 \
  --iters 50 --repeats 3 2>&1 | quiet | tail -45
pack
T5="6,32,64,256,5,32 6,64,64,256,5,32 6,32,128,256,5,32 6,64,128,256,5,32 6,128,64,256,5,32 6,128,128,256,5,32"
DTYPE=fp32 bench_configs "384:192->96:384@28" 32 $T5 6,32,128,256,1,64
DTYPE=fp32 bench_configs "384:192->96:384@14" 32 $T5 6,32,64,256,1,128
