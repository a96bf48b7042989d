#!/usr/bin/env bash
# The GPU machine's standard call (run through tools/device_env.sh, carrying .ortgpu, .whl and tucker_onnx/_lib):
# the CUDA tests; the fixed cost of a cooperative launch and its grid barriers (tools/coop_floor.cu); the model
# benchmark at batch 1 (original vs Tucker unfused vs fused everywhere vs fused where
# `rewrite --measure` timed the fused op faster, with the fused op's configs from the quick tuner, CUDA graphs on);
# then the layer benchmark with the analytical model's picks. Every step has a time limit and results are re-packed
# into $OUT/r.tgz after each one, so a call stopped at its limit still returns what ran.
# Usage: bash tools/device_env.sh bash tools/gpu_session.sh [SECONDS_FOR_MODELS] [SECONDS_FOR_LAYERS] [MODELS...]
set -u
TM=${1:-180}; TL=${2:-170}; shift 2 || shift $#
MODELS=${*:-resnet18 vgg16_bn resnet50 densenet121}
. tools/gpu_common.sh
cuda_tests 120
# The grid kernel's fixed cost: cooperative launch and grid barriers, empty (results/NOTES.md, session 5).
nvcc -O3 -arch=sm_90 tools/coop_floor.cu -o /tmp/coop_floor && timeout 60 /tmp/coop_floor | tee "$R/coop_floor.md"; pack
timeout "$TM" python3 tools/bench_models.py --models $MODELS --batches 1 --dtypes fp32 --graphs on --select \
  --tune top16 --repeats 50 --out "$R/models_b1_top16_select" 2>&1 | quiet; pack
timeout "$TL" python3 tools/bench_layers.py --out "$R/layers_model_picks" --stack 4 --iters 30 --repeats 3 2>&1 \
  | quiet; pack
