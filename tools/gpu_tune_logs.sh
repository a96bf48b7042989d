#!/usr/bin/env bash
# Exhaustive-tuner logs of whole models (run through tools/device_env.sh, carrying .ortgpu, .whl and
# tucker_onnx/_lib): every config of every Tucker layer timed at the fused model's first run
# (TUCKER_ONNX_TUNE=exhaustive), with the model's pick beside it in each log line, for the shapes the TDC-shape logs
# lack (stride 2: ResNet-18's and ResNet-50's first layer of each stage). One log per model/type/batch, each run
# under its own limit; results re-packed into $OUT/r.tgz after every run. tools/fit_model.py reads the logs.
# At batch 1 a ResNet takes ~45 s; at batch 32 ResNet-18 logged 2 of its shapes in 170 s (session 34).
# A run longer than one call continues in the next: each run also keeps its tuned configs in $R/cache_<tag>.jsonl
# (the op appends every shape it tunes there, TUCKER_ONNX_CONFIG_CACHE), and TUNE_CACHE_IN=DIR (an earlier call's
# returned R folder, carried) starts each run from DIR/cache_<tag>.jsonl, so the shapes tuned before are not tuned
# again; the two calls' logs together (fit_model.load with both paths) cover the model.
# Usage: [TUNE_CACHE_IN=DIR] bash tools/device_env.sh bash tools/gpu_tune_logs.sh "MODEL:DTYPE:BATCH:SECONDS ..."
set -u
. tools/gpu_common.sh
for run in $1; do
  IFS=: read -r model dtype batch limit <<< "$run"
  tag="${model}_${dtype}_b${batch}"
  start=$(date +%s)
  cache="$R/cache_$tag.jsonl"
  if [ -n "${TUNE_CACHE_IN:-}" ] && [ -f "$TUNE_CACHE_IN/cache_$tag.jsonl" ]; then
    cp "$TUNE_CACHE_IN/cache_$tag.jsonl" "$cache"
    echo "$tag: $(wc -l < "$cache") shapes tuned by an earlier call"
  fi
  TUCKER_ONNX_CONFIG_CACHE="$cache" TUCKER_ONNX_CONFIG_LOG="$R/tune_$tag.jsonl" timeout "$limit" \
    python3 tools/bench_models.py --models "$model" \
    --batches "$batch" --dtypes "$dtype" --graphs on --repeats 30 --tune exhaustive --out "$R/models_$tag" 2>&1 \
    | quiet | grep "graph=" | tail -4  # bench_models.py's one line per timed row
  echo "$tag rc ${PIPESTATUS[0]} in $(( $(date +%s) - start )) s, $(wc -l < "$R/tune_$tag.jsonl" 2>/dev/null) shapes logged"
  gzip -f "$R/tune_$tag.jsonl" 2>/dev/null
  find "$R" -name '*.onnx' -delete  # the exported models (tens of MB) would push the results past what comes back
  pack
done
