#!/usr/bin/env bash
# The GPU machine's standard first call of a session (run through tools/device_env.sh, carrying .ortgpu, .whl and
# tucker_onnx/_lib): the CUDA tests, then forced grid-kernel configs against the model pick, the quick tuner and
# the cuDNN triplet on two batch-1 shapes, then ResNet-18 and VGG-16 at batch 1 (original vs Tucker unfused vs
# fused, CUDA graphs on), then the layer benchmark with the model's picks. Every step has a time limit and results
# are re-packed into $OUT/r.tgz after each one, so a call stopped at its limit still returns what ran (the device
# returns at most 8 files). Usage: bash tools/device_env.sh bash tools/gpu_session.sh [SECONDS_FOR_LAYERS]
set -u
R=/tmp/R
mkdir -p "$R"
pack() { tar czf "$OUT/r.tgz" -C /tmp R; }
quiet() { grep -v -i "warn\|cudnn_fe" | cut -c1-200; }
nvidia-smi --query-gpu=name,driver_version,clocks.max.sm --format=csv,noheader > "$R/gpu.txt" 2>&1
timeout 170 python3 -m pytest -q -p no:cacheprovider --maxfail=40 tests/test_kernel_cuda.py tests/test_tune.py > "$R/cuda_tests.log" 2>&1
echo "cuda tests rc $?"; grep -E "^FAILED|^ERROR|passed|failed" "$R/cuda_tests.log" | tail -15; pack
for s in "64:32->32:64@7" "256:128->96:256@14"; do
  timeout 50 python3 tools/bench_configs.py --shape "$s" --quick 16 --configs 5,1,16,512,1,32 5,2,8,256,1,32 \
    5,4,4,256,1,32 5,1,1,128,1,32 5,2,2,256,2,32 --out "$R/configs_b1_${s//[^0-9]/_}" 2>&1 | quiet
done; pack
timeout 110 python3 tools/bench_models.py --models resnet18 vgg16_bn --batches 1 --dtypes fp32 --graphs on \
  --repeats 50 --out "$R/models_b1" 2>&1 | quiet; pack
timeout "${1:-200}" python3 tools/bench_layers.py --out "$R/layers_grid_picks" --stack 4 --kernels \
  --iters 50 --repeats 3 2>&1 | quiet; pack
