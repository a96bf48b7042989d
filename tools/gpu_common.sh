# Sourced by the GPU machine's call scripts (gpu_session.sh, gpu_kernel_check.sh, gpu_model_logs.sh,
# gpu_variant_log.sh): a fresh results folder $R (a warm machine keeps /tmp between calls: stale runs would block or mix in), `pack` (results into
# $OUT/r.tgz, after every step, so a call stopped at its limit still returns what ran), `quiet` (drops ORT's
# warnings), the card's name/driver/clock in $R/gpu.txt, `cuda_tests SECONDS [TEST FILES]` (the CUDA kernel
# tests; by default tests/test_kernel_cuda.py and tests/test_tune.py), `ncu_layer TAG SECONDS NCU_LAYER_ARGS...`
# (Nsight Compute on one layer's kernels matching $KERNEL, tools/ncu_layer.py, with per-phase instruction counts by
# tools/ncu_phases.py; NCU_SKIP launches skipped, then NCU_COUNT profiled, 3 and 3 by default: ncu_layer.py's --runs
# must exceed the launches skipped; NCU_SAMPLING=0 samples warp stalls
# every 32 cycles instead of ncu's automatic interval, for short kernels; NCU_CACHE=none keeps the caches warm
# between launches instead of flushing them) and `variant_log V SECONDS` (every
# config of variant V timed on the benchmark shapes while nvidia-smi samples the clocks) and `bench_configs SHAPE BATCH
# CONFIG...` (tools/bench_configs.py at $DTYPE, fp16 by default, stack 4: the forced configs, the model's pick and the
# cuDNN triplet on one shape, into $R/b<BATCH>_<shape>).
# R_KEEP=1 keeps what an earlier script of the same call wrote there (a script that sources this one again).
export R=/tmp/R
[ -n "${R_KEEP:-}" ] || rm -rf "$R"
mkdir -p "$R"
pack() { tar czf "$OUT/r.tgz" -C /tmp R; }
quiet() { grep -v -i "warn\|cudnn_fe" | cut -c1-200; }
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader > "$R/gpu.txt" 2>&1
cuda_tests() {
  local limit=$1; shift
  [ $# -gt 0 ] || set -- tests/test_kernel_cuda.py tests/test_tune.py
  timeout "$limit" python3 -m pytest -q -p no:cacheprovider --maxfail=40 "$@" > "$R/cuda_tests.log" 2>&1
  local rc=$?
  echo "cuda tests rc $rc"; grep -E "^FAILED|^ERROR|passed|failed" "$R/cuda_tests.log" | tail -15
  # rc 134 (SIGABRT) after a summary without failures: the process aborted at exit, after every test had run (the
  # exit crash of sessions 24, 25 and 27, unexplained), not a failed test
  if [ "$rc" = 134 ] && grep -qE "[0-9]+ passed" "$R/cuda_tests.log" &&
    ! grep -qE "[0-9]+ (failed|error)" "$R/cuda_tests.log"; then
    echo "cuda tests: all passed; the process then aborted at exit"
  fi
  pack
}
ncu_layer() {
  local tag=$1 limit=$2; shift 2
  timeout "$limit" ncu --clock-control none --kernel-name regex:${KERNEL:-Staged} --launch-skip ${NCU_SKIP:-3} \
    --launch-count ${NCU_COUNT:-3} \
    --warp-sampling-interval ${NCU_SAMPLING:-auto} --cache-control ${NCU_CACHE:-all} \
    --section SpeedOfLight --section WarpStateStats --section Occupancy --section LaunchStats \
    --section ComputeWorkloadAnalysis --section MemoryWorkloadAnalysis --section SchedulerStats \
    --section SourceCounters --import-source no \
    -o "$R/ncu_$tag" -f python3 tools/ncu_layer.py "$@" > "$R/ncu_$tag.log" 2>&1
  echo "$tag ncu rc $?"
  ncu -i "$R/ncu_$tag.ncu-rep" --page details > "$R/ncu_$tag.txt" 2>&1
  ncu -i "$R/ncu_$tag.ncu-rep" --page source --csv > "$R/ncu_${tag}_source.csv" 2>&1 &&
    python3 tools/ncu_phases.py "$R/ncu_${tag}_source.csv" > "$R/ncu_${tag}_phases.md" 2>&1
  grep -E "^  [A-Za-z]|Duration|Warp Cycles Per Issued|Stall|Achieved Occupancy|Registers Per|Issue Slots|Compute \(SM\) Throughput|Memory Throughput|L1/TEX Hit|L2 Hit|Shared|Bank" "$R/ncu_$tag.txt" | head -120
  pack
}
variant_log() {
  local v=$1 limit=$2
  nvidia-smi --query-gpu=timestamp,clocks.sm,clocks.mem,power.draw,utilization.gpu --format=csv -lms 250 > "$R/clocks.csv" 2>&1 &
  local smi=$!
  TUCKER_ONNX_TUNE=variant$v TUCKER_ONNX_CONFIG_LOG="$R/variant${v}.jsonl" timeout "$limit" \
    python3 tools/bench_layers.py --out "$R/layers_variant$v" --dtypes ${DTYPES:-fp32} --batches ${BATCHES:-1 32} \
    --stack 4 --iters 20 --repeats 2 2>&1 | quiet | tail -40
  kill $smi; pack
}
bench_configs() {
  local shape=$1 b=$2 dir; shift 2
  dir="$R/b${b}_$(echo "$shape" | tr ':>@-' '____')"
  timeout 60 python3 tools/bench_configs.py --shape "$shape" --batch "$b" --dtype "${DTYPE:-fp16}" --stack 4 \
    --configs "$@" --out "$dir" 2>&1 | quiet | grep "^|"
  pack
}
