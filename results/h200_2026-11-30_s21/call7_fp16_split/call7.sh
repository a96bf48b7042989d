#!/usr/bin/env bash
# Session 21, call 7: an A/B against call 6 (same model, same picks): the fp16 WMMA kernel's warps also split reductions
# of >= 32 steps in stages with fewer tiles than warps (as the fp32 form does from 16). Its WMMA CUDA tests; the fp16
# layer bench at batch 1 on the 7x7-56x56 rows (marginal); ResNet-18 fp16 at batch 1.
set -u
mkdir -p tucker_onnx/_lib && xz -dc .libxz/libtucker_onnx_ops.so.xz > tucker_onnx/_lib/libtucker_onnx_ops.so
. tools/gpu_common.sh
cuda_tests 100 tests/test_kernel_cuda.py -k "wmma or chain"
timeout 100 python3 tools/bench_layers.py --out "$R/layers_fp16_b1" --dtypes fp16 --batches 1 --hw 56 28 14 7 --stack 4 \
  --marginal 16 --iters 50 --repeats 3 2>&1 | quiet | grep -E "^fp16|wrote"
pack
timeout 80 python3 tools/bench_models.py --out "$R/models_fp16_resnet18" --models resnet18 --batches 1 \
  --dtypes fp16 --graphs on 2>&1 | quiet | tail -3
pack
