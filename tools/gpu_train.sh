#!/usr/bin/env bash
# Issue-4 trainer run on the GPU machine (through tools/device_env.sh, carrying .ortgpu, .whl and .data): one
# process per seed, one after another (seeds side by side on one GPU run 4-5x slower each), logs, tables and JSON
# re-packed into $OUT/r.tgz after every seed so a call stopped at its limit still returns the finished seeds.
# Usage: bash tools/device_env.sh bash tools/gpu_train.sh RATIO "SEEDS" [SECONDS_PER_SEED] [extra train options]
set -u
ratio=$1; seeds=$2; per=${3:-190}; shift 3 || shift $#
R=/tmp/R; rm -rf "$R"; run=$R/r${ratio}  # a warm machine keeps /tmp between calls
mkdir -p "$run"
pack() { tar czf "$OUT/r.tgz" -C /tmp --exclude='*.pt' --exclude='*.onnx' R; }
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > "$R/gpu.txt" 2>&1
for s in $seeds; do
  start=$(date +%s)
  timeout "$per" python3 -m tucker_onnx.cli.main train --model resnet18 --data fashion-mnist \
    --data-dir .data/fashion-mnist --ratio "$ratio" --epochs 8 --admm-epochs 6 --finetune-epochs 4 \
    --batch-size 256 --lr 0.1 --distill 0.5 --seed "$s" --out "$run/seed$s" "$@" > "$run/log_seed$s.txt" 2>&1
  echo "seed $s rc $? in $(( $(date +%s) - start )) s"; grep -E "^\|" "$run/log_seed$s.txt" | tail -6
  python3 tools/seeds_summary.py "$run" > /dev/null 2>&1; pack
done
python3 tools/seeds_summary.py "$run"
