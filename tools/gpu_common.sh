# Sourced by the GPU machine's call scripts (gpu_session.sh, gpu_kernel_check.sh, gpu_model_logs.sh,
# gpu_variant_log.sh): a fresh results folder $R (a warm machine keeps /tmp between calls: stale runs would block or mix in), `pack` (results into
# $OUT/r.tgz, after every step, so a call stopped at its limit still returns what ran), `quiet` (drops ORT's
# warnings), the card's name/driver/clock in $R/gpu.txt, and `cuda_tests SECONDS [TEST FILES]` (the CUDA kernel
# tests; by default tests/test_kernel_cuda.py and tests/test_tune.py).
export R=/tmp/R
rm -rf "$R"
mkdir -p "$R"
pack() { tar czf "$OUT/r.tgz" -C /tmp R; }
quiet() { grep -v -i "warn\|cudnn_fe" | cut -c1-200; }
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader > "$R/gpu.txt" 2>&1
cuda_tests() {
  local limit=$1; shift
  [ $# -gt 0 ] || set -- tests/test_kernel_cuda.py tests/test_tune.py
  timeout "$limit" python3 -m pytest -q -p no:cacheprovider --maxfail=40 "$@" > "$R/cuda_tests.log" 2>&1
  echo "cuda tests rc $?"; grep -E "^FAILED|^ERROR|passed|failed" "$R/cuda_tests.log" | tail -15; pack
}
