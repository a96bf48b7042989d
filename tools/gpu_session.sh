#!/usr/bin/env bash
# The GPU machine's standard first call of a session (run through tools/device_env.sh, carrying .ortgpu, .whl and
# tucker_onnx/_lib): the CUDA tests, then forced configs of the newest kernel variants side by side with the cuDNN
# triplet on a few shapes, then the layer benchmark with the model's picks. Every step has a time limit and
# results are re-packed into $OUT/r.tgz after each one, so a call stopped at its limit still returns what ran
# (the device returns at most 8 files). Usage: bash tools/device_env.sh bash tools/gpu_session.sh [SECONDS_FOR_BENCH]
set -u
R=/tmp/R
mkdir -p "$R"
pack() { tar czf "$OUT/r.tgz" -C /tmp R; }
nvidia-smi --query-gpu=name,driver_version --format=csv,noheader > "$R/gpu.txt" 2>&1
timeout 150 python3 -m pytest -q -p no:cacheprovider --maxfail=40 tests/test_kernel_cuda.py > "$R/cuda_tests.log" 2>&1
echo "cuda tests rc $?"; grep -E "^FAILED|passed|failed" "$R/cuda_tests.log" | tail -15; pack
# batch 1: staged vs unstaged cluster kernel; batch 32 fp16: the tensor-core kernel vs the model pick
for s in "64:32->32:64@7" "384:192->160:384@7" "256:128->96:256@14"; do
  timeout 60 python3 tools/bench_configs.py --shape "$s" --configs 3,1,7,512,16,64 3,1,7,512,16,32 3,2,7,512,8,64 \
    --out "$R/configs_b1_${s//[^0-9]/_}" 2>&1 | grep -v -i "warn\|cudnn_fe"
done; pack
for s in "128:64->64:128@56" "256:128->96:256@14" "384:192->160:384@7"; do
  timeout 60 python3 tools/bench_configs.py --shape "$s" --batch 32 --dtype fp16 --configs 4,8,8,256,1,32 \
    4,4,8,256,1,32 4,4,4,256,1,32 --out "$R/configs_b32_${s//[^0-9]/_}" 2>&1 | grep -v -i "warn\|cudnn_fe"
done; pack
timeout "${1:-200}" python3 tools/bench_layers.py --out "$R/layers" --stack 4 --kernels --iters 50 --repeats 3 2>&1 \
  | grep -v -i "warn\|cudnn_fe" | cut -c1-170; pack
