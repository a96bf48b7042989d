#!/usr/bin/env bash
# Session 6's last combined call (through tools/device_env.sh, carrying .whl, .data and tucker_onnx/_lib): the grid
# kernel probe (tools/gpu_probe.sh), then ADMM vs decompose+fine-tune at ratio 0.25 for the given seeds
# (tools/gpu_admm_variants.sh), both packed into $OUT/r.tgz.
# Usage: bash tools/device_env.sh bash tools/gpu_probe_and_train.sh "SEEDS"
set -u
export R=/tmp/R2; rm -rf "$R"; mkdir -p "$R"
NCU_GROUP=2 bash tools/gpu_probe.sh
tar czf "$OUT/probe.tgz" -C "$R" probe
RATIO=0.25 bash tools/gpu_admm_variants.sh "$1" 150 ft01 "--admm-finetune-lr 0.01"
