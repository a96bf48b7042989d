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
DTYPES=${DTYPES:-fp16} BATCHES=${BATCHES:-32 1} variant_log 6 "${LOG_LIMIT:-300}"
