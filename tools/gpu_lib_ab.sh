#!/usr/bin/env bash
# GPU machine: two or more builds of the custom-op library side by side, for changes that are compile-time (a ring
# depth, a store's width) and so cannot be switched at run time like TUCKER_ONNX_WGMMA. $LIBS names the builds, each
# carried as .libxz/<name>.so.xz (xz -c build/.../libtucker_onnx_ops.so); the first is the candidate. Runs the CUDA
# tests matching $TESTS on the first (none when empty; TESTS=all: the whole CUDA suite), per-kernel CUPTI traces of
# two large-rank layers at batch 32 ($TRACE_SHAPES, $TRACE_BATCH) under each build ($TRACE_CONFIGS forced, $TRACE_DTYPE), Nsight Compute on the
# first build's stages with $NCU set, and bench_layers.py ($BENCHES: dtype:batches[:tf32], as gpu_wgmma_check.sh)
# under each build in turn, the cuDNN triplet timed again in each as the run's control; with $MODELS, bench_models.py
# under the first. BENCH_ARGS: more bench_layers.py arguments (e.g. "--ab-env TUCKER_ONNX_WG_BM32=1": a run-time
# switch timed side by side with the default in each row). Usage:
#   LIBS="new old" TESTS="wgmma or staged_channels_last" bash tools/device_env.sh bash tools/gpu_lib_ab.sh
set -uo pipefail
. tools/gpu_common.sh
mkdir -p /tmp/libs tucker_onnx/_lib
# (PREBUILT=1: /tmp/libs/<name>.so are already there, built by tools/gpu_build_ab.sh)
[ -n "${PREBUILT:-}" ] || for l in $LIBS; do xz -dc ".libxz/$l.so.xz" > "/tmp/libs/$l.so"; done
first=${LIBS%% *}
cp "/tmp/libs/$first.so" tucker_onnx/_lib/libtucker_onnx_ops.so
# TESTS=all: the whole CUDA suite (tests/test_kernel_cuda.py and tests/test_tune.py)
if [ "${TESTS:-}" = all ]; then cuda_tests ${TEST_LIMIT:-300}
elif [ -n "${TESTS:-}" ]; then cuda_tests ${TEST_LIMIT:-200} tests/test_kernel_cuda.py -k "$TESTS"; fi
for l in $LIBS; do
  for cfg in ${TRACE_CONFIGS-6,64,128,256,4,32}; do
    shapes=()
    for sh in ${TRACE_SHAPES:-320:160->96:320@28 128:64->64:128@56}; do shapes+=(--shape "$sh"); done
    TUCKER_ONNX_LIBRARY=/tmp/libs/$l.so timeout 60 python3 tools/kernel_trace.py "${shapes[@]}" --batch ${TRACE_BATCH:-32} \
      --dtype ${TRACE_DTYPE:-fp16} --config "$cfg" --runs 10 \
      --out "$R/trace_${l}_${cfg//,/_}.json" 2>&1 | quiet | grep -E "Staged|shape" | cut -c1-120 | head -40
  done
done
pack
if [ -n "${NCU:-}" ]; then
  KERNEL=StagedNhwc ncu_layer "${first}_320" 150 --c 320 --r1 160 --r2 96 --hw 28 --batch 32 --dtype ${TRACE_DTYPE:-fp16} \
    --config "${TRACE_CONFIGS%% *}" --runs 4 | grep -E "StagedNhwc|Duration|L2 Cache Throughput|DRAM Through" | cut -c1-140
fi
for b in ${BENCHES-fp16:32}; do
  IFS=: read -r dt bs tf <<< "$b"
  for l in $LIBS; do
    echo "== $l $b"
    TUCKER_ONNX_LIBRARY=/tmp/libs/$l.so timeout ${BENCH_LIMIT:-110} python3 tools/bench_layers.py \
      --out "$R/layers_${l}_${dt}_b${bs/,/_}${tf:+_tf32}" --dtypes $dt --batches ${bs/,/ } ${tf:+--tf32} --stack 4 \
      --iters 30 --repeats 3 ${BENCH_ARGS:-} 2>&1 | quiet | tail -24
    pack
  done
done
# MODELS: bench_models.py under the first build, batch 1, fp16 and fp32 (TF32 off on both sides), CUDA graphs on
if [ -n "${MODELS:-}" ]; then
  timeout ${MODELS_LIMIT:-150} python3 tools/bench_models.py --models $MODELS --batches ${MODEL_BATCHES:-1} \
    --dtypes fp16 fp32 --graphs on --tf32 off --out "$R/models" 2>&1 | quiet | tail -30
  pack
fi
