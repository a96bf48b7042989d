#!/usr/bin/env bash
# A kernel change checked and measured in one device call (through tools/device_env.sh, carrying .ortgpu, .whl and
# tucker_onnx/_lib built here for sm_90): the CUDA tests; tools/gpu_probe.sh's side-by-side grid-kernel builds
# ($BUILDS, no ncu); the layer benchmark with the analytical model's picks at each batch in $BATCHES (default
# "1 32"), fp32 and fp16; with MODELS set, the model benchmark at batch 1 (fp32, CUDA graphs on, --select with the
# quick tuner). Each step has a time limit; results are re-packed into $OUT/r.tgz after each.
# Usage: BUILDS="4:0 4:1" [MODELS="resnet18 resnet50"] bash tools/device_env.sh bash tools/gpu_kernel_check.sh [SECONDS_PER_LAYER_BENCH]
set -u
TL=${1:-150}
. tools/gpu_common.sh
cuda_tests 150
NCU=0 timeout 150 bash tools/gpu_probe.sh 2>&1 | tail -60; pack
for b in ${BATCHES:-1 32}; do
  timeout "$TL" python3 tools/bench_layers.py --batches "$b" --out "$R/layers_b$b" --stack 4 --iters 30 --repeats 3 2>&1 \
    | quiet | tail -45; pack
done
if [ -n "${MODELS:-}" ]; then
  timeout 200 python3 tools/bench_models.py --models $MODELS --batches 1 --dtypes fp32 --graphs on --select \
    --tune top16 --repeats 50 --out "$R/models_b1_top16_select" 2>&1 | quiet | tail -30; pack
fi
