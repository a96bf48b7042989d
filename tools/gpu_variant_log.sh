#!/usr/bin/env bash
# Timings of one kernel variant on every benchmark shape, for fitting the model's terms for it (tools/fit_model.py
# --merge): the layer benchmark under TUCKER_ONNX_TUNE=variant<V> (the model's pick plus every candidate of variant V
# is timed at each shape's first run) with the op's config log, fp32, batch 1 and 32, while nvidia-smi samples the SM
# clock (is the GPU at full clock during the short, launch-bound runs?). Run through tools/device_env.sh, carrying
# .ortgpu, .whl and tucker_onnx/_lib. DTYPES (default fp32) and BATCHES (default "1 32") pick the rows; CUDA_TESTS=1
# runs the CUDA kernel tests first (a new kernel checked and timed in one call; CUDA_TEST_IDS names a file of test
# ids to run instead of all of them).
# Usage: [DTYPES="fp32 fp16"] [CUDA_TESTS=1] bash tools/device_env.sh bash tools/gpu_variant_log.sh [V] [SECONDS]
set -u
V=${1:-5}
. tools/gpu_common.sh
[ "${CUDA_TESTS:-0}" = 1 ] && cuda_tests 200 ${CUDA_TEST_IDS:+$(cat "$CUDA_TEST_IDS")}
variant_log "$V" "${2:-300}"
