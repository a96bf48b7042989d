#!/usr/bin/env bash
# Session 22, call 2: the TF32 mode of the fp32 tensor-core forms (TUCKER_ONNX_TF32=1). CUDA tests (TF32 mode, fp32
# forms, tuners), then the layer bench with TF32 on both sides (TuckerConv's TF32 mode vs cuDNN use_tf32 1) at batch 1
# and 32, and ResNet-18 / ResNet-50 at fp32 batch 1 with TF32 on both sides.
set -u
mkdir -p tucker_onnx/_lib && xz -dc .libxz/libtucker_onnx_ops.so.xz > tucker_onnx/_lib/libtucker_onnx_ops.so
. tools/gpu_common.sh
cuda_tests 200 tests/test_kernel_cuda.py -k "tf32 or exhaustive_tuner or quick_tuner or keeps_fp32 or wmma_fp32 or graph_capture"
timeout 170 python3 tools/bench_layers.py --tf32 --out "$R/layers_tf32_b1" --dtypes fp32 --batches 1 --stack 4 \
  --marginal 16 --iters 50 --repeats 3 2>&1 | quiet | grep -E "^fp32|wrote"
pack
timeout 90 python3 tools/bench_layers.py --tf32 --out "$R/layers_tf32_b32" --dtypes fp32 --batches 32 --stack 4 \
  --iters 30 --repeats 2 2>&1 | quiet | grep -E "^fp32|wrote"
pack
for m in resnet18 resnet50; do
  timeout 100 python3 tools/bench_models.py --out "$R/models_tf32_$m" --models $m --batches 1 --dtypes fp32 \
    --graphs on --tf32 on 2>&1 | quiet | tail -3
  pack
done
