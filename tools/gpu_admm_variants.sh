#!/usr/bin/env bash
# Issue-4 ADMM settings compared on the GPU machine (through tools/device_env.sh, carrying .whl, .data and
# tucker_onnx/_lib) at the budget of tools/gpu_train.sh: per seed, one run trains dense + decompose+fine-tune, then
# each ADMM variant starts from that run's dense model (`train --dense-weights ... --epochs 0`), so every variant
# is paired with the same dense model and the same decompose+fine-tune. Results re-packed into $OUT/r.tgz after
# every run; tools/variants_summary.py makes the table.
# Budget from the environment (defaults: tools/gpu_train.sh's): DENSE_EPOCHS=8, ADMM_EPOCHS=6, FT_EPOCHS=4 (decompose +
# fine-tune gets ADMM_EPOCHS + FT_EPOCHS); DISTILL=0.5 (the dense model's weight as teacher in every Tucker phase; 0
# trains both Tucker methods on the labels alone, as Yin et al. do).
# BASE_METHODS=dense trains only the dense model per seed (deterministic, so a later call retrains the same one): a
# budget too long for one call runs decompose+fine-tune in one call and the ADMM variants in the next.
# PARALLEL=1 runs the seeds side by side on the one GPU (a ResNet-18 on 28x28 images leaves most of an H200 idle).
# Usage: [RATIO=0.4] [DISTILL=0.5] [PARALLEL=1] bash tools/device_env.sh bash tools/gpu_admm_variants.sh "SEEDS" SECONDS_PER_RUN NAME1 "OPTS1" [NAME2 "OPTS2" ...]
set -u
seeds=$1; per=$2; shift 2
R=/tmp/R; rm -rf "$R"  # a warm machine keeps /tmp between calls: stale runs would block or mix in
mkdir -p "$R"
pack() {  # atomic and serialised: parallel seeds pack after each of their runs
  ( flock 9; tar czf "$OUT/r.tgz.tmp" -C /tmp --exclude='*.pt' --exclude='*.onnx' --exclude='.lock' R \
      && mv "$OUT/r.tgz.tmp" "$OUT/r.tgz" ) 9> "$R/.lock"
}
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > "$R/gpu.txt" 2>&1
common=(--model resnet18 --data fashion-mnist --data-dir .data/fashion-mnist --ratio "${RATIO:-0.4}"
        --admm-epochs "${ADMM_EPOCHS:-6}" --finetune-epochs "${FT_EPOCHS:-4}" --batch-size 256 --lr 0.1 --distill "${DISTILL:-0.5}" --no-export)
one_seed() {
  local s=$1 start name i opts args; shift
  start=$(date +%s)
  timeout "$per" python3 -m tucker_onnx.cli.main train "${common[@]}" --epochs "${DENSE_EPOCHS:-8}" --methods "${BASE_METHODS:-dense,decompose}" \
    --seed "$s" --out "$R/base/seed$s" > "$R/base_seed$s.txt" 2>&1
  echo "seed $s base rc $? in $(( $(date +%s) - start )) s"; grep -E "^\|" "$R/base_seed$s.txt" | tail -3; pack
  args=("$@")
  for ((i = 0; i < ${#args[@]}; i += 2)); do
    name=${args[i]}; read -r -a opts <<< "${args[i+1]}"
    start=$(date +%s)
    timeout "$per" python3 -m tucker_onnx.cli.main train "${common[@]}" --epochs 0 --methods dense,admm \
      --dense-weights "$R/base/seed$s/dense_final.pt" "${opts[@]}" --seed "$s" --out "$R/$name/seed$s" \
      > "$R/${name}_seed$s.txt" 2>&1
    echo "seed $s $name rc $? in $(( $(date +%s) - start )) s"; grep -E "^\| ADMM" "$R/${name}_seed$s.txt"; pack
  done
}
for s in $seeds; do
  if [ "${PARALLEL:-0}" = 1 ]; then one_seed "$s" "$@" & else one_seed "$s" "$@"; fi
done
wait
python3 tools/variants_summary.py "$R" | tee "$R/summary.md"; pack
