#!/usr/bin/env bash
# The GPU machine's standard first call of a session (run through tools/device_env.sh, carrying .ortgpu, .whl and
# tucker_onnx/_lib): the CUDA tests, then the quick tuner (TUCKER_ONNX_TUNE=top<K>) against the model pick and the
# exhaustive tuner on a few shapes, then the layer benchmark under the quick tuner (session 4 measured the model
# picks: results/h200_2026-11-28_s4/layers_refit_picks). Every step has a time limit and results are re-packed into
# $OUT/r.tgz after each one, so a call stopped at its limit still returns what ran (the device returns at most 8
# files). Usage: bash tools/device_env.sh bash tools/gpu_session.sh [SECONDS_FOR_BENCH] [K]
set -u
R=/tmp/R
K=${2:-16}
mkdir -p "$R"
pack() { tar czf "$OUT/r.tgz" -C /tmp R; }
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > "$R/gpu.txt" 2>&1
timeout 150 python3 -m pytest -q -p no:cacheprovider --maxfail=40 tests/test_kernel_cuda.py tests/test_tune.py > "$R/cuda_tests.log" 2>&1
echo "cuda tests rc $?"; grep -E "^FAILED|passed|failed" "$R/cuda_tests.log" | tail -15; pack
# Offline (tools/fit_model.py --top), the best of the model's 16 cheapest configs is 4.6% from the tuned best in
# sample; these check that on the GPU, on shapes where the model pick and the tuned best differ most.
for s in "384:192->160:384@7" "128:64->64:128@28" "256:128->96:256@14"; do
  timeout 100 python3 tools/bench_configs.py --shape "$s" --quick 8 "$K" 32 --tune \
    --out "$R/quick_b1_${s//[^0-9]/_}" 2>&1 | grep -v -i "warn\|cudnn_fe"
done; pack
TUCKER_ONNX_TUNE=top$K timeout "${1:-200}" python3 tools/bench_layers.py --out "$R/layers_top$K" --stack 4 --kernels \
  --iters 50 --repeats 3 2>&1 | grep -v -i "warn\|cudnn_fe" | cut -c1-170; pack
