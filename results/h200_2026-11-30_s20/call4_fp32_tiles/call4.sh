#!/usr/bin/env bash
# Session 20, call 4: the fp32 channels-last form's tiles and cluster K splits at batch 32 on five shapes (call 3's
# Nsight: the core stage of 384:192->96:384@14 ran 98 blocks at one block of 8 warps per SM, latency-bound; a K split
# doubles its blocks), next to the model's pick and the cuDNN triplet (TF32 off).
set -u
. tools/gpu_common.sh
export DTYPE=fp32
bench_configs "384:192->96:384@14" 32 6,64,128,256,5,64 6,128,64,256,5,64 6,64,64,256,5,64 6,64,64,256,5,128 \
  6,32,64,256,5,128 6,32,128,256,5,64
bench_configs "384:192->96:384@28" 32 6,64,128,256,5,64 6,128,64,256,5,64 6,64,64,256,5,64
bench_configs "384:192->160:384@7" 32 6,32,128,256,5,64 6,64,128,256,5,64 6,32,64,256,5,128 6,64,64,256,5,128 \
  6,64,64,256,5,256 6,32,64,256,5,256
bench_configs "256:128->96:256@14" 32 6,64,128,256,5,32 6,64,128,256,5,64 6,128,64,256,5,64 6,64,64,256,5,128
bench_configs "64:32->32:64@28" 32 6,32,128,256,5,32 6,64,128,256,5,32 6,32,64,256,5,32 6,32,128,256,1,64
bench_configs "64:32->32:64@56" 32 6,32,128,256,5,32 6,64,128,256,5,32 6,64,64,256,5,32 6,64,128,256,1,32
