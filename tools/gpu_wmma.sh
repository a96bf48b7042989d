#!/usr/bin/env bash
# One GPU call for work on the WMMA kernel (sessions 15-16: its cluster split, its persistent form): the CUDA tests
# (TESTS_K: a pytest -k filter; empty: the whole CUDA suite), optionally every WMMA config timed on the 18 TDC shapes at
# fp16 (LOG=1: `variant_log 4`), and the fp16 layer bench with the model's picks (BENCH=0 skips it). Run through
# tools/device_env.sh; results under $OUT/r.tgz.
. tools/gpu_common.sh
if [ -n "${TESTS_K:-}" ]; then cuda_tests ${TEST_SECS:-200} tests/test_kernel_cuda.py -k "$TESTS_K"
else cuda_tests ${TEST_SECS:-420}; fi
[ "${LOG:-0}" = 1 ] && DTYPES=fp16 BATCHES="${BATCHES:-1 32}" variant_log 4 ${LOG_SECS:-240}
if [ "${BENCH:-1}" = 1 ]; then
  timeout ${BENCH_SECS:-150} python3 tools/bench_layers.py --out "$R/layers_fp16" --dtypes fp16 --batches ${BATCHES:-1 32} \
    --stack 4 2>&1 | quiet | tail -45
  pack
fi
