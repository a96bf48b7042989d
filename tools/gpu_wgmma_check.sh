#!/usr/bin/env bash
# GPU machine, session 23: the wgmma form of the channels-last staged family. The helper probe
# (tools/wgmma_probe.cu), the CUDA tests of the family (wgmma on and off, fp16 and TF32), per-kernel traces of one
# forced channels-last config with wgmma on and off, the layer bench with wgmma on and off side by side ($BENCHES),
# and, with VARIANT_LIMIT set, every variant-6 config timed at fp16 batch 32 (the best channels-last tile beside the
# model's pick), and with MODELS set the model benchmark. Usage: bash tools/device_env.sh bash tools/gpu_wgmma_check.sh
set -uo pipefail
mkdir -p tucker_onnx/_lib && xz -dc .libxz/libtucker_onnx_ops.so.xz > tucker_onnx/_lib/libtucker_onnx_ops.so
. tools/gpu_common.sh
nvcc -std=c++17 -arch=sm_90a -Icustom_ops/src/cuda tools/wgmma_probe.cu -o /tmp/wgmma_probe && /tmp/wgmma_probe > "$R/wgmma_probe.txt" 2>&1
tail -1 "$R/wgmma_probe.txt"
# TESTS=all: the whole CUDA suite (tests/test_kernel_cuda.py and tests/test_tune.py)
if [ "${TESTS:-}" = all ]; then cuda_tests ${TEST_LIMIT:-300}
else cuda_tests ${TEST_LIMIT:-200} tests/test_kernel_cuda.py -k "${TESTS:-wgmma or staged_channels_last or tf32 or graph}"; fi
for wg in ${TRACE_WG-1 0}; do
  TUCKER_ONNX_WGMMA=$wg timeout 60 python3 tools/kernel_trace.py --shape "320:160->96:320@28" --shape "128:64->64:128@56" \
    --batch 32 --dtype ${TRACE_DTYPE:-fp16} --config ${TRACE_CONFIG:-6,64,128,256,4,32} --runs 10 --out "$R/trace_wg$wg.json" 2>&1 | quiet \
    | grep -E "^\||Staged|shape" | head -30
done; pack
# BENCHES: dtype:batches[:tf32] runs of bench_layers.py --wgmma-ab, e.g. "fp16:32 fp32:32:tf32 fp32:1,32"
for b in ${BENCHES-fp16:32 fp32:32:tf32}; do
  IFS=: read -r dt bs tf <<< "$b"
  timeout ${BENCH_LIMIT:-110} python3 tools/bench_layers.py --out "$R/layers_${dt}_b${bs/,/_}${tf:+_tf32}" --dtypes $dt \
    --batches ${bs/,/ } ${tf:+--tf32} --stack 4 --iters 30 --repeats 3 --wgmma-ab 2>&1 | quiet | tail -40
  pack
done
[ -z "${VARIANT_LIMIT:-}" ] || DTYPES=fp16 BATCHES=32 variant_log 6 $VARIANT_LIMIT
# MODELS: bench_models.py at batch 1 and 32, fp16 and fp32 (TF32 off on both sides), CUDA graphs on, wgmma on
if [ -n "${MODELS:-}" ]; then
  timeout ${MODELS_LIMIT:-150} python3 tools/bench_models.py --models $MODELS --batches 1 32 --dtypes fp16 fp32 \
    --graphs on --tf32 off --out "$R/models" 2>&1 | quiet | tail -30
  pack
fi
