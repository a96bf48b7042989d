#!/usr/bin/env bash
# Exhaustive-tuner logs of whole models (run through tools/device_env.sh, carrying .ortgpu, .whl and
# tucker_onnx/_lib): every config of every Tucker layer timed at the fused model's first run
# (TUCKER_ONNX_TUNE=exhaustive), with the model's pick beside it in each log line, for the shapes the TDC-shape logs
# lack (stride 2: ResNet-18's and ResNet-50's first layer of each stage). One log per model/type/batch, each run
# under its own limit; results re-packed into $OUT/r.tgz after every run. tools/fit_model.py reads the logs.
# At batch 1 a ResNet takes ~45 s; at batch 32 ResNet-18 logged 2 of its shapes in 170 s (session 34).
# Usage: bash tools/device_env.sh bash tools/gpu_tune_logs.sh "MODEL:DTYPE:BATCH:SECONDS ..."
set -u
. tools/gpu_common.sh
for run in $1; do
  IFS=: read -r model dtype batch limit <<< "$run"
  tag="${model}_${dtype}_b${batch}"
  start=$(date +%s)
  TUCKER_ONNX_CONFIG_LOG="$R/tune_$tag.jsonl" timeout "$limit" python3 tools/bench_models.py --models "$model" \
    --batches "$batch" --dtypes "$dtype" --graphs on --repeats 30 --tune exhaustive --out "$R/models_$tag" 2>&1 \
    | quiet | grep "graph=" | tail -4  # bench_models.py's one line per timed row
  echo "$tag rc ${PIPESTATUS[0]} in $(( $(date +%s) - start )) s, $(wc -l < "$R/tune_$tag.jsonl" 2>/dev/null) shapes logged"
  gzip -f "$R/tune_$tag.jsonl" 2>/dev/null
  find "$R" -name '*.onnx' -delete  # the exported models (tens of MB) would push the results past what comes back
  pack
done
