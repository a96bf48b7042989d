#!/usr/bin/env bash
# One call for a new staged family: its CUDA tests (TESTS_K selects them, TEST_LIMIT seconds), its kernels traced
# against the cuDNN triplet with a forced config (TRACE_CONFIGS on TRACE_SHAPES, tools/kernel_trace.py), then every
# staged config timed on the benchmark shapes for the model fit (TUCKER_ONNX_TUNE=variant6, as gpu_variant_log.sh;
# DTYPES, BATCHES, LOG_LIMIT seconds). Run through tools/device_env.sh carrying .ortgpu, .whl and tucker_onnx/_lib.
set -u
. tools/gpu_common.sh
cuda_tests "${TEST_LIMIT:-150}" tests/test_kernel_cuda.py -k "${TESTS_K:-staged}"
args=()
for s in ${TRACE_SHAPES:-}; do args+=(--shape "$s"); done
for cfg in ${TRACE_CONFIGS:-}; do
  timeout 120 python3 tools/kernel_trace.py "${args[@]}" --batch "${TRACE_BATCH:-32}" --dtype fp16 --config "$cfg" \
    --out "$R/trace_${cfg//,/_}.json" 2>&1 | quiet > "$R/trace_${cfg//,/_}.txt"
  grep "us of kernels" "$R/trace_${cfg//,/_}.txt"; pack
done
nvidia-smi --query-gpu=timestamp,clocks.sm,clocks.mem,power.draw,utilization.gpu --format=csv -lms 250 > "$R/clocks.csv" 2>&1 &
smi=$!
TUCKER_ONNX_TUNE=variant6 TUCKER_ONNX_CONFIG_LOG="$R/variant6.jsonl" timeout "${LOG_LIMIT:-300}" \
  python3 tools/bench_layers.py --out "$R/layers_variant6" --dtypes ${DTYPES:-fp16} --batches ${BATCHES:-32 1} \
  --stack 4 --iters 20 --repeats 2 2>&1 | quiet | tail -40
kill $smi; pack
